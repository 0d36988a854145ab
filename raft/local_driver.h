// LocalDriver is the single-node stand-in for the Raft driver: it persists proposed entries
// to the LogStore and then applies them in log order, exactly the contract Raft's
// "persist, commit, apply" will keep. Its own thread does the blocking work (fsync), so
// proposers on event loops never block; proposals that arrive while a write is in flight
// are committed together in the next batch (group commit).
//
// Thread-safety: Propose() is safe from any thread. `done` runs on the driver thread and
// must only hand the result back to the proposer's loop.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "raft/log_store.h"

namespace dnsd::raft {

class LocalDriver {
 public:
  // Applies one committed entry to the state machines. Must be deterministic.
  using ApplyFn = std::function<absl::Status(uint64_t index, std::string_view entry)>;
  using DoneFn = std::function<void(absl::Status)>;

  LocalDriver(LogStore& log, ApplyFn apply);
  ~LocalDriver();

  // Applies every entry already in the log; call once before Start().
  absl::Status Replay();
  void Start();
  void Stop();
  void Propose(std::string entry, DoneFn done);

  uint64_t applied_index() const;

 private:
  void Run();
  struct Proposal {
    std::string entry;
    DoneFn done;
  };

  LogStore& log_;
  ApplyFn apply_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Proposal> queue_;
  bool stopping_ = false;
  uint64_t applied_index_ = 0;
  std::thread thread_;
};

}  // namespace dnsd::raft
