// A Raft snapshot of this node's state machines, taken at an applied index so that the log up
// to there can be dropped. The snapshot a node keeps holds the registry's durable part, the
// auth store and the config store's applied index only: the config store is its own durable copy
// (synced before the log is compacted), so compaction costs no copy of it. When a follower needs
// the snapshot, the leader expands it with every record of its config store.
//
// Restoring: the registry and the auth store (in memory) always; the config part only when the
// store has applied less than the snapshot holds (a follower behind the leader). At a restart the
// store on disk is as new or newer, and entries it already holds are skipped when the tail is
// applied.
//
// Thread-safety: call on the thread that applies log entries (the Raft node's); only the
// encoder CaptureStateSnapshot returns runs elsewhere.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "node/log_entries.h"

namespace dnsd::node {

// Which config records a snapshot carries: none (the store is its own copy), or the current
// configs without their history (the snapshot a single node keeps, which only serves to
// rebuild a damaged store: its configs come back whole, its history from the entries after
// it). A follower's snapshot gets everything from ExpandStateSnapshot.
enum class SnapshotConfigs { kNone, kCurrent };
absl::StatusOr<std::string> TakeStateSnapshot(const StateMachines& machines,
                                              SnapshotConfigs configs = SnapshotConfigs::kNone);
// The same in two steps (a Raft compaction's: raft::RaftNodeOptions::take_snapshot). The
// capture, on the applying thread, syncs the config store and freezes the state as of the last
// applied entry; the encoder it returns builds the bytes from that on any thread (the
// registry's part is the costly one: a second at a million instances), while the machines go
// on applying. The encoder must run before `machines` are destroyed.
using StateSnapshotEncoder = std::function<absl::StatusOr<std::string>()>;
absl::StatusOr<StateSnapshotEncoder> CaptureStateSnapshot(
    const StateMachines& machines, SnapshotConfigs configs = SnapshotConfigs::kNone);
// The snapshot with all of the config store's records added, for a follower (leader side);
// a snapshot that carries configs already is returned as it is.
absl::StatusOr<std::string> ExpandStateSnapshot(config::ConfigStore& config_store,
                                                std::string_view snapshot);
// kDataLoss when the bytes are not a snapshot (nothing changed), or when the store is behind a
// snapshot that does not carry it; a config store write failure as the store reports it.
absl::Status RestoreStateSnapshot(const StateMachines& machines, std::string_view snapshot,
                                  int64_t now_ms);

}  // namespace dnsd::node
