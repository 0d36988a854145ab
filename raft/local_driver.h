// LocalDriver is the single-node stand-in for the Raft driver: it persists proposed entries
// to the LogStore and then applies them in log order, exactly the contract Raft's
// "persist, commit, apply" will keep. Its own thread does the blocking work (fsync), so
// proposers on event loops never block; proposals that arrive while a write is in flight
// are committed together in the next batch (group commit).
//
// Failures keep one rule: a client is told "failed" only for a write that is not in the log.
// - The log append fails: the batch is rolled back (LogStore) and every proposer gets
//   kUnavailable.
// - Applying a logged entry fails for lack of storage (common::IsStorageFailure): the state
//   machine stalls on that entry and retries it with backoff until the disk works again; its
//   proposer waits for the real result, new proposals are refused at once with kUnavailable.
//   On shutdown during a stall the waiting proposers get no answer: their entries are in the
//   log and the next start applies them.
// - Applying fails with anything else (the state's own files damaged): `fatal` runs; the
//   daemon exits so that the restart rebuilds the state from the log.
// - The data directory's free space falls below `min_free_bytes`: proposals are refused with
//   kUnavailable before anything is written, which keeps room for the state machines and
//   LevelDB's compactions.
//
// Thread-safety: Propose() and the accessors are safe from any thread. `done` runs on the
// driver thread and must only hand the result back to the proposer's loop.
#pragma once

#include <atomic>
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

struct LocalDriverOptions {
  // Proposals are refused while the data directory has less free space than this. 0: off.
  uint64_t min_free_bytes = 0;
  // Called when a state machine cannot go on (its storage is damaged). Must not return
  // normally in production (the daemon exits); tests record it.
  std::function<void(const absl::Status&)> fatal;
};

class LocalDriver {
 public:
  // Applies one committed entry to the state machines. Must be deterministic. Returns the
  // command's result, or a storage failure (retried).
  using ApplyFn = std::function<absl::Status(uint64_t index, std::string_view entry)>;
  using DoneFn = std::function<void(absl::Status)>;

  LocalDriver(LogStore& log, ApplyFn apply, LocalDriverOptions options = {});
  ~LocalDriver();

  // Applies every entry already in the log; call once before Start(). Fails when an entry
  // cannot be applied for lack of storage or the log is damaged.
  absl::Status Replay();
  void Start();
  void Stop();
  void Propose(std::string entry, DoneFn done);

  uint64_t applied_index() const;
  // True while a state machine waits for its storage (see above).
  bool stalled() const { return stalled_.load(std::memory_order_relaxed); }
  uint64_t storage_stalls() const { return storage_stalls_.load(std::memory_order_relaxed); }
  uint64_t low_space_refusals() const {
    return low_space_refusals_.load(std::memory_order_relaxed);
  }

 private:
  void Run();
  // Applies entry `index`, retrying storage failures; false when stopped meanwhile.
  bool ApplyWithRetry(uint64_t index, std::string_view entry, absl::Status& result);
  absl::Status CheckFreeSpace() const;
  struct Proposal {
    std::string entry;
    DoneFn done;
  };

  LogStore& log_;
  ApplyFn apply_;
  LocalDriverOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Proposal> queue_;
  bool stopping_ = false;
  uint64_t applied_index_ = 0;
  std::atomic<bool> stalled_{false};
  std::atomic<uint64_t> storage_stalls_{0};
  std::atomic<uint64_t> low_space_refusals_{0};
  std::thread thread_;
};

}  // namespace dnsd::raft
