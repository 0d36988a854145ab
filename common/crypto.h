// Cryptographic primitives from OpenSSL (libcrypto), wrapped for dnsd's few needs: digests
// (MD5 for Nacos's config version tags, SHA-256), HMAC-SHA256 for token signatures, a
// comparison whose time does not depend on where two byte strings differ, the system's CSPRNG,
// and base64 in both alphabets (RFC 4648 §4 and §5). None of this is dnsd's own cryptography.
// Thread-safety: pure functions; OpenSSL 3 is thread-safe without set-up.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace dnsd::common {

std::array<uint8_t, 16> Md5Digest(std::string_view data);
std::array<uint8_t, 32> Sha256Digest(std::string_view data);
std::array<uint8_t, 32> HmacSha256(std::string_view key, std::string_view data);

// True when `a` and `b` are equal; the time taken depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// `n` bytes from the operating system's random source; aborts if it fails (nothing that asks
// for secret bytes may go on with predictable ones).
std::string RandomBytes(size_t n);

std::string HexLower(const uint8_t* data, size_t size);
template <size_t N>
std::string HexLower(const std::array<uint8_t, N>& bytes) {
  return HexLower(bytes.data(), N);
}

// Standard base64 with padding (RFC 4648 §4).
std::string Base64Encode(std::string_view data);
// Strict: padding required where the length needs it, no whitespace, no other characters.
std::optional<std::string> Base64Decode(std::string_view text);
// The URL-safe alphabet without padding (RFC 4648 §5), as JWTs use it (RFC 7515 §2).
std::string Base64UrlEncode(std::string_view data);
// Strict: no padding, no characters outside the alphabet, and no set bits past the data in
// the last character (so one token has exactly one spelling).
std::optional<std::string> Base64UrlDecode(std::string_view text);

}  // namespace dnsd::common
