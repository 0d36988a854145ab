#include "auth/authenticator.h"

#include <optional>

#include "auth/jwt.h"
#include "auth/password.h"
#include "common/crypto.h"
#include "common/strings.h"

namespace dnsd::auth {
namespace {

// Remembered verified passwords and tokens, each: beyond it the memory starts over.
constexpr size_t kMaxRememberedPasswords = 10'000;

std::string DecoyHash() {
  auto hash = HashPassword(common::HexLower(common::Sha256Digest(common::RandomBytes(16))));
  return hash.ok() ? *hash : std::string();
}

}  // namespace

absl::Status ValidateAuthOptions(const AuthOptions& options) {
  if (!options.enabled) return absl::OkStatus();
  if (options.token_secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(common::StrCat(
        "auth is enabled but auth.token_secret is missing or shorter than ", kMinSecretBytes,
        " bytes: set it to the base64 of at least ", kMinSecretBytes,
        " random bytes (e.g. `openssl rand -base64 32`), the same on every member"));
  }
  if (options.token_ttl_s <= 0) {
    return absl::InvalidArgumentError("auth.token_ttl_s must be positive");
  }
  return absl::OkStatus();
}

Authenticator::Authenticator(AuthOptions options, const AuthStore& store,
                             const common::Clock& clock, common::MetricsRegistry& metrics)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      metrics_(metrics),
      cache_key_(common::RandomBytes(32)),
      decoy_hash_(options_.enabled ? DecoyHash() : std::string()),
      logins_(&metrics.GetCounter("dnsd_auth_logins_total", "Successful logins")) {}

void Authenticator::CountFailure(std::string_view reason) {
  metrics_
      .GetCounter("dnsd_auth_failures_total",
                  "Requests refused by authentication or authorization, by reason",
                  common::StrCat("reason=\"", reason, "\""))
      .Inc();
}

bool Authenticator::CheckPassword(std::string_view username, std::string_view password) {
  const uint64_t generation = store_.generation();
  const auto mac =
      common::HmacSha256(cache_key_, common::StrCat(username, std::string_view("\0", 1), password));
  const std::string key(reinterpret_cast<const char*>(mac.data()), mac.size());
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(mu_);
    auto it = verified_.find(key);
    if (it != verified_.end()) {
      if (it->second.generation == generation && it->second.until_ms > now) return true;
      verified_.erase(it);
    }
  }
  const auto stored = store_.PasswordHashOf(username);
  // An unknown user costs the same bcrypt as a known one.
  const bool ok = VerifyPassword(password, stored ? *stored : decoy_hash_) && stored.has_value();
  if (!ok) return false;
  std::lock_guard lock(mu_);
  if (verified_.size() >= kMaxRememberedPasswords) verified_.clear();
  verified_[key] = Verified{generation, now + options_.token_ttl_s * 1000};
  return true;
}

absl::StatusOr<LoginResult> Authenticator::Login(std::string_view username,
                                                 std::string_view password) {
  if (username.empty() || !CheckPassword(username, password)) {
    CountFailure("bad_password");
    return absl::PermissionDeniedError("unknown user!");
  }
  logins_->Inc();
  LoginResult result;
  result.ttl_s = options_.token_ttl_s;
  result.global_admin = store_.IsGlobalAdmin(username);
  result.token =
      SignToken(options_.token_secret,
                TokenClaims{std::string(username), clock_.NowMs() / 1000 + options_.token_ttl_s});
  return result;
}

absl::StatusOr<Identity> Authenticator::Authenticate(std::string_view token,
                                                     std::string_view username,
                                                     std::string_view password) {
  if (!token.empty()) {
    const int64_t now_s = clock_.NowMs() / 1000;
    std::optional<TokenClaims> known;
    {
      std::lock_guard lock(mu_);
      if (auto it = verified_tokens_.find(absl::string_view(token.data(), token.size()));
          it != verified_tokens_.end()) {
        known = it->second;
      }
    }
    absl::StatusOr<TokenClaims> claims = known ? absl::StatusOr<TokenClaims>(*known)
                                               : VerifyToken(options_.token_secret, token, now_s);
    if (claims.ok() && claims->expires_at_s <= now_s) {
      claims = absl::UnauthenticatedError("token expired!");
    }
    if (claims.ok() && !known) {
      std::lock_guard lock(mu_);
      if (verified_tokens_.size() >= kMaxRememberedPasswords) verified_tokens_.clear();
      verified_tokens_.emplace(std::string(token), *claims);
    }
    if (!claims.ok()) {
      CountFailure(claims.status().message() == "token expired!" ? "expired_token" : "bad_token");
      return claims.status();
    }
    // A token outlives nothing: a deleted user's tokens stop working at once.
    if (!store_.UserExists(claims->subject)) {
      CountFailure("bad_token");
      return absl::UnauthenticatedError(common::StrCat("user ", claims->subject, " not found!"));
    }
    return Identity{claims->subject};
  }
  if (!username.empty() && !password.empty()) {
    if (!CheckPassword(username, password)) {
      CountFailure("bad_password");
      return absl::UnauthenticatedError("unknown user!");
    }
    return Identity{std::string(username)};
  }
  CountFailure("no_credentials");
  return absl::UnauthenticatedError("user not found!");
}

absl::Status Authenticator::Authorize(const Identity& who, const Resource& resource,
                                      Action action) {
  // A global admin is allowed everything by the store itself.
  if (store_.Allows(who.username, JoinResource(resource), action)) return absl::OkStatus();
  CountFailure("forbidden");
  return absl::PermissionDeniedError(
      common::StrCat("authorization failed!: ", who.username, " may not ",
                     action == Action::kRead ? "read " : "write ", JoinResource(resource)));
}

absl::Status Authenticator::RequireAdmin(const Identity& who) {
  if (store_.IsGlobalAdmin(who.username)) return absl::OkStatus();
  CountFailure("forbidden");
  return absl::PermissionDeniedError(
      common::StrCat("authorization failed!: ", who.username, " is not a global admin"));
}

}  // namespace dnsd::auth
