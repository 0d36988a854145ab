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
