// Names the calling thread as `top -H`, perf and /proc/<pid>/task/*/comm show it, so that an
// operator (or a benchmark) can tell DNS workers from HTTP workers and the rest.
#pragma once

#include <pthread.h>

#include <string>

namespace dnsd::common {

// Linux keeps the first 15 characters.
inline void SetThreadName(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace dnsd::common
