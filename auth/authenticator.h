// Authenticator: who a request comes from and whether they may do what it asks, the way
// Nacos's auth plugin decides it.
//
// - Credentials: an access token (a JWT this cluster signed, auth/jwt.h), or, as Nacos accepts
//   from its 1.x SDKs (the nacos npm SDK sends them with every request), a user name and
//   password. A verified password is remembered (under a keyed hash, never in clear) until the
//   token lifetime passes or any auth data changes, so a client sending its password with every
//   request costs one bcrypt, not one per request. Likewise a token's signature and claims are
//   checked once and remembered (its expiry and its user at every use).
// - Login checks a password and signs a token valid for `token_ttl_s`. A wrong user and a wrong
//   password get the same answer after the same work (a bcrypt of a stand-in hash), so login
//   does not tell which user names exist.
// - Authorize: a global admin may do everything; others what their roles' permissions grant on
//   the resource (auth/resource.h).
//
// Thread-safety: all methods from any thread.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "auth/auth_store.h"
#include "auth/jwt.h"
#include "auth/resource.h"
#include "common/clock.h"
#include "common/metrics.h"

namespace dnsd::auth {

inline constexpr size_t kMinSecretBytes = 32;

struct AuthOptions {
  bool enabled = false;
  std::string token_secret;      // raw key bytes (decoded), at least kMinSecretBytes when enabled
  int64_t token_ttl_s = 18'000;  // Nacos's default: 5 hours
};

// kInvalidArgument when auth is on without a usable secret.
absl::Status ValidateAuthOptions(const AuthOptions& options);

// Who a request comes from; what they may do is asked of the store at each check.
struct Identity {
  std::string username;
};

struct LoginResult {
  std::string token;
  int64_t ttl_s = 0;
  bool global_admin = false;
};

class Authenticator {
 public:
  Authenticator(AuthOptions options, const AuthStore& store, const common::Clock& clock,
                common::MetricsRegistry& metrics);

  bool enabled() const { return options_.enabled; }
  const AuthStore& store() const { return store_; }

  // kPermissionDenied "unknown user!" for a wrong name or password.
  absl::StatusOr<LoginResult> Login(std::string_view username, std::string_view password);
  // The token wins when present (as Nacos); otherwise the user name and password.
  // kUnauthenticated when neither is given or they do not check out.
  absl::StatusOr<Identity> Authenticate(std::string_view token, std::string_view username,
                                        std::string_view password);
  // kPermissionDenied when `who` may not do `action` on `resource`.
  absl::Status Authorize(const Identity& who, const Resource& resource, Action action);
  // kPermissionDenied unless `who` is a global admin (auth management, operator switches,
  // cluster membership).
  absl::Status RequireAdmin(const Identity& who);

 private:
  void CountFailure(std::string_view reason);
  bool CheckPassword(std::string_view username, std::string_view password);

  const AuthOptions options_;
  const AuthStore& store_;
  const common::Clock& clock_;
  common::MetricsRegistry& metrics_;
  const std::string cache_key_;   // random per process: keys the remembered passwords
  const std::string decoy_hash_;  // bcrypt of a random password, for unknown users
  common::Counter* logins_;

  struct Verified {
    uint64_t generation;
    int64_t until_ms;
  };
  std::mutex mu_;
  absl::flat_hash_map<std::string, Verified> verified_;  // keyed hash of (user, password)
  // Tokens whose signature checked out, with their claims: a token is immutable, so its
  // signature and JSON need checking once; the expiry and the user are checked at every use.
  absl::flat_hash_map<std::string, TokenClaims> verified_tokens_;
};

}  // namespace dnsd::auth
