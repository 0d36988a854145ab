#include "net/hpack.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dnsd::net {
namespace {

std::string Hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Pairs(const std::vector<HeaderField>& fields) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : fields) out.emplace_back(f.name, f.value);
  return out;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

// Bytes 0..255 in order, Huffman-coded by python3-hpack (an independent implementation).
constexpr std::string_view kAllBytesHuffman =
    "ffc7fffd8fffffe2fffffe3fffffe4fffffe5fffffe6fffffe7fffffe8ffffeafffffff3fffffa7fffffabffff"
    "ffdfffffebfffffecfffffedfffffeefffffefffffff0ffffff1ffffff2fffffffbfffffcffffffd3fffffd7ff"
    "fffdbfffffdffffffe3fffffe7fffffebfffffed4fe3f9ffaffcabf1febfafefe7fdfd2cbb00089969b71d79fb"
    "9f7fff20ffbff3ff50ddbd7f061c58f265cd9f469d5af66dddbf871e5f9cff7ff7fffc3ff9ffe45fff4719242c"
    "b34e6e9d68a6a3d7dac426defe3cfaf7fffbfe7ffbffdffffffcfffe6ffff4bfff9ffffa3fffd3ffff53fffd5f"
    "fffb3fffeb7fffdaffffb7ffff73fffeeffffdeffffebffffbfffffd9ffffdbfffebffffe0ffffeeffffc3ffff"
    "8bffff1ffffe4fffee7fffb1ffff97fffd9ffffcdffff9fffffbffffdafffeeffff4ffffb7fffee7fffe8ffffd"
    "3fffdeffffd5fffeeffffbdffffe1fffdfffff7fffff5ffffecffff07fff87fffe0ffff17fffedffff87ffff77"
    "fffeffffeaffff8bfffe3ffff93ffff87fffcbffff37ffff1fffff83ffffe1fffebfffe3ffff3fffff2ffffa3f"
    "fffd9fffff17ffffc7fffff27ffffdefffffbffffff2fffff8fffffb7fff97fff8fffffe6fffffc1fffff87fff"
    "fe7fffffc5ffffe5fffe4ffff2fffffd1fffff4ffffffefffffe3fffffc9fffff97fffb3ffffcffffb7fffcdff"
    "ff4ffff9ffffd1ffffcffffeaffffafffffddffffeffffff4fffff5fffffabffffa7ffffd7fffff9bffffecfff"
    "ffb7fffff3fffffe8fffffd3fffffabfffff5fffffff7ffffecfffffdbfffffbbfffff7ffffff0fffffbbf";

// RFC 7541 C.4: three requests on one connection, Huffman-coded, sharing the dynamic table.
TEST(Hpack, DecodesTheRfcRequestSequenceWithHuffman) {
  HpackDecoder decoder;
  std::vector<HeaderField> out;
  ASSERT_TRUE(decoder.Decode(Hex("828684418cf1e3c2e5f23a6ba0ab90f4ff"), out, 1 << 16).ok());
  EXPECT_EQ(Pairs(out), (Fields{{":method", "GET"},
                                {":scheme", "http"},
                                {":path", "/"},
                                {":authority", "www.example.com"}}));
  EXPECT_EQ(decoder.table_size(), 57u);

  out.clear();
  ASSERT_TRUE(decoder.Decode(Hex("828684be5886a8eb10649cbf"), out, 1 << 16).ok());
  EXPECT_EQ(Pairs(out), (Fields{{":method", "GET"},
                                {":scheme", "http"},
                                {":path", "/"},
                                {":authority", "www.example.com"},
                                {"cache-control", "no-cache"}}));
  EXPECT_EQ(decoder.table_size(), 110u);

  out.clear();
  ASSERT_TRUE(
      decoder.Decode(Hex("828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"), out, 1 << 16).ok());
  EXPECT_EQ(Pairs(out), (Fields{{":method", "GET"},
                                {":scheme", "https"},
                                {":path", "/index.html"},
                                {":authority", "www.example.com"},
                                {"custom-key", "custom-value"}}));
  EXPECT_EQ(decoder.table_size(), 164u);
  EXPECT_EQ(decoder.table_entries(), 3u);
}

TEST(Hpack, HuffmanDecodesEveryByteValue) {
  std::string out;
  ASSERT_TRUE(HuffmanDecode(Hex(kAllBytesHuffman), out).ok());
  ASSERT_EQ(out.size(), 256u);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(static_cast<uint8_t>(out[i]), i);
}

