// Durable auth commands: users, role bindings and permissions, replicated through the log
// like configs (node/log_entries.h tag 'A') and applied in log order by AuthStore::Apply on
// every member. Passwords travel only as bcrypt hashes, computed by the member that took the
// request. The encoding is versioned (auth_command.cc).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::auth {

enum class AuthOp : uint8_t {
  kCreateUser = 1,   // username, password_hash
  kSetPassword = 2,  // username, password_hash
  kDeleteUser = 3,   // username (and its role bindings)
  kBindRole = 4,     // role, username
  kUnbindRole = 5,   // role, username ("" = the whole role and its permissions)
  kGrant = 6,        // role, resource, action
  kRevoke = 7,       // role, resource, action
  kCreateAdmin = 8,  // username, password_hash: only while no user holds ROLE_ADMIN
};

inline constexpr std::string_view kAdminRole = "ROLE_ADMIN";

struct AuthCommand {
  AuthOp op = AuthOp::kCreateUser;
  std::string username;
  std::string password_hash;
  std::string role;
  std::string resource;
  std::string action;
};

std::string EncodeAuthCommand(const AuthCommand& command);
absl::StatusOr<AuthCommand> DecodeAuthCommand(std::string_view bytes);

}  // namespace dnsd::auth
