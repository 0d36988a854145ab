// The access tokens Nacos hands out: JSON Web Tokens (RFC 7519) signed with HMAC-SHA256
// (RFC 7515 JWS, compact form), carrying the user name in "sub" and the expiry in "exp"
// (seconds since the epoch). Only HS256 is accepted: "none", any other algorithm, a "crit"
// header, a signature by another key, a payload or header changed after signing, a token
// spelled differently from how it was signed (padding, extra segments, stray base64 bits),
// a missing or non-integer "exp" and an expired token are all refused.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::auth {

inline constexpr size_t kMaxTokenBytes = 4096;

struct TokenClaims {
  std::string subject;  // the user name
  int64_t expires_at_s = 0;
};

std::string SignToken(std::string_view key, const TokenClaims& claims);
// kUnauthenticated with Nacos's wording: "token expired!" or "token invalid!: <why>".
absl::StatusOr<TokenClaims> VerifyToken(std::string_view key, std::string_view token,
                                        int64_t now_s);

}  // namespace dnsd::auth
