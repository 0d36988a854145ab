// Crash points for crash tests: `DNSD_CRASH_AT=<name>:<n>` in the environment makes the
// process kill itself with SIGKILL (exactly what kill -9 does) the n-th time it passes
// CrashPoint("<name>"). Tests use it to stop dnsd between every two steps of a write and
// check that the restart loses nothing acknowledged. Without the variable a crash point is
// one predictable branch.
// Thread-safety: CrashPoint may be called from any thread.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

namespace dnsd::common {

namespace crash_point_internal {
struct Target {
  std::string name;
  std::atomic<long> remaining{0};
  bool armed = false;
};
inline Target& TheTarget() {
  static Target* target = [] {
    auto* t = new Target;
    if (const char* spec = std::getenv("DNSD_CRASH_AT")) {
      const char* colon = std::strrchr(spec, ':');
      t->name = colon ? std::string(spec, colon) : std::string(spec);
      t->remaining = colon ? std::atol(colon + 1) : 1;
      t->armed = !t->name.empty() && t->remaining > 0;
    }
    return t;
  }();
  return *target;
}
}  // namespace crash_point_internal

inline void CrashPoint(const char* name) {
  auto& target = crash_point_internal::TheTarget();
  if (!target.armed || target.name != name) return;
  if (target.remaining.fetch_sub(1) == 1) kill(getpid(), SIGKILL);
}

}  // namespace dnsd::common
