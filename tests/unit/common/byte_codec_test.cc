#include "common/byte_codec.h"

#include <gtest/gtest.h>

namespace dnsd::common {
namespace {

TEST(ByteCodecTest, RoundTripsEveryType) {
  ByteWriter w;
  w.PutU8(7);
  w.PutU32(0xdeadbeef);
  w.PutI64(-42);
  w.PutBool(true);
  w.PutDouble(0.25);
  w.PutString("héllo");
  const std::string bytes = w.Take();
  ByteReader r(bytes);
  uint8_t u8;
  uint32_t u32;
  int64_t i64;
  bool b;
  double d;
  std::string s;
  ASSERT_TRUE(r.GetU8(u8).ok());
  ASSERT_TRUE(r.GetU32(u32).ok());
  ASSERT_TRUE(r.GetI64(i64).ok());
  ASSERT_TRUE(r.GetBool(b).ok());
  ASSERT_TRUE(r.GetDouble(d).ok());
  ASSERT_TRUE(r.GetString(s).ok());
  EXPECT_EQ(u8, 7);
  EXPECT_EQ(u32, 0xdeadbeef);
  EXPECT_EQ(i64, -42);
  EXPECT_TRUE(b);
  EXPECT_EQ(d, 0.25);
  EXPECT_EQ(s, "héllo");
  EXPECT_TRUE(r.AtEnd());
}

TEST(ByteCodecTest, AStringWrittenInPlaceReadsLikeAPutString) {
  ByteWriter w;
  w.PutU8(1);
  const size_t outer = w.BeginString();
  w.PutU32(300);
  w.PutString(std::string(300, 'z'));  // a length past one byte, nested
  w.EndString(outer);
  const size_t empty = w.BeginString();
  w.EndString(empty);
  w.PutU8(2);
  const std::string bytes = w.Take();
  ByteReader r(bytes);
  uint8_t first, last;
  std::string inner, nothing;
  ASSERT_TRUE(r.GetU8(first).ok());
  ASSERT_TRUE(r.GetString(inner).ok());
  ASSERT_TRUE(r.GetString(nothing).ok());
  ASSERT_TRUE(r.GetU8(last).ok());
  EXPECT_TRUE(r.AtEnd());
  EXPECT_EQ(first, 1);
  EXPECT_EQ(last, 2);
  EXPECT_EQ(inner.size(), 4u + 4u + 300u);
  EXPECT_EQ(nothing, "");
  ByteReader nested(inner);
  uint32_t n;
  std::string zs;
  ASSERT_TRUE(nested.GetU32(n).ok());
  ASSERT_TRUE(nested.GetString(zs).ok());
  EXPECT_EQ(n, 300u);
  EXPECT_EQ(zs, std::string(300, 'z'));
}

TEST(ByteCodecTest, TruncatedInputIsAnErrorNotACrash) {
  ByteWriter w;
  w.PutString("abcdef");
  std::string bytes = w.Take();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    ByteReader r(std::string_view(bytes).substr(0, cut));
    std::string s;
    EXPECT_FALSE(r.GetString(s).ok()) << "cut at " << cut;
  }
}

TEST(ByteCodecTest, RejectsNonBooleanByte) {
  const std::string bytes(1, '\x02');
  ByteReader r(bytes);
  bool b;
  EXPECT_FALSE(r.GetBool(b).ok());
}

}  // namespace
}  // namespace dnsd::common
