// RaftNode runs one RaftCore: its own thread ticks the core, steps incoming messages, and
// turns each Ready into effects in the order Raft needs: persist (RaftStorage, fsync), then
// send (RaftTransport), then apply (the state machines), then Advance. Proposals from any
// thread wait for their entry to be applied and get the state machine's result.
//
// Seams: RaftTransport carries messages to peers (the peer gRPC transport in the daemon, an
// in-memory hub in tests, so several nodes run in one process); the apply function is the
// same one the single-node LocalDriver takes (node::ApplyLogEntry).
//
// Failures: a proposal on a follower fails at once with a not-leader error (IsNotLeader;
// the proposer forwards it to the leader); a proposal whose entry was replaced by another leader's
// fails with kUnavailable saying it was not applied (anywhere); a storage failure stops the node
// (its peers hold the data) and fails everything waiting with kUnavailable. On Stop(), proposals
// still waiting get no answer: their outcome is unknown (they may still commit elsewhere).
//
// Thread-safety: Propose, Receive, TransferLeader and the accessors are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/raft_core.h"
#include "raft/raft_storage.h"

namespace dnsd::raft {

class RaftTransport {
 public:
  virtual ~RaftTransport() = default;
  // Must not block; may drop (Raft retransmits).
  virtual void Send(const Message& message) = 0;
};

struct RaftNodeOptions {
  RaftConfig core;    // id, voters, ticks, ...
  std::string dir;    // the node's Raft log
  int tick_ms = 100;  // one core tick
  leveldb::Env* env = nullptr;
  // Log compaction: after this many entries applied since the last snapshot, the state
  // machines are snapshotted (take_snapshot, on the driver thread, right after an apply) and
  // the log up to there dropped. 0: never. restore() loads a snapshot into the state machines
  // (at start, and when the leader sends one); both are needed when compacting.
  uint64_t compact_every = 0;
  std::function<absl::StatusOr<std::string>()> take_snapshot;  // an error skips this compaction
  std::function<absl::Status(const std::string&)> restore;
};

struct RaftStatus {
  Role role = Role::kFollower;
  uint64_t term = 0;
  NodeId leader = 0;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t snapshot_index = 0;  // the log starts after it
  uint64_t last_index = 0;
  uint64_t snapshots_restored = 0;  // snapshots received from a leader and restored
  ConfState conf;                   // the configuration in this node's log
};

// The refusal of a proposal by a node that is not the leader: kFailedPrecondition with the
// leader it knows (0: none yet) attached, so that it cannot be mistaken for a state
// machine's own kFailedPrecondition result (a CAS mismatch, say).
absl::Status NotLeaderError(NodeId leader);
// True for a NotLeaderError; sets `leader` to the leader it names.
bool IsNotLeader(const absl::Status& status, NodeId* leader = nullptr);

class RaftNode {
 public:
  using ApplyFn = std::function<absl::Status(uint64_t index, std::string_view data)>;
  using DoneFn = std::function<void(absl::Status)>;
  // The result and the entry's index (0 when it was refused before getting one).
  using IndexedDoneFn = std::function<void(absl::Status, uint64_t index)>;

  static absl::StatusOr<std::unique_ptr<RaftNode>> Create(RaftNodeOptions options,
                                                          RaftTransport& transport, ApplyFn apply);
  ~RaftNode();

  void Start();
  void Stop();
  void Propose(std::string data, DoneFn done);
  // Data made by EncodeConfChange proposes a membership change (ProposeConfChange's rules;
  // its refusals come back as they are), so a follower can forward one like any write.
  void Propose(std::string data, IndexedDoneFn done);
  void Receive(Message message);
  // A linearizable read: `done` (on the driver thread) gets OK once this node has applied
  // everything committed when the read started, as confirmed by the leader and a quorum
  // (ReadIndex); kUnavailable when that cannot be had (no leader, leadership lost, 10 s).
  void ReadIndex(DoneFn done);
  void TransferLeader(NodeId to);
  // Runs `fn` (on the driver thread, or here if already so) once entry `index` is applied
  // here; never if the node stops first.
  void WhenApplied(uint64_t index, std::function<void()> fn);
  RaftStatus status() const;
  NodeId id() const { return options_.core.id; }
  // Messages refused by the core (malformed, unknown sender).
  uint64_t rejected_messages() const { return rejected_.load(std::memory_order_relaxed); }

 private:
  RaftNode(RaftNodeOptions options, RaftTransport& transport, ApplyFn apply,
           std::unique_ptr<RaftStorage> storage, RaftStorageState state);
  void Run();
  void HandleReady();
  void MaybeCompact();
  void FailAll(const absl::Status& status);
  void PublishStatus();
  void RunAppliedWaiters();

  struct Proposal {
    std::string data;
    IndexedDoneFn done;
  };
  struct Pending {
    uint64_t term;
    IndexedDoneFn done;
  };

  RaftNodeOptions options_;
  RaftTransport& transport_;
  ApplyFn apply_;
  std::unique_ptr<RaftStorage> storage_;
  std::unique_ptr<RaftCore> core_;  // driver thread only

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Message> inbox_;
  std::vector<Proposal> proposals_;
  std::vector<NodeId> transfers_;
  std::multimap<uint64_t, std::function<void()>> applied_waiters_;
  bool stopping_ = false;
  bool failed_ = false;
  RaftStatus status_;
  std::map<uint64_t, Pending> pending_;  // driver thread only: index -> waiting proposer
  std::atomic<uint64_t> rejected_{0};
  std::vector<DoneFn> reads_;  // mu_: reads to start
  struct PendingRead {
    DoneFn done;
    int64_t started_ms;
  };
  std::map<std::string, PendingRead> pending_reads_;  // driver thread, by context
  uint64_t read_seq_ = 0;                             // driver thread
  uint64_t snapshots_restored_ = 0;                   // driver thread
  std::thread thread_;
};

}  // namespace dnsd::raft
