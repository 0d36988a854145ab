#include "net/hpack.h"

#include <array>
#include <utility>

#include "common/strings.h"

namespace dnsd::net {
namespace {

#include "net/hpack_tables.inc"

constexpr size_t kEntryOverhead = 32;  // RFC 7541 4.1
constexpr uint64_t kStaticEntries = 61;

// Canonical Huffman decoding tables, rebuilt from the code lengths: for each code length,
// the first code of that length, how many symbols have it, and where they start in
// `symbols` (sorted by length, then symbol).
struct HuffmanTables {
  std::array<uint32_t, 31> first_code{};
  std::array<uint32_t, 31> count{};
  std::array<uint32_t, 31> first_index{};
  std::array<uint16_t, 257> symbols{};
  HuffmanTables() {
    for (uint8_t len : kHuffmanCodeLengths) ++count[len];
    uint32_t code = 0;
    uint32_t index = 0;
    for (int len = 1; len <= 30; ++len) {
      code = (code + count[len - 1]) << 1;
      first_code[len] = code;
      first_index[len] = index;
      index += count[len];
    }
    std::array<uint32_t, 31> next = first_index;
    for (int symbol = 0; symbol < 257; ++symbol) {
      symbols[next[kHuffmanCodeLengths[symbol]]++] = static_cast<uint16_t>(symbol);
    }
  }
};

const HuffmanTables& Huffman() {
  static const HuffmanTables tables;
  return tables;
}

// Reads an HPACK integer with an N-bit prefix (RFC 7541 5.1).
bool ReadInt(std::string_view& in, int prefix_bits, uint64_t& value) {
  if (in.empty()) return false;
  const uint8_t mask = static_cast<uint8_t>((1u << prefix_bits) - 1);
  value = static_cast<uint8_t>(in[0]) & mask;
  in.remove_prefix(1);
  if (value < mask) return true;
  int shift = 0;
  while (!in.empty()) {
    const uint8_t byte = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    if (shift > 56) return false;  // no header needs an integer this large
    value += static_cast<uint64_t>(byte & 0x7f) << shift;
    shift += 7;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

absl::Status ReadString(std::string_view& in, std::string& out) {
  if (in.empty()) return absl::InvalidArgumentError("HPACK: truncated string");
  const bool huffman = (static_cast<uint8_t>(in[0]) & 0x80) != 0;
  uint64_t length = 0;
  if (!ReadInt(in, 7, length)) return absl::InvalidArgumentError("HPACK: bad string length");
  if (length > in.size()) return absl::InvalidArgumentError("HPACK: string past the block");
  const std::string_view bytes = in.substr(0, length);
  in.remove_prefix(length);
  if (!huffman) {
    out.assign(bytes);
    return absl::OkStatus();
  }
  out.clear();
  return HuffmanDecode(bytes, out);
}

void AppendInt(std::string& out, uint8_t first_byte_flags, int prefix_bits, uint64_t value) {
  const uint64_t max = (1u << prefix_bits) - 1;
  if (value < max) {
    out.push_back(static_cast<char>(first_byte_flags | value));
    return;
  }
  out.push_back(static_cast<char>(first_byte_flags | max));
  value -= max;
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void AppendString(std::string& out, std::string_view s) {
  AppendInt(out, 0, 7, s.size());  // never Huffman: cheaper to write, and peers must accept it
  out.append(s);
}

}  // namespace

absl::Status HuffmanDecode(std::string_view in, std::string& out) {
  const HuffmanTables& t = Huffman();
  uint32_t code = 0;
  int len = 0;
  for (const char c : in) {
    const uint8_t byte = static_cast<uint8_t>(c);
    for (int bit = 7; bit >= 0; --bit) {
      code = (code << 1) | ((byte >> bit) & 1);
      ++len;
      if (len > 30) return absl::InvalidArgumentError("HPACK: bad Huffman code");
      if (code - t.first_code[len] < t.count[len]) {
        const uint16_t symbol = t.symbols[t.first_index[len] + code - t.first_code[len]];
        if (symbol == 256) return absl::InvalidArgumentError("HPACK: EOS in a Huffman string");
        out.push_back(static_cast<char>(symbol));
        code = 0;
        len = 0;
      }
    }
  }
  // Padding: at most 7 bits, all ones (the EOS prefix).
  if (len > 7 || code != (1u << len) - 1) {
    return absl::InvalidArgumentError("HPACK: bad Huffman padding");
  }
  return absl::OkStatus();
}

absl::Status HpackDecoder::Lookup(uint64_t index, const HeaderField** field) const {
  static const std::array<HeaderField, kStaticEntries> statics = [] {
    std::array<HeaderField, kStaticEntries> table;
    for (size_t i = 0; i < kStaticEntries; ++i) {
      table[i] = {std::string(kStaticTable[i].first), std::string(kStaticTable[i].second)};
    }
    return table;
  }();
  if (index == 0) return absl::InvalidArgumentError("HPACK: index 0");
  if (index <= kStaticEntries) {
    *field = &statics[index - 1];
    return absl::OkStatus();
  }
  if (index - kStaticEntries > dynamic_.size()) {
    return absl::InvalidArgumentError(common::StrCat("HPACK: index ", index, " past the table"));
  }
  *field = &dynamic_[index - kStaticEntries - 1];
  return absl::OkStatus();
}

void HpackDecoder::EvictTo(size_t limit) {
  while (size_ > limit && !dynamic_.empty()) {
    size_ -= dynamic_.back().name.size() + dynamic_.back().value.size() + kEntryOverhead;
    dynamic_.pop_back();
  }
}

void HpackDecoder::Insert(HeaderField field) {
  const size_t entry = field.name.size() + field.value.size() + kEntryOverhead;
  if (entry > max_size_) {  // RFC 7541 4.4: an entry larger than the table empties it
    EvictTo(0);
    return;
  }
  EvictTo(max_size_ - entry);
  size_ += entry;
  dynamic_.push_front(std::move(field));
}

absl::Status HpackDecoder::Decode(std::string_view in, std::vector<HeaderField>& out,
                                  size_t max_list_size) {
  size_t list_size = 0;
  bool fields_seen = false;
  while (!in.empty()) {
    const uint8_t first = static_cast<uint8_t>(in[0]);
    uint64_t index = 0;
    if (first & 0x80) {  // indexed field
      if (!ReadInt(in, 7, index)) return absl::InvalidArgumentError("HPACK: bad index");
      const HeaderField* field = nullptr;
      if (auto s = Lookup(index, &field); !s.ok()) return s;
      out.push_back(*field);
    } else if ((first & 0xe0) == 0x20) {  // dynamic table size update
      // RFC 7541 4.2: only at the start of a block.
      if (fields_seen) return absl::InvalidArgumentError("HPACK: late table size update");
      if (!ReadInt(in, 5, index)) return absl::InvalidArgumentError("HPACK: bad table size");
      if (index > settings_max_) {
        return absl::InvalidArgumentError("HPACK: table size above the announced limit");
      }
      max_size_ = index;
      EvictTo(max_size_);
      continue;
    } else {
      // Literal: with incremental indexing (01), never indexed (0001) or without (0000).
      const bool indexing = (first & 0xc0) == 0x40;
      if (!ReadInt(in, indexing ? 6 : 4, index)) {
        return absl::InvalidArgumentError("HPACK: bad name index");
      }
      HeaderField field;
      if (index == 0) {
        if (auto s = ReadString(in, field.name); !s.ok()) return s;
      } else {
        const HeaderField* named = nullptr;
        if (auto s = Lookup(index, &named); !s.ok()) return s;
        field.name = named->name;
      }
      if (auto s = ReadString(in, field.value); !s.ok()) return s;
      if (indexing) Insert(field);
      out.push_back(std::move(field));
    }
    fields_seen = true;
    list_size += out.back().name.size() + out.back().value.size() + kEntryOverhead;
    if (list_size > max_list_size) {
      return absl::ResourceExhaustedError("header list larger than SETTINGS_MAX_HEADER_LIST_SIZE");
    }
  }
  return absl::OkStatus();
}

void HpackAppendIndexed(std::string& out, uint32_t static_index) {
  AppendInt(out, 0x80, 7, static_index);
}

void HpackAppendLiteral(std::string& out, uint32_t name_index, std::string_view name,
                        std::string_view value) {
  AppendInt(out, 0x00, 4, name_index);  // literal without indexing
  if (name_index == 0) AppendString(out, name);
  AppendString(out, value);
}

}  // namespace dnsd::net
