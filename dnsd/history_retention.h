// HistoryRetention keeps config history for a bounded time, as Nacos does
// (nacos.config.retention.days): every publish and delete adds a history row, so without it
// the config store grows for ever (81 MB after a million publishes).
//
// The trim is a log entry (config::ConfigCommandType::kTrimHistory) proposed by the Raft
// leader, carrying the cut-off its clock computed and a row budget, so every replica drops
// exactly the same rows, and a restarted or lagging node does the same when it applies the
// entry. A timer on the leader looks at the oldest row every `check_every_ms`; when it is
// older than the retention it proposes a trim of at most kRowsPerTrim rows, and goes on at
// once while old rows remain (one big deletion would be one huge log entry and batch).
//
// Thread-safety: lives on `loop`; Start() and the destructor on the loop's owner before and
// after it runs.
#pragma once

#include <cstdint>
#include <functional>

#include "common/clock.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "config/config_store.h"
#include "node/proposer.h"

namespace dnsd {

class HistoryRetention {
 public:
  static constexpr uint32_t kRowsPerTrim = 10'000;

  // `is_leader`: whether this node proposes (a single node always leads).
  HistoryRetention(config::ConfigStore& store, node::Proposer& proposer, common::EventLoop& loop,
                   const common::Clock& clock, std::function<bool()> is_leader,
                   int64_t retention_ms, common::MetricsRegistry& metrics);
  // Schedules the checks; nothing when the retention is 0 (history kept for ever).
  void Start();
  // How often the oldest row is looked at: a tenth of the retention, within [1 s, 1 h].
  int64_t check_every_ms() const;

 private:
  void Check();

  config::ConfigStore& store_;
  node::Proposer& proposer_;
  common::EventLoop& loop_;
  const common::Clock& clock_;
  std::function<bool()> is_leader_;
  const int64_t retention_ms_;
  bool in_flight_ = false;
  common::Counter& trims_;
  common::Counter& trim_failures_;
};

}  // namespace dnsd
