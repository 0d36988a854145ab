// RaftCore is the Raft consensus algorithm as a pure state machine, after etcd's raft: no
// clock, thread, randomness or I/O inside. Time comes in as Tick(), messages as Step(),
// client commands as Propose(); everything the node must do comes out as a Ready batch:
//   0. send `early_messages` (a leader's appends: they may go before its own fsync);
//   1. persist `entries` (replacing any stored entries from the first one's index on) and
//      `hard_state` (if changed), with fsync;
//   2. then send `messages` (votes and acknowledgements must not leave before the state they
//      promise is durable);
//   3. apply `committed` in order;
//   4. call Advance(ready).
// Only persisted entries are applied, and the leader counts itself in a quorum only for
// entries Advance reported persisted.
//
// Implemented: elections with pre-vote (thesis 9.6) and check-quorum (a leader that has not
// heard from a quorum within an election timeout steps down; a follower that heard from its
// leader within one ignores vote requests, so a partitioned node cannot disrupt), log
// replication pipelined with an in-flight window per peer (probe / replicate states), fast
// backtracking with (index, term) hints, commitment only through an entry of the leader's own
// term (paper 5.4.2, the figure-8 rule), and leader transfer (TimeoutNow).
// Log compaction: the driver snapshots its state machines at an applied index and calls
// Compact(); a follower that needs compacted entries gets the snapshot (kSnapshot) and the
// driver restores it from Ready::snapshot.
// Membership: the configuration (voters, learners) is the base one (the snapshot's, or the
// configured voters on a fresh node) with every membership change entry of the log applied,
// committed or not (thesis 4.1); a truncated log takes its changes back. Learners receive the
// log but neither vote nor count in any quorum, and never campaign; nor does a node that is
// not a voter in its own configuration (a new node waiting for the leader, a removed one).
// The leader proposes one change at a time: the next only once the previous has committed,
// and none before an entry of its own term has.
// ReadIndex (thesis 6.4): a read is linearizable once the state machine has applied the
// leader's commit index as of when the read arrived, the leader having since heard from a
// quorum (so it was still the leader then). A follower asks the leader for that index.
//
// Thread-safety: none; one owner (the driver thread) calls everything.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "raft/raft_types.h"

namespace dnsd::raft {

enum class Role { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role role);

struct RaftConfig {
  NodeId id = 0;
  // The configuration of a brand-new cluster (every member, this node included); once the
  // node has a snapshot or log entries its configuration comes from them. Empty: this node
  // joins an existing cluster and waits for its leader.
  std::vector<NodeId> voters;
  int election_ticks = 10;  // a follower campaigns after [election, 2 x election) ticks
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  bool check_quorum = true;
  size_t max_inflight = 256;            // append messages in flight per peer
  size_t max_entries_per_message = 64;  // entries per append message
  // Source of randomness for the election timeout: returns a value in [0, n). Injected so the
  // core stays deterministic under test.
  std::function<uint64_t(uint64_t n)> random;
};

// What a node has on disk when it starts.
struct RaftStorageState {
  HardState hard_state;
  std::optional<Snapshot> snapshot;  // the log starts after it
  std::vector<Entry> entries;        // contiguous, from the snapshot's index + 1 (or 1)
  // Entries up to here are in the state machines already (a node rebuilding its core after a
  // storage failure); committed entries are handed out from the next one. 0: from the
  // snapshot's index.
  uint64_t applied = 0;
};

struct Ready {
  // A snapshot from the leader: persist it in place of the whole log and restore the state
  // machines from it before applying `committed`.
  std::optional<Snapshot> snapshot;
  std::optional<HardState> hard_state;  // set when it changed
  std::vector<Entry> entries;           // to persist; the first replaces stored ones from there
  // A leader's appends and heartbeats, which promise nothing about this node's own disk:
  // they may leave before `entries` are persisted, so the leader's fsync overlaps its
  // followers' (thesis 10.2.1; the leader counts itself only for persisted entries). Empty
  // when this Ready changes the term or the vote.
  std::vector<Message> early_messages;
  std::vector<Message> messages;  // only after `entries` and `hard_state` are persisted
  // Whether persisting needs an fsync: new entries, a snapshot, or a new term or vote. A
  // change of the commit index alone does not (it can be learnt again after a crash).
  bool must_sync = false;
  std::vector<Entry> committed;        // to apply, in order
  std::vector<ReadState> read_states;  // reads whose index is known (or that failed)
};

class RaftCore {
 public:
  RaftCore(RaftConfig config, RaftStorageState stored);

  void Tick();
  // A message from a peer. Messages for another node or malformed ones are errors.
  absl::Status Step(const Message& message);
  // Appends a command if this node is the leader (kFailedPrecondition otherwise, with the
  // leader's id in leader()); returns the index it will have.
  absl::StatusOr<uint64_t> Propose(std::string data);
  // Proposes a membership change (leader only): kFailedPrecondition while the previous change
  // is not committed, for a node that is not the right kind of member, for removing the
  // leader itself (transfer leadership first) or the last voter, and for promoting a learner
  // that has not caught up. Returns the entry's index.
  absl::StatusOr<uint64_t> ProposeConfChange(const ConfChange& change);
  // Starts a linearizable read named `context`; its ReadState comes in a later Ready. Fails at
  // once (kUnavailable) when no leader is known or the leader has not yet committed an entry
  // of its term (its commit index may still be behind).
  absl::Status ReadIndex(std::string context);
  // Hands leadership to `to` once it is up to date (the leader stops accepting proposals
  // while the transfer runs, at most one election timeout).
  absl::Status TransferLeader(NodeId to);
  // Starts an election now (tests, and a node that knows its leader is gone).
  void Campaign();

