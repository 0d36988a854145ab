// A Raft snapshot of this node's state machines: the registry's durable part and the whole
// config store, taken at an applied index so that the log up to there can be dropped, and
// sent to a follower that has fallen behind the compacted log.
//
// Restoring the config part is skipped when the config store has already applied as much as
// the snapshot holds: at a restart the store on disk (synced before the log was compacted) is
// the same state or newer, and entries it already holds are skipped when the tail is applied.
// The registry lives in memory and is always restored.
//
// Thread-safety: call on the thread that applies log entries (the Raft node's).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/config_store.h"
#include "registry/registry.h"

namespace dnsd::node {

absl::StatusOr<std::string> TakeStateSnapshot(const registry::Registry& registry,
                                              config::ConfigStore& config_store);
// kDataLoss when the bytes are not a snapshot (nothing changed); a config store write failure
// as the store reports it.
absl::Status RestoreStateSnapshot(registry::Registry& registry, config::ConfigStore& config_store,
                                  std::string_view snapshot, int64_t now_ms);

}  // namespace dnsd::node
