#include "dnsd/history_retention.h"

#include <algorithm>

#include "common/strings.h"
#include "config/config_command.h"
#include "node/log_entries.h"
#include "spdlog/spdlog.h"

namespace dnsd {

HistoryRetention::HistoryRetention(config::ConfigStore& store, node::Proposer& proposer,
                                   common::EventLoop& loop, const common::Clock& clock,
                                   std::function<bool()> is_leader, int64_t retention_ms,
                                   common::MetricsRegistry& metrics)
    : store_(store),
      proposer_(proposer),
      loop_(loop),
      clock_(clock),
      is_leader_(std::move(is_leader)),
      retention_ms_(retention_ms),
      trims_(metrics.GetCounter("dnsd_config_history_trims_total",
                                "Trims of config history past its retention proposed here")),
      trim_failures_(metrics.GetCounter("dnsd_config_history_trim_failures_total",
                                        "History trims proposed here that failed (retried)")) {}

int64_t HistoryRetention::check_every_ms() const {
  return std::clamp<int64_t>(retention_ms_ / 10, 1000, 3'600'000);
}

void HistoryRetention::Start() {
  if (retention_ms_ <= 0) return;
  loop_.RunEvery(check_every_ms(), [this] { Check(); });
}

void HistoryRetention::Check() {
  if (in_flight_ || !is_leader_()) return;
  const int64_t cutoff = clock_.NowMs() - retention_ms_;
  auto oldest = store_.OldestHistoryMs();
  if (!oldest.ok() || !*oldest || **oldest >= cutoff) return;
  config::ConfigCommand command;
  command.type = config::ConfigCommandType::kTrimHistory;
  command.timestamp_ms = clock_.NowMs();
  command.trim_before_ms = cutoff;
  command.trim_max_rows = kRowsPerTrim;
  in_flight_ = true;
  trims_.Inc();
  proposer_.Propose(node::ConfigLogEntry(command), [this](absl::Status s) {
    loop_.Post([this, s] {
      in_flight_ = false;
      if (!s.ok()) {
        // Not the leader any more, no quorum, a full disk: the next check tries again.
        trim_failures_.Inc();
        spdlog::debug("config history trim: {}", common::ToStd(s.message()));
        return;
      }
      Check();  // more rows past the cut-off than one trim takes
    });
  });
}

}  // namespace dnsd
