// The audit trail: one log line per state-changing request (who, from where, what, on what),
// and one per refused request, on dnsd's log at info level with the prefix "audit". Config
// history records the same user (src_user) for config writes. Heartbeats and ephemeral
// instances (SDK churn, registered and dropped with their clients) are not audited. Refusals are
// limited to 100 lines a second, so a client hammering with bad tokens cannot flood the log; the
// metrics still count each. Thread-safety: callable from any thread.
#pragma once

#include <string_view>

namespace dnsd::auth {

// `user` is "" when auth is off (the source address is then all that identifies the caller).
void AuditWrite(std::string_view user, std::string_view source, std::string_view what,
                std::string_view target);
void AuditRefusal(std::string_view user, std::string_view source, std::string_view what,
                  std::string_view reason);

}  // namespace dnsd::auth
