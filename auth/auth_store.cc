// Snapshot layout (version 1): "dnsdauth", u8 version, u32 user count and (name, hash) pairs,
// u32 binding count and (role, user) pairs, u32 permission count and (role, resource, action).
#include "auth/auth_store.h"

#include <mutex>

#include "auth/password.h"
#include "common/byte_codec.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace dnsd::auth {
namespace {

constexpr std::string_view kMagic = "dnsdauth";
constexpr uint8_t kVersion = 1;
constexpr uint32_t kMaxRecords = 1u << 24;

}  // namespace

absl::Status AuthStore::Apply(const AuthCommand& command) {
  std::unique_lock lock(mu_);
  absl::Status result = ApplyLocked(command);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return result;
}

bool AuthStore::IsAdminLocked(std::string_view username) const {
  return bindings_.contains(RoleBinding{std::string(kAdminRole), std::string(username)});
}

bool AuthStore::RoleBoundLocked(std::string_view role) const {
  // Bindings are ordered by role first: the first binding at or after (role, "") tells.
  auto it = bindings_.lower_bound(RoleBinding{std::string(role), ""});
  return it != bindings_.end() && it->role == role;
}

absl::Status AuthStore::ApplyLocked(const AuthCommand& c) {
  using common::StrCat;
  switch (c.op) {
    case AuthOp::kCreateUser:
      if (c.username.empty() || !IsBcryptHash(c.password_hash)) {
        return absl::InvalidArgumentError("a user needs a name and a bcrypt password hash");
      }
      if (users_.contains(c.username)) {
        return absl::AlreadyExistsError(StrCat("user '", c.username, "' already exist!"));
      }
      users_.emplace(c.username, c.password_hash);
      return absl::OkStatus();
    case AuthOp::kSetPassword: {
      auto it = users_.find(c.username);
      if (it == users_.end()) {
        return absl::NotFoundError(StrCat("user ", c.username, " not exist!"));
      }
      if (!IsBcryptHash(c.password_hash)) {
        return absl::InvalidArgumentError("not a bcrypt password hash");
      }
      it->second = c.password_hash;
      return absl::OkStatus();
    }
    case AuthOp::kDeleteUser: {
      if (!users_.contains(c.username)) {
        return absl::NotFoundError(StrCat("user ", c.username, " not exist!"));
      }
      if (IsAdminLocked(c.username)) {
        return absl::FailedPreconditionError(StrCat("cannot delete admin: ", c.username));
      }
      users_.erase(c.username);
      std::erase_if(bindings_, [&](const RoleBinding& b) { return b.username == c.username; });
      return absl::OkStatus();
    }
    case AuthOp::kBindRole:
      if (c.role.empty() || c.role == kAdminRole) {
        return absl::InvalidArgumentError(
            StrCat("role '", c.role, "' is not permitted to create!"));
      }
      if (!users_.contains(c.username)) {
        return absl::NotFoundError(StrCat("user '", c.username, "' not found!"));
      }
      if (!bindings_.insert(RoleBinding{c.role, c.username}).second) {
        return absl::AlreadyExistsError(
            StrCat("user '", c.username, "' already bound to the role '", c.role, "'!"));
      }
      return absl::OkStatus();
    case AuthOp::kUnbindRole: {
      if (c.role == kAdminRole) {
        return absl::InvalidArgumentError("role 'ROLE_ADMIN' is not permitted to delete!");
      }
      size_t removed = 0;
      if (c.username.empty()) {
        removed = std::erase_if(bindings_, [&](const RoleBinding& b) { return b.role == c.role; });
        removed +=
            std::erase_if(permissions_, [&](const Permission& p) { return p.role == c.role; });
      } else {
        removed = bindings_.erase(RoleBinding{c.role, c.username});
      }
      if (removed == 0) return absl::NotFoundError(StrCat("role '", c.role, "' not found!"));
      return absl::OkStatus();
    }
    case AuthOp::kGrant: {
      if (!IsValidActionName(c.action) || c.resource.empty()) {
        return absl::InvalidArgumentError("a permission needs a resource and an action r, w or rw");
      }
      const bool role_known = std::any_of(bindings_.begin(), bindings_.end(),
                                          [&](const RoleBinding& b) { return b.role == c.role; });
      if (!role_known) return absl::NotFoundError(StrCat("role ", c.role, " not found!"));
      if (!permissions_.insert(Permission{c.role, c.resource, c.action}).second) {
        return absl::AlreadyExistsError("the permission already exists");
      }
      return absl::OkStatus();
    }
    case AuthOp::kRevoke:
      if (permissions_.erase(Permission{c.role, c.resource, c.action}) == 0) {
        return absl::NotFoundError("no such permission");
      }
      return absl::OkStatus();
    case AuthOp::kCreateAdmin: {
      if (RoleBoundLocked(kAdminRole)) {
        return absl::AlreadyExistsError("have admin user cannot use it");
      }
      if (c.username.empty() || !IsBcryptHash(c.password_hash)) {
        return absl::InvalidArgumentError("an admin needs a name and a bcrypt password hash");
      }
      users_[c.username] = c.password_hash;
      bindings_.insert(RoleBinding{std::string(kAdminRole), c.username});
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown auth command");
}

std::string AuthStore::Snapshot() const {
  std::shared_lock lock(mu_);
  common::ByteWriter w;
  for (char ch : kMagic) w.PutU8(static_cast<uint8_t>(ch));
  w.PutU8(kVersion);
  w.PutU32(static_cast<uint32_t>(users_.size()));
  for (const auto& [name, hash] : users_) {
    w.PutString(name);
    w.PutString(hash);
  }
  w.PutU32(static_cast<uint32_t>(bindings_.size()));
  for (const auto& b : bindings_) {
    w.PutString(b.role);
    w.PutString(b.username);
  }
  w.PutU32(static_cast<uint32_t>(permissions_.size()));
  for (const auto& p : permissions_) {
    w.PutString(p.role);
    w.PutString(p.resource);
    w.PutString(p.action);
  }
  return w.Take();
}

absl::Status AuthStore::Restore(std::string_view snapshot) {
  decltype(users_) users;
  decltype(bindings_) bindings;
  decltype(permissions_) permissions;
  if (!snapshot.empty()) {  // an empty part: a snapshot from before auth existed
    if (!snapshot.starts_with(kMagic)) return absl::DataLossError("not an auth snapshot");
    common::ByteReader r(snapshot.substr(kMagic.size()));
    uint8_t version = 0;
    DNSD_RETURN_IF_ERROR(r.GetU8(version));
    if (version != kVersion) return absl::DataLossError("unknown auth snapshot version");
    uint32_t n = 0;
    DNSD_RETURN_IF_ERROR(r.GetU32(n));
    if (n > kMaxRecords) return absl::DataLossError("auth snapshot too large");
    for (uint32_t i = 0; i < n; ++i) {
      std::string name, hash;
      DNSD_RETURN_IF_ERROR(r.GetString(name));
      DNSD_RETURN_IF_ERROR(r.GetString(hash));
      users.emplace(std::move(name), std::move(hash));
    }
    DNSD_RETURN_IF_ERROR(r.GetU32(n));
    if (n > kMaxRecords) return absl::DataLossError("auth snapshot too large");
    for (uint32_t i = 0; i < n; ++i) {
      RoleBinding b;
      DNSD_RETURN_IF_ERROR(r.GetString(b.role));
      DNSD_RETURN_IF_ERROR(r.GetString(b.username));
      bindings.insert(std::move(b));
    }
    DNSD_RETURN_IF_ERROR(r.GetU32(n));
    if (n > kMaxRecords) return absl::DataLossError("auth snapshot too large");
    for (uint32_t i = 0; i < n; ++i) {
      Permission p;
      DNSD_RETURN_IF_ERROR(r.GetString(p.role));
      DNSD_RETURN_IF_ERROR(r.GetString(p.resource));
      DNSD_RETURN_IF_ERROR(r.GetString(p.action));
      permissions.insert(std::move(p));
    }
    if (!r.AtEnd()) return absl::DataLossError("trailing bytes after the auth snapshot");
  }
  std::unique_lock lock(mu_);
  users_ = std::move(users);
  bindings_ = std::move(bindings);
  permissions_ = std::move(permissions);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return absl::OkStatus();
}

std::optional<std::string> AuthStore::PasswordHashOf(std::string_view username) const {
  std::shared_lock lock(mu_);
  auto it = users_.find(username);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

bool AuthStore::UserExists(std::string_view username) const {
  std::shared_lock lock(mu_);
  return users_.find(username) != users_.end();
}

bool AuthStore::IsGlobalAdmin(std::string_view username) const {
  std::shared_lock lock(mu_);
  return IsAdminLocked(username);
}

bool AuthStore::HasAdmin() const {
  std::shared_lock lock(mu_);
  return RoleBoundLocked(kAdminRole);
}

bool AuthStore::Allows(std::string_view username, std::string_view resource, Action action) const {
  std::shared_lock lock(mu_);
  if (users_.find(username) == users_.end()) return false;
  if (IsAdminLocked(username)) return true;
  for (const auto& b : bindings_) {
    if (b.username != username) continue;
    for (auto it = permissions_.lower_bound(Permission{b.role, "", ""});
         it != permissions_.end() && it->role == b.role; ++it) {
      if (ActionAllows(it->action, action) && PatternMatches(it->resource, resource)) return true;
    }
  }
  return false;
}

std::vector<std::string> AuthStore::Usernames() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(users_.size());
  for (const auto& [name, hash] : users_) out.push_back(name);
  return out;
}

std::vector<RoleBinding> AuthStore::Bindings() const {
  std::shared_lock lock(mu_);
  return {bindings_.begin(), bindings_.end()};
}

std::vector<Permission> AuthStore::Permissions() const {
  std::shared_lock lock(mu_);
  return {permissions_.begin(), permissions_.end()};
}

std::vector<std::string> AuthStore::RolesOf(std::string_view username) const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& b : bindings_) {
    if (b.username == username) out.push_back(b.role);
  }
  return out;
}

}  // namespace dnsd::auth
