// Whole small files read at start-up or by tools (keys, certificates, configs, archives).
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::common {

// The file's bytes; kInvalidArgument "cannot read <what> <path>" when it cannot be opened or
// read.
absl::StatusOr<std::string> ReadFileToString(const std::string& path, std::string_view what);

}  // namespace dnsd::common
