// Password hashing with bcrypt, as Nacos stores its users' passwords ("$2a$10$..."), computed
// by libxcrypt (Debian's libcrypt), so hashes move between Nacos and dnsd unchanged.
// bcrypt reads at most 72 bytes of a password: longer ones are refused rather than cut short
// silently, as are passwords with a NUL byte (crypt stops at it).
// Thread-safety: pure functions (crypt_rn with a buffer per call).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::auth {

inline constexpr size_t kMaxPasswordBytes = 72;
// Nacos's BCryptPasswordEncoder strength: 2^10 rounds, tens of milliseconds per hash.
inline constexpr int kBcryptCost = 10;

// kInvalidArgument for an empty, too long or NUL-carrying password.
absl::Status CheckPasswordAcceptable(std::string_view password);
// A fresh salted "$2b$<cost>$..." hash.
absl::StatusOr<std::string> HashPassword(std::string_view password, int cost = kBcryptCost);
// True when `password` hashes to `stored` (a bcrypt hash: $2a$, $2b$ or $2y$). False for
// anything else, including a stored value that is not a bcrypt hash.
bool VerifyPassword(std::string_view password, std::string_view stored);
// A stored value dnsd accepts as a password hash (imported users: Nacos's $2a$ hashes).
bool IsBcryptHash(std::string_view stored);

}  // namespace dnsd::auth
