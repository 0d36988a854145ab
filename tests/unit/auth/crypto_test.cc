// The OpenSSL wrappers against published vectors: RFC 4231 (HMAC-SHA256), FIPS 180-2 (SHA-256),
// RFC 4648 §10 (base64), and the strictness of the decoders.
#include "common/crypto.h"

#include <gtest/gtest.h>

namespace dnsd::common {
namespace {

TEST(CryptoTest, HmacSha256Rfc4231) {
  EXPECT_EQ(HexLower(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(HexLower(HmacSha256(std::string(20, '\x0b'), "Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(CryptoTest, Sha256AndMd5) {
  EXPECT_EQ(HexLower(Sha256Digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexLower(Md5Digest("abc")), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(CryptoTest, Base64Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    EXPECT_EQ(Base64Decode(encoded), plain) << encoded;
    std::string url = encoded;
    while (!url.empty() && url.back() == '=') url.pop_back();
    EXPECT_EQ(Base64UrlEncode(plain), url);
    EXPECT_EQ(Base64UrlDecode(url), plain) << url;
  }
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
}

TEST(CryptoTest, DecodersAreStrict) {
  EXPECT_FALSE(Base64Decode("Zg"));       // padding missing
  EXPECT_FALSE(Base64Decode("Zg=a"));     // padding in the middle
  EXPECT_FALSE(Base64Decode("Z g=="));    // whitespace
  EXPECT_FALSE(Base64Decode("Zh=="));     // stray bits after the data
  EXPECT_FALSE(Base64UrlDecode("Zg=="));  // padding in base64url
  EXPECT_FALSE(Base64UrlDecode("Zh"));    // stray bits
  EXPECT_FALSE(Base64UrlDecode("Z"));     // no encoding is one character long
  EXPECT_FALSE(Base64UrlDecode("+/8"));   // the standard alphabet's characters
}

TEST(CryptoTest, ConstantTimeEqualsAndRandom) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  const std::string a = RandomBytes(32), b = RandomBytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace dnsd::common
