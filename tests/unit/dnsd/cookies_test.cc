#include "dnsd/cookies.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace dnsd::dns {
namespace {

std::string Hex(const uint8_t* p, size_t n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out += kDigits[p[i] >> 4];
    out += kDigits[p[i] & 15];
  }
  return out;
}

void FromHex(const std::string& hex, uint8_t* out) {
  for (size_t i = 0; i < hex.size() / 2; ++i)
    out[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
}

sockaddr_storage V4(const char* ip) {
  sockaddr_storage ss{};
  auto& in = reinterpret_cast<sockaddr_in&>(ss);
  in.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &in.sin_addr);
  return ss;
}

// The SipHash paper's vector: key 00..0f, message 00..0e.
TEST(CookiesTest, SipHashMatchesTheReferenceVector) {
  uint8_t key[16], message[15];
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  for (int i = 0; i < 15; ++i) message[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(SipHash24(key, message, sizeof(message)), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(SipHash24(key, message, 0), 0x726fdb47dd0e0e31ULL);
}

// RFC 9018 appendix A.1: a client cookie and a server secret give this server cookie.
TEST(CookiesTest, ServerCookieMatchesRfc9018) {
  uint8_t secret[16], client_cookie[8], out[16];
  FromHex("e5e973e5a6b2a43f48e7dc849e37bfcf", secret);
  FromHex("2464c4abcf10c957", client_cookie);
  DnsCookies cookies(secret);
  cookies.Make(client_cookie, V4("198.51.100.100"), 1559731985, out);
  EXPECT_EQ(Hex(out, 16), "010000005cf79f111f8130c3eee29480");
}

TEST(CookiesTest, ValidOnlyForTheSameClientAddressAndRecentTime) {
  DnsCookies cookies;
  const uint8_t client_cookie[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  uint8_t server[16];
  const auto client = V4("192.0.2.1");
  cookies.Make(client_cookie, client, 1'000'000, server);
  EXPECT_TRUE(cookies.Valid(client_cookie, server, 16, client, 1'000'000));
  EXPECT_TRUE(cookies.Valid(client_cookie, server, 16, client, 1'000'000 + 3600));
  EXPECT_FALSE(cookies.Valid(client_cookie, server, 16, client, 1'000'000 + 3601)) << "too old";
  EXPECT_FALSE(cookies.Valid(client_cookie, server, 16, client, 1'000'000 - 301))
      << "from the future";
  EXPECT_FALSE(cookies.Valid(client_cookie, server, 16, V4("192.0.2.2"), 1'000'000));
  const uint8_t other_client[8] = {9, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_FALSE(cookies.Valid(other_client, server, 16, client, 1'000'000));
  EXPECT_FALSE(cookies.Valid(client_cookie, server, 8, client, 1'000'000)) << "wrong size";
  server[15] ^= 1;
  EXPECT_FALSE(cookies.Valid(client_cookie, server, 16, client, 1'000'000)) << "forged hash";
  DnsCookies other;  // another secret
  server[15] ^= 1;
  EXPECT_FALSE(other.Valid(client_cookie, server, 16, client, 1'000'000));
}

}  // namespace
}  // namespace dnsd::dns
