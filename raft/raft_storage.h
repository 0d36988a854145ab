// RaftStorage keeps what a Raft node must not forget on LevelDB: the hard state (term, vote,
// commit) and the log entries with their terms. Save() writes one Ready's worth in a single
// synced batch, so a vote or an acknowledgement is never sent for state a crash could lose,
// and the entries it replaces and the hard state change together or not at all.
//
// Layout: "H" -> term, vote, commit (8 bytes big-endian each); "E" + index (8 bytes
// big-endian) -> term (8 bytes big-endian) + command bytes; "F" -> the snapshot's index, term
// and configuration, when the log was compacted, with the size, CRC-32 and name of the file
// beside the database that holds the state machines' snapshot at that index
// (snapshot-<term>-<index>.raftsnap). The data is kept out of LevelDB because it is one value
// of tens to hundreds of MB, rewritten at every compaction: LevelDB copied it through its log,
// memtable, table blocks and background compactions (~250 MB of transient heap at 300,000
// instances). Written before the record, deleted after the next record replaces it. Older
// versions kept the data inline under "S"; that is still read.
//
// Failures: a failed Save closes the database at once (so LevelDB never writes good records
// behind the torn one its failed write may have left) and every later call fails until
// Reopen() succeeds. Reopening rolls the store back to what the last successful Save left:
// LevelDB's recovery drops a torn tail, and a batch that reached the file although its fsync
// failed is deleted, so a write its proposer was told failed never reappears. A marker file
// (ACKED_INDEX, best effort) carries the last good index over a restart that comes first.
// Load() verifies checksums and the log's shape (contiguous from 1, terms never decreasing,
// commit within the log) and names the directory when something is wrong.
//
// Thread-safety: one thread (the node's driver).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/raft_core.h"

namespace leveldb {
class DB;
class Env;
class WriteBatch;
}  // namespace leveldb

namespace dnsd::raft {

struct RaftStorageOptions {
  leveldb::Env* env = nullptr;  // nullptr: the real file system
};

class RaftStorage {
 public:
  static absl::StatusOr<std::unique_ptr<RaftStorage>> Open(const std::string& dir,
                                                           const RaftStorageOptions& options = {});
  ~RaftStorage();

  absl::StatusOr<RaftStorageState> Load() const;
  // The stored snapshot with its data (none: nullopt). The node keeps only a snapshot's index,
  // term and configuration in memory and reads the data back when a follower needs it.
  absl::StatusOr<std::optional<Snapshot>> LoadSnapshot() const;
  // A snapshot replaces the whole stored log; entries replace the stored ones from the first
  // entry's index on (later ones are deleted). One batch, synced unless `sync` is false (a
  // hard state whose only change is the commit index: losing that to a power cut is safe).
  absl::Status Save(const std::optional<Snapshot>& snapshot,
                    const std::optional<HardState>& hard_state, const std::vector<Entry>& entries,
                    bool sync = true);
  // Stores the snapshot and drops the entries it covers (log compaction).
  absl::Status Compact(const Snapshot& snapshot);
  // The same in two steps, so that the costly one can run off the driver thread.
  // WriteSnapshotFile writes the data to a file of its own (synced, renamed into place, the
  // directory synced) and returns the record that names it; it touches nothing but that file,
  // so it may run on another thread while this store goes on, provided no snapshot is saved
  // (Save), no store reopened (Reopen) and no other snapshot file written meanwhile (each
  // removes files no record names). CommitSnapshot then stores the record and drops the
  // entries up to `index`, on the driver thread.
  absl::StatusOr<std::string> WriteSnapshotFile(const Snapshot& snapshot) const;
  absl::Status CommitSnapshot(uint64_t index, const std::string& record);
  // After a failed write: reopens the database and rolls it back as described above. OK at
  // once when the store is open.
  absl::Status Reopen();
  bool is_open() const { return db_ != nullptr; }
  uint64_t first_index() const { return first_index_; }
  uint64_t last_index() const { return last_index_; }

 private:
  RaftStorage(std::string dir, RaftStorageOptions options, std::unique_ptr<leveldb::DB> db);
  // Deletes entries after `last` and, when given, rewrites the hard state; synced.
  absl::Status RollBack(uint64_t last, const std::optional<HardState>& hard_state);
  // Sets first/last index from what is stored.
  absl::Status ReadBounds();
  // The stored snapshot: the record under "F" and its file, or an older version's inline one.
  absl::StatusOr<std::optional<Snapshot>> ReadSnapshot() const;
  absl::StatusOr<std::string> ReadWholeFile(const std::string& path, uint64_t expected_size) const;
  // Deletes snapshot files the stored record does not name.
  void RemoveStaleSnapshotFiles() const;
  leveldb::Env* env() const;
  std::string dir_;
  RaftStorageOptions options_;
  std::unique_ptr<leveldb::DB> db_;
  absl::Status Write(leveldb::WriteBatch& batch, bool sync = true);
  HardState saved_hard_state_;  // as of the last successful write
  // What ReadBounds loaded, handed to the next Load() unless a write came between: the
  // snapshot in it can be hundreds of MB, read (and decompressed) once at start, not twice.
  mutable std::optional<RaftStorageState> loaded_;
  uint64_t first_index_ = 1;
  uint64_t last_index_ = 0;
};

}  // namespace dnsd::raft
