// LogStore keeps the replicated log on LevelDB: entry i is stored under key "L" + 8-byte
// big-endian i, so LevelDB's ordering is log order. Appends are synchronous (fsync) batches:
// once Append returns OK the entries survive kill -9 and power loss.
//
// A failed append (ENOSPC, EIO, a failed fsync) leaves LevelDB's own write-ahead file in an
// unknown state: a partial record, and a writer whose idea of the file no longer matches
// the file. Writing on would put good records behind the torn one, which is the corruption
// that made a restart after a full disk fail. So a failed append closes the database at
// once (the torn record is then the file's tail, which recovery drops as a crash would) and
// the failed batch is rolled back: whenever the database is opened again, entries past the
// last acknowledged index are deleted (synced) before anything else is written. Until a
// reopen succeeds (the disk may still be full) appends fail fast with kUnavailable.
//
// Client-facing messages never carry file paths; the log line does.
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
class Env;
}  // namespace leveldb

namespace dnsd::raft {

struct LogStoreOptions {
  // Disk and file access; nullptr is LevelDB's default (the real file system). Tests pass a
  // fault-injecting Env.
  leveldb::Env* env = nullptr;
};

class LogStore {
 public:
  static absl::StatusOr<std::unique_ptr<LogStore>> Open(const std::string& dir,
                                                        const LogStoreOptions& options = {});
  ~LogStore();

  uint64_t last_index() const { return last_index_; }
  // Appends entries durably; returns the index of the first one. On error nothing of the
  // batch is acknowledged, and nothing of it will be found by a later open.
  absl::StatusOr<uint64_t> Append(const std::vector<std::string>& entries);
  // Visits entries from `from` (inclusive) in order, verifying checksums; stops at the first
  // error. A gap in the indexes is reported as kDataLoss.
  absl::Status ForEach(uint64_t from,
                       const std::function<absl::Status(uint64_t, std::string_view)>& fn) const;
  // False while the database is closed after a failed write.
  bool writable() const { return db_ != nullptr; }
  const std::string& dir() const { return dir_; }

 private:
  LogStore(std::string dir, const LogStoreOptions& options);
  absl::Status OpenDb();
  // Deletes entries past last_index_ (a batch that failed but reached the file).
  absl::Status RollBackUnacknowledged();

  std::string dir_;
  LogStoreOptions options_;
  std::unique_ptr<leveldb::DB> db_;
  uint64_t last_index_ = 0;
};

}  // namespace dnsd::raft
