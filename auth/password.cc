#include "auth/password.h"

#include <crypt.h>

#include <memory>

#include "common/crypto.h"

namespace dnsd::auth {

absl::Status CheckPasswordAcceptable(std::string_view password) {
  if (password.empty()) return absl::InvalidArgumentError("the password is empty");
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError("the password is longer than 72 bytes (bcrypt's limit)");
  }
  if (password.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("the password contains a NUL byte");
  }
  return absl::OkStatus();
}

bool IsBcryptHash(std::string_view stored) {
  // "$2b$10$" + 22 characters of salt + 31 of hash.
  if (stored.size() != 60) return false;
  if (!(stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$"))) {
    return false;
  }
  return stored[6] == '$' && stored[4] >= '0' && stored[4] <= '3' && stored[5] >= '0' &&
         stored[5] <= '9';
}

absl::StatusOr<std::string> HashPassword(std::string_view password, int cost) {
  if (auto s = CheckPasswordAcceptable(password); !s.ok()) return s;
  const std::string entropy = common::RandomBytes(16);
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), entropy.data(),
                       static_cast<int>(entropy.size()), setting, sizeof setting) == nullptr) {
    return absl::InternalError("libcrypt could not make a bcrypt salt");
  }
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const char* hashed = crypt_rn(phrase.c_str(), setting, data.get(), sizeof(crypt_data));
  if (hashed == nullptr || !IsBcryptHash(hashed)) {
    return absl::InternalError("libcrypt could not hash the password");
  }
  return std::string(hashed);
}

bool VerifyPassword(std::string_view password, std::string_view stored) {
  if (!IsBcryptHash(stored) || !CheckPasswordAcceptable(password).ok()) return false;
  auto data = std::make_unique<crypt_data>();
  const std::string phrase(password);
  const std::string setting(stored);
  const char* hashed = crypt_rn(phrase.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  return hashed != nullptr && common::ConstantTimeEquals(hashed, stored);
}

}  // namespace dnsd::auth
