// A deterministic in-process network of RaftCore nodes for tests: a fake clock (steps), a
// network that loses, delays, duplicates and reorders messages and can cut links one way,
// crashes that lose what was not yet persisted, and restarts from what was. After every step
// it checks the Raft safety properties (election safety, log matching, leader completeness,
// state-machine safety) and records a failure with the step it happened at.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "raft/raft_core.h"

namespace dnsd::raft::sim {

struct Faults {
  double loss = 0;       // per message
  double duplicate = 0;  // per message
  int max_delay = 0;     // steps; delays also reorder
  double crash = 0;      // per node per step (a crash may hit between reading and persisting)
  double restart = 0;    // per crashed node per step
  double partition = 0;  // per step: cut a random set of directed links
  double heal = 0;       // per step: heal every link
  double propose = 0.5;  // per step: a proposal to whoever leads
  double compact = 0;    // per node per step: snapshot the applied state, drop the log
  // per step: the leader proposes a membership change (add a spare node as a learner,
  // promote a learner, remove a member other than itself)
  double conf_change = 0;
  // Not faults but shapes of traffic: small messages and windows make more interleavings.
  size_t max_entries_per_message = 4;
  size_t max_inflight = 8;
};

class Cluster {
 public:
  // `nodes` voters form the cluster; `spares` more nodes start empty, outside it, and can be
  // added by membership changes.
  Cluster(int nodes, uint64_t seed, Faults faults = {}, int election_ticks = 10, int spares = 0);

  // One step: faults, ticks, deliveries, persistence, checks.
  void Step();
  void Run(int steps) {
    for (int i = 0; i < steps && failure_.empty(); ++i) Step();
  }
  // Ends all faults: heals links, restarts nodes, delivers everything, no more loss.
  void Calm();

  // ---- scripted control
  RaftCore& core(NodeId id) { return *nodes_.at(id).core; }
  bool up(NodeId id) const { return nodes_.at(id).up; }
  void Cut(NodeId from, NodeId to) { cut_.insert({from, to}); }
  void Isolate(NodeId id);
  void HealAll() { cut_.clear(); }
  void Crash(NodeId id);
  void Restart(NodeId id);
  // Delivers and processes until nothing is left in flight (delays ignored).
  void Settle(int max_rounds = 100);
  void TickAll(int ticks);
  void Tick(NodeId id);
  absl::StatusOr<uint64_t> Propose(NodeId id, std::string data);
  NodeId Leader() const;  // the up node with the highest term that thinks it leads, or 0
  const std::vector<Entry>& Applied(NodeId id) const { return nodes_.at(id).applied; }
  const std::vector<ReadState>& Reads(NodeId id) const { return nodes_.at(id).reads; }
  // Snapshots the node's applied state at its applied index and compacts its log.
  void CompactAll(NodeId id);
  absl::StatusOr<uint64_t> ProposeConfChange(NodeId id, const ConfChange& change);
  const std::vector<NodeId>& ids() const { return ids_; }
  int conf_changes_committed() const;

  const std::string& failure() const { return failure_; }
  const std::map<uint64_t, Entry>& committed() const { return committed_; }
  std::set<std::string> proposals_committed() const;
  int steps() const { return static_cast<int>(now_); }
  int snapshots_installed() const { return snapshots_installed_; }

 private:
  struct Node {
    std::unique_ptr<RaftCore> core;
    bool up = true;
    HardState hard_state;              // persisted
    std::optional<Snapshot> snapshot;  // persisted
    std::vector<Entry> stored;         // persisted log, after the snapshot
    std::vector<Entry> applied;        // the state machine: every entry applied, from index 1
    std::vector<ReadState> reads;      // read states handed out, in order
    uint64_t last_commit = 0;
  };
  struct InFlight {
    uint64_t deliver_at;
    Message message;
  };

  RaftConfig ConfigFor(NodeId id);
  void Process(NodeId id, bool may_crash);
  void Deliver(bool ignore_delay);
  void Check();
  void Fail(const std::string& what);
  void MaybeCompact(NodeId id);
  void MaybeChangeMembership();

  std::mt19937_64 rng_;
  Faults faults_;
  int election_ticks_;
  std::vector<NodeId> ids_;
  std::vector<NodeId> initial_voters_;
  std::map<NodeId, Node> nodes_;
  std::vector<InFlight> network_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  uint64_t now_ = 0;
  uint64_t next_proposal_ = 0;
  std::map<uint64_t, NodeId> leaders_;   // term -> leader (election safety)
  std::map<uint64_t, Entry> committed_;  // index -> entry, from what any node applied
  std::string failure_;
  int snapshots_installed_ = 0;
};

}  // namespace dnsd::raft::sim
