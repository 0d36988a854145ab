// RaftNode runs one RaftCore: its own thread ticks the core, steps incoming messages, and
// turns each Ready into effects in the order Raft needs: persist (RaftStorage, fsync), then
// send (RaftTransport), then apply (the state machines), then Advance. Proposals from any
// thread wait for their entry to be applied and get the state machine's result.
//
// Seams: RaftTransport carries messages to peers (the peer gRPC transport in the daemon, an
// in-memory hub in tests, so several nodes run in one process); the apply function in the
// daemon is node::ApplyLogEntry.
//
// Failures: a proposal on a follower fails at once with a not-leader error (IsNotLeader;
// the proposer forwards it to the leader); a proposal whose entry was replaced by another leader's
// fails with kUnavailable saying it was not applied (anywhere). On Stop(), proposals still
// waiting get no answer: their outcome is unknown (they may still commit elsewhere).
// Storage (one rule, as for any durable store here: a proposer hears "not stored" only for a
// write that is not in the log):
// - The Raft log cannot be written (full disk, I/O error, failed fsync): proposals whose
//   entries were not saved fail with kUnavailable (on a node alone, "not stored"; with peers,
//   "outcome unknown", since a leader sends its appends before its own fsync ends); saved
//   ones keep waiting. The node stops taking part (messages dropped, proposals refused) and
//   retries with backoff to reopen the log (RaftStorage rolls it back to the last good
//   write), then rebuilds its core from what is stored, as a restart would, and goes on.
// - Applying a committed entry fails for lack of storage (common::IsStorageFailure, e.g. the
//   config store cannot write): the node stalls on that entry, retrying with backoff until
//   it applies, and only then answers its proposer. Meanwhile proposals are refused at once
//   and peer messages dropped (a stalled leader loses leadership; its followers go on).
// - A state machine's files turn out damaged (common::IsStateDamaged): `fatal` runs.
// - The log's disk has less than `min_free_bytes` free: proposals are refused before anything
//   is written, which keeps room for applying what is logged and for LevelDB's compactions.
//
// Thread-safety: Propose, Receive, TransferLeader and the accessors are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
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

// Whether the log is due for compaction (RaftNodeOptions: compact_every and the share).
bool CompactionDue(uint64_t compact_every, uint64_t log_share, uint64_t share_above_bytes,
                   uint64_t entries_since, uint64_t bytes_since, uint64_t last_snapshot_bytes);

struct RaftNodeOptions {
  RaftConfig core;    // id, voters, ticks, ...
  std::string dir;    // the node's Raft log
  int tick_ms = 100;  // one core tick
  leveldb::Env* env = nullptr;
  // Log compaction: after this many entries applied since the last snapshot, the state
  // machines are snapshotted and the log up to there dropped. 0: never. take_snapshot runs on
  // the driver thread after a turn's applies and freezes the state (cheaply); the encoder it
  // returns builds the bytes on a thread of its own, which also writes them to their file,
  // while the node goes on; the driver then drops the log up to the snapshot. restore() loads
  // a snapshot into the state machines (at start, and when the leader sends one); both are
  // needed when compacting.
  uint64_t compact_every = 0;
  // ... and, once the last snapshot is larger than compact_share_above_bytes, only when the
  // entries applied since hold at least 1/compact_log_share of its bytes. A snapshot costs its
  // whole size: with a large state and small entries, a fixed count would rewrite the state
  // for every few entries (a million instances: 65 MB, a second of the driver thread, every
  // 10,000 registrations of ~100 bytes). With the share, each logged byte costs at most
  // compact_log_share bytes of snapshot, and a restart replays at most 1/compact_log_share
  // of the state's size of log.
  uint64_t compact_log_share = 8;
  uint64_t compact_share_above_bytes = 1 << 20;
  using SnapshotEncoder = std::function<absl::StatusOr<std::string>()>;
  // An error from either skips this compaction (the log stays; tried again a second later).
  std::function<absl::StatusOr<SnapshotEncoder>()> take_snapshot;
  std::function<absl::Status(const std::string&)> restore;
  // Proposals are refused while the log's file system has less free space than this. 0: off.
  uint64_t min_free_bytes = 0;
  // A state machine cannot go on (its files are damaged). Must not return normally in
  // production (the daemon exits and rebuilds at the next start); unset: abort.
  std::function<void(const absl::Status&)> fatal;
  // Campaign at once on start instead of after an election timeout: for a node that is the
  // only voter (its leadership needs nobody's vote, so there is nothing to wait for).
  bool campaign_at_start = false;
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
  bool stalled = false;             // applying waits for the disk (see RaftNode)
  bool log_unwritable = false;      // the Raft log failed a write and is not reopened yet
  uint64_t storage_stalls = 0;      // times applying had to wait for the disk
  uint64_t log_write_failures = 0;  // times the Raft log failed a write
  uint64_t low_space_refusals = 0;  // proposals refused for lack of free space
  bool compacting = false;          // a snapshot is being encoded and written
  uint64_t snapshots_taken = 0;     // this node's own, stored and its log cut
  uint64_t snapshot_failures = 0;   // this node's own that could not be made
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
  // Sends `m`; a snapshot message gets its data from storage (the core holds none).
  void SendMessage(const Message& m);
  // Starts a compaction when one is due, or finishes the one whose snapshot is written.
  void MaybeCompact();
  void FinishCompaction();
  // Waits for the compaction in progress and drops it: before a snapshot from the leader is
  // stored or the log reopened (both remove snapshot files no record names), and at Stop().
  void CancelCompaction();
  // The log failed a write: answers what cannot be saved now, drops out until it reopens.
  void OnLogWriteFailure(const absl::Status& cause);
  // Reopens the log and rebuilds the core from it; false while the disk still fails.
  bool TryRecoverLog();
  // Applies a committed entry, waiting out storage failures; false when stopped meanwhile.
  bool ApplyWithRetry(const Entry& entry, absl::Status& result);
  absl::Status CheckFreeSpace() const;
  bool alone() const;  // the only member of its configuration
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
  // Driver thread writes, Propose/Receive read under mu_ (see the failure rules above).
  bool log_unwritable_ = false;
  bool stalled_ = false;
  uint64_t storage_stalls_ = 0;
  uint64_t log_write_failures_ = 0;
  uint64_t low_space_refusals_ = 0;
  bool compacting_ = false;
  uint64_t snapshots_taken_ = 0;
  uint64_t snapshot_failures_ = 0;
  int64_t recover_backoff_ms_ = 0;
  uint64_t state_applied_ = 0;         // driver thread: the last entry in the state machines
  uint64_t bytes_since_snapshot_ = 0;  // driver thread: of the entries applied since
  uint64_t last_snapshot_bytes_ = 0;   // driver thread: the last snapshot taken or loaded
  uint64_t replay_until_ = 0;  // the last entry stored at start (crash points tell replay apart)
  std::chrono::steady_clock::time_point next_recover_;
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
  // A compaction whose snapshot `worker` is encoding and writing (driver thread; the worker
  // fills in data and record, then sets finished).
  struct Compaction {
    Snapshot snapshot;                   // index, term and configuration at the capture
    uint64_t bytes_applied = 0;          // bytes_since_snapshot_ at the capture
    absl::StatusOr<std::string> record;  // the stored record naming the written file
    std::atomic<bool> finished{false};
    std::thread worker;
  };
  std::unique_ptr<Compaction> compaction_;
  std::chrono::steady_clock::time_point next_compaction_try_;  // driver thread: after a failure
  std::thread thread_;
};

}  // namespace dnsd::raft
