// Process-wide logging set-up on spdlog. Call once at start-up, before threads start.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace dnsd::common {

// level: trace, debug, info, warn, error, critical, off.
absl::Status SetupLogging(std::string_view level);

}  // namespace dnsd::common
