// Files: whole small files read at start-up or by tools (keys, certificates, configs,
// archives), the CRC-32 that files written by us carry, and fsync of a path (a directory after
// a rename into it).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::common {

// The file's bytes; kInvalidArgument "cannot read <what> <path>" when it cannot be opened or
// read.
absl::StatusOr<std::string> ReadFileToString(const std::string& path, std::string_view what);

// The CRC-32 of zip, gzip and PNG (zlib's), of any length.
uint32_t Crc32(std::string_view data);

// Opens `path` with `flags` (O_RDONLY | O_DIRECTORY for a directory) and fsyncs it;
// kInternal "open|fsync <path>: <errno text>" when that fails.
absl::Status SyncPath(const std::string& path, int flags);

}  // namespace dnsd::common
