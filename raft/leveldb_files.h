// What the LevelDB-backed stores of this module (LogStore, RaftStorage) share: opening a
// database so that damage refuses the open instead of being skipped, and telling clients what
// went wrong without file paths.
// Thread-safety: pure functions.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace leveldb {
class DB;
class Env;
class Status;
}  // namespace leveldb

namespace dnsd::raft {

// Opens (creating if missing) with paranoid checks: a damaged record in the middle of the
// write-ahead file refuses the open, a torn one at its very end (a crash mid-write) is
// dropped by LevelDB. kUnavailable for I/O errors, kDataLoss for damage; both name `what`
// and `dir`. `env` nullptr: the real file system.
absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenLevelDb(const std::string& dir, leveldb::Env* env,
                                                         std::string_view what);

// A message for clients about a storage failure: what went wrong, without paths.
std::string StorageFailureMessage(const leveldb::Status& s);

}  // namespace dnsd::raft
