#include "auth/audit.h"

#include <atomic>
#include <chrono>

#include "spdlog/spdlog.h"

namespace dnsd::auth {
namespace {

constexpr int kMaxRefusalLinesPerSecond = 100;
std::atomic<int64_t> refusal_second{0};
std::atomic<int> refusal_lines{0};

bool RefusalLineAllowed() {
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t second = refusal_second.load(std::memory_order_relaxed);
  if (second != now && refusal_second.compare_exchange_strong(second, now)) {
    refusal_lines.store(0, std::memory_order_relaxed);
  }
  return refusal_lines.fetch_add(1, std::memory_order_relaxed) < kMaxRefusalLinesPerSecond;
}

std::string_view OrDash(std::string_view s) { return s.empty() ? std::string_view("-") : s; }

}  // namespace

void AuditWrite(std::string_view user, std::string_view source, std::string_view what,
                std::string_view target) {
  spdlog::info("audit: user={} from={} {} {}", OrDash(user), OrDash(source), what, OrDash(target));
}

void AuditRefusal(std::string_view user, std::string_view source, std::string_view what,
                  std::string_view reason) {
  if (!RefusalLineAllowed()) return;
  spdlog::info("audit: refused user={} from={} {}: {}", OrDash(user), OrDash(source), what, reason);
}

}  // namespace dnsd::auth
