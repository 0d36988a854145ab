// Descriptor budget. dnsd raises its soft RLIMIT_NOFILE to the hard limit at start (the soft
// limit is often 1024 while the hard one is far higher), then sizes every connection cap
// below it, so that no listener can take the descriptors the log, the stores and the other
// listeners need. Thread-safety: call from main() before threads start.
#pragma once

#include <sys/resource.h>

#include <cstdint>

namespace dnsd::common {

// Raises the soft limit to the hard limit; returns the soft limit in force afterwards.
inline int64_t RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  // RLIM_INFINITY is not a count: cap what we plan with.
  constexpr rlim_t kPlanningCap = 1 << 20;
  return static_cast<int64_t>(limit.rlim_cur > kPlanningCap ? kPlanningCap : limit.rlim_cur);
}

}  // namespace dnsd::common
