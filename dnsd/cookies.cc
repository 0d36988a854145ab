#include "dnsd/cookies.h"

#include <netinet/in.h>
#include <sys/random.h>

#include <cstring>
#include <random>

namespace dnsd::dns {
namespace {

constexpr uint32_t kMaxAgeS = 3600;   // RFC 9018 §4.3: an hour in the past
constexpr uint32_t kMaxAheadS = 300;  // and five minutes in the future
constexpr uint8_t kCookieVersion = 1;

inline uint64_t Rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];  // little-endian
  return v;
}

struct SipState {
  uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  }
  void Absorb(uint64_t m) {
    v3 ^= m;
    Round();
    Round();
    v0 ^= m;
  }
};

// The hash input: client cookie | version | reserved | timestamp | client IP.
size_t HashInput(const uint8_t* client_cookie, const uint8_t* head, const sockaddr_storage& client,
                 uint8_t* out) {
  std::memcpy(out, client_cookie, 8);
  std::memcpy(out + 8, head, 8);
  if (client.ss_family == AF_INET) {
    std::memcpy(out + 16, &reinterpret_cast<const sockaddr_in&>(client).sin_addr, 4);
    return 20;
  }
  std::memcpy(out + 16, reinterpret_cast<const sockaddr_in6&>(client).sin6_addr.s6_addr, 16);
  return 32;
}

void PutTime(uint8_t* p, uint32_t t) {
  p[0] = static_cast<uint8_t>(t >> 24);
  p[1] = static_cast<uint8_t>(t >> 16);
  p[2] = static_cast<uint8_t>(t >> 8);
  p[3] = static_cast<uint8_t>(t);
}

}  // namespace

uint64_t SipHash24(const uint8_t key[16], const uint8_t* data, size_t size) {
  const uint64_t k0 = Load64(key), k1 = Load64(key + 8);
  SipState s{k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL, k0 ^ 0x6c7967656e657261ULL,
             k1 ^ 0x7465646279746573ULL};
  const size_t whole = size - size % 8;
  for (size_t i = 0; i < whole; i += 8) s.Absorb(Load64(data + i));
  uint64_t last = static_cast<uint64_t>(size & 0xFF) << 56;
  for (size_t i = 0; i < size % 8; ++i) last |= static_cast<uint64_t>(data[whole + i]) << (8 * i);
  s.Absorb(last);
  s.v2 ^= 0xFF;
  for (int i = 0; i < 4; ++i) s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

DnsCookies::DnsCookies() {
  if (getrandom(secret_, sizeof(secret_), 0) != sizeof(secret_)) {
    // getrandom does not fail for 16 bytes on any kernel we run on; never run without a secret.
    std::random_device device;
    for (auto& byte : secret_) byte = static_cast<uint8_t>(device());
  }
}

DnsCookies::DnsCookies(const uint8_t secret[16]) { std::memcpy(secret_, secret, sizeof(secret_)); }

void DnsCookies::Make(const uint8_t* client_cookie, const sockaddr_storage& client, uint32_t now_s,
                      uint8_t out[kServerCookieSize]) const {
  out[0] = kCookieVersion;
  out[1] = out[2] = out[3] = 0;
  PutTime(out + 4, now_s);
  uint8_t input[32];
  const size_t n = HashInput(client_cookie, out, client, input);
  const uint64_t hash = SipHash24(secret_, input, n);
  for (int i = 0; i < 8; ++i) out[8 + i] = static_cast<uint8_t>(hash >> (8 * i));
}

bool DnsCookies::Valid(const uint8_t* client_cookie, const uint8_t* server_cookie, size_t size,
                       const sockaddr_storage& client, uint32_t now_s) const {
  if (size != kServerCookieSize || server_cookie[0] != kCookieVersion) return false;
  const uint32_t made = static_cast<uint32_t>(server_cookie[4]) << 24 |
                        static_cast<uint32_t>(server_cookie[5]) << 16 |
                        static_cast<uint32_t>(server_cookie[6]) << 8 | server_cookie[7];
  // Serial-number arithmetic (RFC 1982) on the 32-bit time.
  const auto age = static_cast<int32_t>(now_s - made);
  if (age > static_cast<int32_t>(kMaxAgeS) || age < -static_cast<int32_t>(kMaxAheadS)) return false;
  uint8_t input[32];
  const size_t n = HashInput(client_cookie, server_cookie, client, input);
  const uint64_t hash = SipHash24(secret_, input, n);
  uint8_t expected[8];
  for (int i = 0; i < 8; ++i) expected[i] = static_cast<uint8_t>(hash >> (8 * i));
  // Constant time: the comparison does not tell how many bytes matched.
  uint8_t diff = 0;
  for (int i = 0; i < 8; ++i) diff |= expected[i] ^ server_cookie[8 + i];
  return diff == 0;
}

}  // namespace dnsd::dns
