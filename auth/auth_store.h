// AuthStore: the auth state machine. Users (name → bcrypt hash), role bindings (role, user)
// and permissions (role, resource pattern, action), in memory, rebuilt from the log and the
// Raft snapshot at every start like the registry's durable part. Apply is deterministic: every
// rule that can refuse a command (a user that exists, the admin that must not be deleted) is
// decided here, in log order, so every member reaches the same state and result.
//
// A user holding ROLE_ADMIN is a global admin: allowed everything. Others are allowed what a
// permission of one of their roles grants (auth/resource.h).
//
// Thread-safety: Apply, Snapshot and Restore on the apply thread; the queries from any thread
// (a reader lock).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "auth/auth_command.h"
#include "auth/resource.h"

namespace dnsd::auth {

struct RoleBinding {
  std::string role;
  std::string username;
  auto operator<=>(const RoleBinding&) const = default;
};

struct Permission {
  std::string role;
  std::string resource;
  std::string action;
  auto operator<=>(const Permission&) const = default;
};

class AuthStore {
 public:
  absl::Status Apply(const AuthCommand& command);
  std::string Snapshot() const;
  // kDataLoss for bytes that are not a snapshot (the store is unchanged then).
  absl::Status Restore(std::string_view snapshot);

  std::optional<std::string> PasswordHashOf(std::string_view username) const;
  bool UserExists(std::string_view username) const;
  bool IsGlobalAdmin(std::string_view username) const;
  bool HasAdmin() const;
  bool Allows(std::string_view username, std::string_view resource, Action action) const;

  // Sorted copies for the list APIs (auth data is small: users, not instances).
  std::vector<std::string> Usernames() const;
  std::vector<RoleBinding> Bindings() const;
  std::vector<Permission> Permissions() const;
  std::vector<std::string> RolesOf(std::string_view username) const;

  // Changes with every applied command and restore: caches of verified passwords compare it.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  absl::Status ApplyLocked(const AuthCommand& command);
  bool IsAdminLocked(std::string_view username) const;
  bool RoleBoundLocked(std::string_view role) const;  // some user holds it

  mutable std::shared_mutex mu_;
  std::map<std::string, std::string, std::less<>> users_;  // name -> bcrypt hash
  std::set<RoleBinding> bindings_;
  std::set<Permission> permissions_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace dnsd::auth
