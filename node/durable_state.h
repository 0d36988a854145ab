// The durable state of one node: the log (the source of truth) and the config store (a
// state machine kept on disk, derived from the log). OpenDurableState opens both and checks
// them against each other before anything is served:
// - the log opens with paranoid checks; damage other than a torn tail refuses start-up with
//   a message naming the directory and pointing at `dnsd repair`;
// - a config store whose files are damaged is moved aside (config.damaged-<time>) and rebuilt
//   from the log by the replay that follows;
// - a config store that has applied more entries than the log holds proves the log lost
//   acknowledged writes: start-up is refused rather than serving a state the log cannot
//   reproduce (new entries would reuse indexes the store had already applied).
// RepairDataDir is the operator's tool for the refusals (`dnsd repair`).
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

struct DurableState {
  std::unique_ptr<raft::LogStore> log;
  std::unique_ptr<config::ConfigStore> config;
  // Where a damaged config store was moved, when it was (empty otherwise).
  std::string config_moved_to;
};

absl::StatusOr<DurableState> OpenDurableState(const std::string& data_dir,
                                              const DurableStateOptions& options = {});

// A cluster member's state: the config store (its Raft log is opened by RaftNode in
// `raft_dir`). A damaged store is moved aside and rebuilt as for a single node; a directory
// that holds a single node's log is refused (its indexes are not the cluster's).
struct ClusterState {
  std::string raft_dir;
  std::unique_ptr<config::ConfigStore> config;
  std::string config_moved_to;
};
absl::StatusOr<ClusterState> OpenClusterState(const std::string& data_dir,
                                              const DurableStateOptions& options = {});
// After the Raft log is loaded: refuses a config store that applied more than the log holds.
absl::Status CheckClusterState(const config::ConfigStore& config, const std::string& raft_dir,
                               uint64_t raft_last_index);

// Salvages a data directory that OpenDurableState refuses. Nothing is deleted: damaged files
// are copied (log) or moved (config store) to `<name>.before-repair-<time>` first. The log is
// repaired with LevelDB's RepairDB when it does not open, and rewritten with contiguous
// indexes when entries are missing; the config store is moved aside, so the next start
// rebuilds it from the repaired log. Writes what was kept and what was lost to `report`.
absl::Status RepairDataDir(const std::string& data_dir, std::ostream& report);

}  // namespace dnsd::node
