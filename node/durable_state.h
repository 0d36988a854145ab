// The durable state of one node: its Raft log (the source of truth; a single node is a Raft
// group of one) and the config store (a state machine kept on disk, derived from the log).
// Opening checks them against each other before anything is served:
// - the Raft log opens with paranoid checks and its shape is verified (RaftStorage); on a
//   single node damage refuses start-up with a message naming the directory and pointing at
//   `dnsd repair` (WithRepairHint), a cluster member is told to rejoin (kRejoinAdvice);
// - a config store whose files are damaged is moved aside (config.damaged-<time>) and rebuilt
//   from the snapshot and the log by the replay that follows;
// - a config store that has applied more entries than the log holds proves the log lost
//   acknowledged writes: start-up is refused rather than serving a state the log cannot
//   reproduce (new entries would reuse indexes the store had already applied).
// A single node's log from before Raft is migrated (MigrateLegacyLog). RepairDataDir is the
// operator's tool for a single node's refusals (`dnsd repair`).
//
// Thread-safety: call before the node starts; the stores then follow their own contracts.
#pragma once

#include <memory>
#include <ostream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/config_store.h"
#include "raft/log_store.h"
#include "registry/registry.h"

namespace leveldb {
class Env;
}

namespace dnsd::node {

// What a cluster member whose own data cannot be trusted must do. Not "start it empty in
// place": a voter that forgot its disk could forget a vote it gave in the current term; a
// learner votes for nobody until it is promoted.
inline constexpr std::string_view kRejoinAdvice =
    "remove this node from the cluster (DELETE /dnsd/v1/cluster/members on another member), "
    "move its data directory aside, start it with --join and add it again; it then copies the "
    "state from the leader";

struct DurableStateOptions {
  leveldb::Env* env = nullptr;  // nullptr: the real file system
};

// Where a node keeps its Raft log: a cluster member in `raft`, a single node (a one-member
// group of its own, Raft id 1) in `raft-standalone`. One kind of directory is refused by the
// other: a member's log names its voters by address hash, a single node's by the fixed id.
inline constexpr std::string_view kClusterRaftDir = "raft";
inline constexpr std::string_view kStandaloneRaftDir = "raft-standalone";
// A single node's log before it ran on Raft (raft::LogStore), migrated at the first start.
inline constexpr std::string_view kLegacyLogDir = "log";

// A node's state: the config store (its Raft log is opened by RaftNode in `raft_dir`). A
// damaged store is moved aside (config.damaged-<time>) and rebuilt from the Raft snapshot and
// log (a single node's snapshots carry the config store; a member's do not, see
// CheckClusterState); a directory of the other kind is refused.
// Held while the node runs: a second dnsd on the same directory is refused at start.
struct DataDirLock {
  explicit DataDirLock(int fd) : fd(fd) {}
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();
  int fd;
};

struct ClusterState {
  std::unique_ptr<DataDirLock> lock;
  std::string raft_dir;
  std::unique_ptr<config::ConfigStore> config;
  std::string config_moved_to;
};
absl::StatusOr<ClusterState> OpenClusterState(const std::string& data_dir,
                                              const DurableStateOptions& options = {});
absl::StatusOr<ClusterState> OpenStandaloneState(const std::string& data_dir,
                                                 const DurableStateOptions& options = {});
// After the Raft log is loaded: refuses a config store that applied more than the log holds
// (the log lost acknowledged writes), telling a member to rejoin and a single node to repair.
absl::Status CheckClusterState(const config::ConfigStore& config, const std::string& raft_dir,
                               uint64_t raft_last_index, bool standalone = false);
// What to tell the operator of a single node whose Raft log is damaged.
std::string RepairHint(const std::string& data_dir);
// A single node's failure to open its Raft log, with RepairHint added when it is damage.
absl::Status WithRepairHint(const absl::Status& status, const std::string& data_dir);

// A single node's data directory from before Raft (`log/`, see kLegacyLogDir): applies that
// log to the state machines, writes a Raft log that starts with a snapshot of them at the old
// log's last index (term 1, the single node's configuration), and renames the old log to
// `log.migrated-<time>`. Safe to run again after a crash at any point. Nothing to do when
// there is no old log.
absl::Status MigrateLegacyLog(const std::string& data_dir, registry::Registry& registry,
                              config::ConfigStore& config_store);
// A single node's Raft id (a member's is a hash of its address, see cluster::Member).
inline constexpr uint64_t kStandaloneRaftId = 1;

// Salvages a single node's data directory that start-up refuses. Nothing is deleted: damaged
// files are copied (log) or moved (config store) to `<name>.before-repair-<time>` first. The
// log (the Raft log, or a log from before Raft) is repaired with LevelDB's RepairDB when it
// does not open, and rewritten with contiguous indexes when entries are missing; the config
// store is moved aside, so the next start rebuilds it from the repaired log. Writes what was
// kept and what was lost to `report`.
absl::Status RepairDataDir(const std::string& data_dir, std::ostream& report);

}  // namespace dnsd::node