  // Drops the entries up to `index` (applied) and keeps `data`, the state machines' snapshot
  // at that index, for followers that fall behind. The driver persists the snapshot first.
  absl::Status Compact(uint64_t index, std::shared_ptr<const std::string> data);

  bool HasReady() const;
  Ready GetReady();
  void Advance(const Ready& ready);

  NodeId id() const { return config_.id; }
  Role role() const { return role_; }
  uint64_t term() const { return term_; }
  NodeId leader() const { return lead_; }
  uint64_t commit_index() const { return commit_; }
  uint64_t last_index() const { return offset_ + log_.size(); }
  uint64_t first_index() const { return offset_ + 1; }
  // The term of entry `index`, 0 when it is compacted away (except the snapshot's own).
  uint64_t term_at(uint64_t index) const { return TermAt(index); }
  const Snapshot& snapshot() const { return snapshot_; }
  // The snapshot's data is on disk: the core need not hold it (its driver reads it back for a
  // kSnapshot message whose data is null). Index, term and configuration stay.
  void ForgetSnapshotData() { snapshot_.data.reset(); }
  uint64_t applied_index() const { return applied_; }
  const std::vector<Entry>& log() const { return log_; }  // from first_index()
  NodeId vote() const { return vote_; }
  const ConfState& conf() const { return conf_; }
  // The configuration as of entry `index` (at least the snapshot's), for a snapshot there.
  ConfState conf_at(uint64_t index) const;
  bool IsVoter(NodeId id) const;
  bool IsMember(NodeId id) const;
  // Leader: the last index known replicated on `id` (0 if unknown).
  uint64_t match_of(NodeId id) const;

 private:
  struct Progress {
    uint64_t match = 0;
    uint64_t next = 1;
    bool replicate = false;          // probe (one append at a time) until the first success
    bool paused = false;             // probe: an append is out, wait for its answer or a heartbeat
    std::vector<uint64_t> inflight;  // last index of each append in flight (replicate)
    bool recent_active = false;
  };

  uint64_t TermAt(uint64_t index) const;  // 0 below the snapshot or beyond the log
  const Entry& At(uint64_t index) const { return log_[index - offset_ - 1]; }
  uint64_t LastTerm() const { return TermAt(last_index()); }
  bool UpToDate(uint64_t last_term, uint64_t last_index) const;
  size_t Quorum() const { return conf_.voters.size() / 2 + 1; }
  // conf_ from base_conf_ and the log's changes; on the leader, progress follows it.
  void RebuildConf();
  // Records the membership changes among entries just added to the log.
  void NoteConfEntries(const Entry& e);

  void BecomeFollower(uint64_t term, NodeId lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void StartElection(bool pre, bool transfer);
  void ResetTimers();
  // Counts a vote; returns +1 won, -1 lost, 0 pending.
  int Poll(NodeId from, bool granted);

  void Send(Message m);
  // Sends the next append to `to` if its window allows; true if another one could follow.
  bool SendAppend(NodeId to, bool allow_empty);
  void BroadcastAppend();
  void BroadcastHeartbeat();
  bool MaybeCommit();
  void AppendLocal(std::vector<Entry> entries);
  // Follower: appends entries after a match at `prev`; returns the last new index.
  uint64_t AppendFrom(uint64_t prev, const std::vector<Entry>& entries);
  // The last index <= `index` whose term is <= `term` (fast backtracking).
  uint64_t FindConflictByTerm(uint64_t index, uint64_t term) const;

  void StepLeader(const Message& m);
  void StepCandidate(const Message& m);
  void StepFollower(const Message& m);
  void HandleAppend(const Message& m);
  void HandleHeartbeat(const Message& m);
  void HandleVoteRequest(const Message& m);
  void HandleSnapshot(const Message& m);
  bool QuorumActive();
  // Leader: a read for `requester` (this node or a follower) at the current commit index.
  void StartRead(NodeId requester, std::string context);
  void ReadDone(NodeId requester, std::string context, uint64_t index);
  void FailPendingReads();

  RaftConfig config_;
  Role role_ = Role::kFollower;
  uint64_t term_ = 0;
  NodeId vote_ = 0;
  NodeId lead_ = 0;
  std::vector<Entry> log_;  // log_[i] has index offset_ + i + 1
  uint64_t offset_ = 0;     // index of the last compacted entry (the snapshot's)
  uint64_t offset_term_ = 0;
  Snapshot snapshot_;
  std::optional<Snapshot> pending_snapshot_;  // received, not yet handed out in a Ready
  uint64_t commit_ = 0;
  uint64_t applied_ = 0;     // handed out in Ready::committed
  uint64_t stable_ = 0;      // entries up to here are persisted
  uint64_t persisting_ = 0;  // entries handed out in Ready::entries up to here
  HardState persisted_hs_;
  std::vector<Message> outbox_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_timeout_ = 0;
  std::map<NodeId, bool> votes_;
  std::map<NodeId, Progress> progress_;
  ConfState base_conf_;                      // the configuration at offset_
  ConfState conf_;                           // base_conf_ + the log's changes
  std::map<uint64_t, ConfChange> conf_log_;  // membership changes in log_, by index
  uint64_t pending_conf_index_ = 0;          // leader: the last change proposed
  struct PendingRead {
    NodeId requester;
    std::string context;
    uint64_t index;
    std::set<NodeId> acks;  // voters that answered a heartbeat sent for this read or later
  };
  std::deque<PendingRead> pending_reads_;  // leader, in arrival order
  std::vector<ReadState> read_states_;     // for the next Ready
  NodeId transferee_ = 0;
  int transfer_elapsed_ = 0;
};

}  // namespace dnsd::raft
