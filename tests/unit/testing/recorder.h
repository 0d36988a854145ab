// A state machine for Raft tests: it records the entries it applied, in order. Entries that
// start with "bad" are refused with kFailedPrecondition, the code a CAS mismatch gets, so a
// test can check that a state machine's refusal is never mistaken for "not the leader". Its
// snapshot is the applied list after `padding` filler bytes, so that a test can make
// snapshots large enough to travel in several chunks.
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace dnsd::testing {

class Recorder {
 public:
  explicit Recorder(size_t padding = 0) : padding_(padding) {}

  absl::Status Apply(uint64_t, std::string_view data) {
    std::lock_guard lock(mu_);
    applied_.emplace_back(data);
    if (data.starts_with("bad")) return absl::FailedPreconditionError("refused by the machine");
    return absl::OkStatus();
  }
  std::vector<std::string> Applied() {
    std::lock_guard lock(mu_);
    return applied_;
  }
  // The state machine lives in memory: a restarted node starts empty and replays.
  void Clear() {
    std::lock_guard lock(mu_);
    applied_.clear();
  }
  // The padding, then "\n" + entry for each applied entry.
  std::string Serialize() {
    std::lock_guard lock(mu_);
    std::string out(padding_, '#');
    for (const auto& a : applied_) out += "\n" + a;
    return out;
  }
  absl::Status Restore(const std::string& data) {
    if (data.size() < padding_ || data.find_first_not_of('#') < padding_) {
      return absl::DataLossError("not a recorder snapshot");
    }
    std::vector<std::string> applied;
    for (size_t pos = padding_; pos < data.size();) {
      if (data[pos] != '\n') return absl::DataLossError("not a recorder snapshot");
      size_t next = data.find('\n', pos + 1);
      if (next == std::string::npos) next = data.size();
      applied.push_back(data.substr(pos + 1, next - pos - 1));
      pos = next;
    }
    std::lock_guard lock(mu_);
    applied_ = std::move(applied);
    return absl::OkStatus();
  }

 private:
  const size_t padding_;
  std::mutex mu_;
  std::vector<std::string> applied_;
};

}  // namespace dnsd::testing
