// LogStore keeps the replicated log on LevelDB: entry i is stored under key "L" + 8-byte
// big-endian i, so LevelDB's ordering is log order. Appends are synchronous (fsync) batches:
// once Append returns OK the entries survive kill -9 and power loss.
//
// Thread-safety: Append and ForEach may be called from one thread at a time (the driver's).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace leveldb {
class DB;
}

namespace dnsd::raft {

class LogStore {
 public:
  static absl::StatusOr<std::unique_ptr<LogStore>> Open(const std::string& dir);
  ~LogStore();

  uint64_t last_index() const { return last_index_; }
  // Appends entries durably; returns the index of the first one.
  absl::StatusOr<uint64_t> Append(const std::vector<std::string>& entries);
  // Visits entries from `from` (inclusive) in order; stops at the first error.
  absl::Status ForEach(uint64_t from,
                       const std::function<absl::Status(uint64_t, std::string_view)>& fn) const;

 private:
  explicit LogStore(std::unique_ptr<leveldb::DB> db);
  std::unique_ptr<leveldb::DB> db_;
  uint64_t last_index_ = 0;
};

}  // namespace dnsd::raft
