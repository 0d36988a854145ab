// ZIP archives (PKWARE APPNOTE 6.3) as Nacos's console exports configs: one entry per file.
// Written with deflate (zlib, raw), read with stored or deflated entries; CRC-32 checked on
// every entry read. No ZIP64, encryption or multi-disk archives (refused with a reason).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::ctl {

struct ZipEntry {
  std::string name;  // '/'-separated path
  std::string data;
};

std::string WriteZip(const std::vector<ZipEntry>& entries);
// kInvalidArgument naming what is wrong for bytes that are not such an archive.
absl::StatusOr<std::vector<ZipEntry>> ReadZip(std::string_view archive);

}  // namespace dnsd::ctl