TEST(Hpack, HuffmanChecksPaddingAndEos) {
  std::string out;
  ASSERT_TRUE(HuffmanDecode(Hex("1f"), out).ok());  // 'a' = 00011, then padding 111
  EXPECT_EQ(out, "a");
  out.clear();
  EXPECT_FALSE(HuffmanDecode(Hex("18"), out).ok()) << "padding must be ones";
  out.clear();
  EXPECT_FALSE(HuffmanDecode(Hex("1fff"), out).ok()) << "more than 7 padding bits";
  out.clear();
  EXPECT_FALSE(HuffmanDecode(Hex("fffffffc"), out).ok()) << "EOS inside the string";
}

TEST(Hpack, EvictsOldestEntriesAndHonoursSizeUpdates) {
  HpackDecoder decoder(100);
  std::vector<HeaderField> out;
  std::string block;
  // Literal with incremental indexing, new name: 0x40, name, value (no Huffman).
  auto literal = [](std::string_view name, std::string_view value) {
    std::string b(1, '\x40');
    b.push_back(static_cast<char>(name.size()));
    b.append(name);
    b.push_back(static_cast<char>(value.size()));
    b.append(value);
    return b;
  };
  ASSERT_TRUE(decoder.Decode(literal("aaaa", "1111"), out, 1 << 16).ok());  // 40 bytes
  ASSERT_TRUE(decoder.Decode(literal("bbbb", "2222"), out, 1 << 16).ok());  // 80
  ASSERT_TRUE(decoder.Decode(literal("cccc", "3333"), out, 1 << 16).ok());  // evicts aaaa
  EXPECT_EQ(decoder.table_entries(), 2u);
  out.clear();
  ASSERT_TRUE(decoder.Decode(Hex("bebf"), out, 1 << 16).ok());  // 62 = newest, 63 = older
  EXPECT_EQ(Pairs(out), (Fields{{"cccc", "3333"}, {"bbbb", "2222"}}));
  out.clear();
  EXPECT_FALSE(decoder.Decode(Hex("c0"), out, 1 << 16).ok()) << "index 64 is past the table";

  // A size update to 0 empties the table; one above the announced limit is an error.
  ASSERT_TRUE(decoder.Decode(Hex("20"), out, 1 << 16).ok());
  EXPECT_EQ(decoder.table_entries(), 0u);
  EXPECT_FALSE(HpackDecoder(100).Decode(Hex("3f46"), out, 1 << 16).ok());  // 31 + 70 = 101
  // ... and only at the start of a block.
  EXPECT_FALSE(HpackDecoder().Decode(Hex("8220"), out, 1 << 16).ok());
}

TEST(Hpack, RejectsMalformedBlocks) {
  std::vector<HeaderField> out;
  EXPECT_FALSE(HpackDecoder().Decode(Hex("80"), out, 1 << 16).ok()) << "index 0";
  EXPECT_FALSE(HpackDecoder().Decode(Hex("ffffffffffffffffffff01"), out, 1 << 16).ok())
      << "integer overflow";
  EXPECT_FALSE(HpackDecoder().Decode(Hex("ff"), out, 1 << 16).ok()) << "integer never ends";
  EXPECT_FALSE(HpackDecoder().Decode(Hex("400a61"), out, 1 << 16).ok()) << "string past the end";
  EXPECT_FALSE(HpackDecoder().Decode(Hex("40"), out, 1 << 16).ok()) << "missing name";
  // A header list larger than allowed.
  EXPECT_EQ(HpackDecoder().Decode(Hex("828684"), out, 60).code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(Hpack, EncoderOutputDecodes) {
  std::string block;
  HpackAppendIndexed(block, 8);
  HpackAppendLiteral(block, 31, "", "application/grpc");
  HpackAppendLiteral(block, 0, "grpc-message", std::string(300, 'm'));  // multi-byte length
  HpackDecoder decoder;
  std::vector<HeaderField> out;
  ASSERT_TRUE(decoder.Decode(block, out, 1 << 16).ok());
  EXPECT_EQ(Pairs(out), (Fields{{":status", "200"},
                                {"content-type", "application/grpc"},
                                {"grpc-message", std::string(300, 'm')}}));
  EXPECT_EQ(decoder.table_entries(), 0u) << "the encoder never asks the peer to index";
}

}  // namespace
}  // namespace dnsd::net
