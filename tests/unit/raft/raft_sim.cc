#include "raft_sim.h"

#include <algorithm>
#include <sstream>

namespace dnsd::raft::sim {
namespace {

std::string Hex(const std::string& data) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : data) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Unhex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// A snapshot of the simulated state machine: every applied entry, one per line (data in hex:
// membership changes are binary).
std::shared_ptr<const std::string> Serialize(const std::vector<Entry>& applied, size_t count) {
  std::string out;
  for (size_t i = 0; i < count; ++i) {
    out += std::to_string(applied[i].term) + " " + std::to_string(applied[i].index) + " " +
           Hex(applied[i].data) + "\n";
  }
  return std::make_shared<const std::string>(std::move(out));
}

std::vector<Entry> Deserialize(const std::string& data) {
  std::vector<Entry> out;
  std::istringstream in(data);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Entry e;
    fields >> e.term >> e.index;
    fields.get();
    std::string hex;
    std::getline(fields, hex);
    e.data = Unhex(hex);
    out.push_back(e);
  }
  return out;
}

}  // namespace

Cluster::Cluster(int nodes, uint64_t seed, Faults faults, int election_ticks, int spares)
    : rng_(seed), faults_(faults), election_ticks_(election_ticks) {
  for (int i = 1; i <= nodes + spares; ++i) ids_.push_back(static_cast<NodeId>(i));
  initial_voters_.assign(ids_.begin(), ids_.begin() + nodes);
  for (NodeId id : ids_) {
    Node& node = nodes_[id];
    node.core = std::make_unique<RaftCore>(ConfigFor(id), RaftStorageState{});
  }
}

RaftConfig Cluster::ConfigFor(NodeId id) {
  RaftConfig config;
  config.id = id;
  // A spare starts outside the cluster: it waits to be added and learns who is in it from
  // the leader's log.
  if (std::find(initial_voters_.begin(), initial_voters_.end(), id) != initial_voters_.end()) {
    config.voters = initial_voters_;
  }
  config.election_ticks = election_ticks_;
  config.heartbeat_ticks = 1;
  config.max_inflight = faults_.max_inflight;
  config.max_entries_per_message = faults_.max_entries_per_message;
  // Each node draws from the cluster's generator: deterministic for a seed.
  config.random = [this](uint64_t n) { return n == 0 ? 0 : rng_() % n; };
  return config;
}

void Cluster::Fail(const std::string& what) {
  if (!failure_.empty()) return;
  std::ostringstream out;
  out << "step " << now_ << ": " << what;
  failure_ = out.str();
}

void Cluster::Isolate(NodeId id) {
  for (NodeId other : ids_) {
    if (other == id) continue;
    cut_.insert({id, other});
    cut_.insert({other, id});
  }
}

void Cluster::Crash(NodeId id) {
  Node& node = nodes_.at(id);
  node.up = false;
  node.core.reset();
}

void Cluster::Restart(NodeId id) {
  Node& node = nodes_.at(id);
  if (node.up) return;
  node.core = std::make_unique<RaftCore>(
      ConfigFor(id), RaftStorageState{node.hard_state, node.snapshot, node.stored});
  node.up = true;
  // The state machine is rebuilt: from the snapshot, then the log.
  node.applied = node.snapshot ? Deserialize(*node.snapshot->data) : std::vector<Entry>{};
  node.last_commit = node.hard_state.commit;
}

void Cluster::Tick(NodeId id) {
  if (nodes_.at(id).up) nodes_.at(id).core->Tick();
}

void Cluster::TickAll(int ticks) {
  for (int t = 0; t < ticks; ++t) {
    for (NodeId id : ids_) Tick(id);
    Settle();
  }
}

absl::StatusOr<uint64_t> Cluster::Propose(NodeId id, std::string data) {
  if (!nodes_.at(id).up) return absl::UnavailableError("down");
  return nodes_.at(id).core->Propose(std::move(data));
}

NodeId Cluster::Leader() const {
  NodeId best = 0;
  uint64_t best_term = 0;
  for (const auto& [id, node] : nodes_) {
    if (node.up && node.core->role() == Role::kLeader && node.core->term() >= best_term) {
      best = id;
      best_term = node.core->term();
    }
  }
  return best;
}

void Cluster::Process(NodeId id, bool may_crash) {
  for (int round = 0; round < 16; ++round) {
    Node& node = nodes_.at(id);
    if (!node.up || !node.core->HasReady()) return;
    Ready ready = node.core->GetReady();
    // A leader's early messages leave before it persists anything: a crash right after
    // must lose nothing committed either.
    auto send = [&](std::vector<Message>& messages) {
      for (Message& m : messages) {
        const double r = std::uniform_real_distribution<>(0, 1)(rng_);
        if (r < faults_.loss) continue;
        const int copies = r > 1 - faults_.duplicate ? 2 : 1;
        for (int c = 0; c < copies; ++c) {
          const uint64_t delay =
              faults_.max_delay > 0 ? rng_() % static_cast<uint64_t>(faults_.max_delay + 1) : 0;
          network_.push_back({now_ + delay, m});
        }
      }
    };
    send(ready.early_messages);
    if (may_crash && faults_.crash > 0 &&
        std::uniform_real_distribution<>(0, 1)(rng_) < faults_.crash / 4) {
      Crash(id);  // after reading, before persisting: none of it happened
      return;
    }
    if (ready.snapshot) {
      ++snapshots_installed_;
      node.snapshot = ready.snapshot;
      node.stored.clear();
      node.applied = Deserialize(*ready.snapshot->data);
      for (const Entry& e : node.applied) {
        auto [it, inserted] = committed_.emplace(e.index, e);
        if (!inserted && !(it->second == e)) Fail("a snapshot disagrees with committed entries");
      }
    }
    if (ready.hard_state) node.hard_state = *ready.hard_state;
    if (!ready.entries.empty()) {
      const uint64_t base = node.snapshot ? node.snapshot->index : 0;
      node.stored.resize(ready.entries.front().index - base - 1);
      node.stored.insert(node.stored.end(), ready.entries.begin(), ready.entries.end());
    }
    send(ready.messages);
    for (const ReadState& read : ready.read_states) node.reads.push_back(read);
    for (const Entry& e : ready.committed) {
      if (e.index != node.applied.size() + 1) {
        Fail("node " + std::to_string(id) + " applied index " + std::to_string(e.index) +
             " out of order");
        return;
      }
      auto [it, inserted] = committed_.emplace(e.index, e);
      if (!inserted && !(it->second == e)) {
        Fail("state machine safety: index " + std::to_string(e.index) + " applied as term " +
             std::to_string(e.term) + " by node " + std::to_string(id) + " but as term " +
             std::to_string(it->second.term) + " elsewhere");
        return;
      }
      node.applied.push_back(e);
    }
    node.core->Advance(ready);
  }
}

void Cluster::Deliver(bool ignore_delay) {
  std::vector<InFlight> due, later;
  for (auto& f : network_)
    ((ignore_delay || f.deliver_at <= now_) ? due : later).push_back(std::move(f));
  network_ = std::move(later);
  std::shuffle(due.begin(), due.end(), rng_);  // reordering
  for (auto& f : due) {
    const Message& m = f.message;
    if (cut_.count({m.from, m.to}) || !nodes_.at(m.to).up) continue;
    RaftCore& to = *nodes_.at(m.to).core;
    // A member refuses vote requests from nodes that are not voters in its configuration
    // (removed ones, or ones whose promotion it has not heard of); any other refusal is a bug.
    const bool stranger = (m.type == MessageType::kVote || m.type == MessageType::kPreVote) &&
                          to.IsMember(m.to) && !to.IsVoter(m.from);
    if (auto s = to.Step(m); !s.ok() && !stranger) {
      Fail(std::string("a valid message was refused: ") + std::string(s.message()));
    }
    Process(m.to, false);
  }
}

void Cluster::Settle(int max_rounds) {
  for (int round = 0; round < max_rounds; ++round) {
    for (NodeId id : ids_) Process(id, false);
    if (network_.empty()) break;
    Deliver(true);
  }
  Check();
}

void Cluster::Calm() {
  Faults calm;
  calm.propose = 0;
  calm.max_entries_per_message = faults_.max_entries_per_message;
  calm.max_inflight = faults_.max_inflight;
  faults_ = calm;
  cut_.clear();
  for (NodeId id : ids_) Restart(id);
}

std::set<std::string> Cluster::proposals_committed() const {
  std::set<std::string> out;
  for (const auto& [index, e] : committed_) {
    if (!e.data.empty() && !IsConfChange(e.data)) out.insert(e.data);
  }
  return out;
}

int Cluster::conf_changes_committed() const {
  int n = 0;
  for (const auto& [index, e] : committed_) {
    auto change = IsConfChange(e.data) ? DecodeConfChange(e.data) : absl::DataLossError("");
    n += change.ok() && change->type != ConfChangeType::kSet ? 1 : 0;  // kSet: the bootstrap
  }
  return n;
}

absl::StatusOr<uint64_t> Cluster::ProposeConfChange(NodeId id, const ConfChange& change) {
  if (!nodes_.at(id).up) return absl::UnavailableError("down");
  return nodes_.at(id).core->ProposeConfChange(change);
}

void Cluster::MaybeChangeMembership() {
  const NodeId leader = Leader();
  if (leader == 0) return;
  const ConfState& conf = nodes_.at(leader).core->conf();
  std::vector<NodeId> outside, removable;
  for (NodeId id : ids_) {
    const bool member =
        std::find(conf.voters.begin(), conf.voters.end(), id) != conf.voters.end() ||
        std::find(conf.learners.begin(), conf.learners.end(), id) != conf.learners.end();
    if (!member) outside.push_back(id);
    if (member && id != leader) removable.push_back(id);
  }
  ConfChange change;
  const uint64_t pick = rng_() % 3;
  if (pick == 0 && !conf.learners.empty()) {
    change.type = ConfChangeType::kPromote;
    change.node = conf.learners[rng_() % conf.learners.size()];
  } else if (pick == 1 && !outside.empty()) {
    change.type = ConfChangeType::kAddLearner;
    change.node = outside[rng_() % outside.size()];
  } else if (pick == 2 && !removable.empty() && conf.voters.size() > 2) {
    change.type = ConfChangeType::kRemove;
    change.node = removable[rng_() % removable.size()];
  } else {
    return;
  }
  nodes_.at(leader).core->ProposeConfChange(change).IgnoreError();  // may be refused: fine
}

void Cluster::Step() {
  ++now_;
  std::uniform_real_distribution<> coin(0, 1);
  for (NodeId id : ids_) {
    Node& node = nodes_.at(id);
    if (node.up && coin(rng_) < faults_.crash) {
      Crash(id);
    } else if (!node.up && coin(rng_) < faults_.restart) {
      Restart(id);
    }
  }
  if (coin(rng_) < faults_.partition) {
    for (NodeId a : ids_) {
      for (NodeId b : ids_) {
        if (a != b && coin(rng_) < 0.3) cut_.insert({a, b});
      }
    }
  }
  if (coin(rng_) < faults_.heal) cut_.clear();
  for (NodeId id : ids_) Tick(id);
  for (NodeId id : ids_) {
    if (coin(rng_) < faults_.compact) MaybeCompact(id);
  }
  if (coin(rng_) < faults_.conf_change) MaybeChangeMembership();
  if (coin(rng_) < faults_.propose) {
    if (NodeId leader = Leader()) {
      nodes_.at(leader).core->Propose("p" + std::to_string(next_proposal_++)).IgnoreError();
    }
  }
  for (NodeId id : ids_) Process(id, true);
  Deliver(false);
  for (NodeId id : ids_) Process(id, true);
  Check();
}

void Cluster::CompactAll(NodeId id) {
  Node& node = nodes_.at(id);
  const uint64_t index = node.core->applied_index();
  auto data = Serialize(node.applied, index);
  node.snapshot = Snapshot{index, node.applied[index - 1].term, data, node.core->conf_at(index)};
  node.stored.clear();
  for (uint64_t i = index + 1; i <= node.core->last_index(); ++i) {
    node.stored.push_back(node.core->log()[i - node.core->first_index()]);
  }
  if (auto s = node.core->Compact(index, data); !s.ok()) Fail(std::string(s.message()));
}

void Cluster::MaybeCompact(NodeId id) {
  Node& node = nodes_.at(id);
  if (!node.up) return;
  RaftCore& core = *node.core;
  const uint64_t applied = core.applied_index();
  if (applied <= core.first_index()) return;
  const uint64_t index = core.first_index() + rng_() % (applied - core.first_index() + 1);
  auto data = Serialize(node.applied, index);
  // Persisted first (the snapshot, then the log without what it covers), then the core.
  node.snapshot = Snapshot{index, node.applied[index - 1].term, data, core.conf_at(index)};
  const uint64_t base = node.stored.empty() ? 0 : node.stored.front().index - 1;
  node.stored.erase(node.stored.begin(),
                    node.stored.begin() + static_cast<std::ptrdiff_t>(std::min<uint64_t>(
                                              index - base, node.stored.size())));
  if (auto s = core.Compact(index, data); !s.ok()) Fail(std::string(s.message()));
}

void Cluster::Check() {
  if (!failure_.empty()) return;
  // Election safety: at most one leader per term, ever.
  for (const auto& [id, node] : nodes_) {
    if (!node.up || node.core->role() != Role::kLeader) continue;
    auto [it, inserted] = leaders_.emplace(node.core->term(), id);
    if (!inserted && it->second != id) {
      return Fail("election safety: nodes " + std::to_string(it->second) + " and " +
                  std::to_string(id) + " both lead term " + std::to_string(node.core->term()));
    }
  }
  // Log matching: where two logs have an entry of the same term at the same index, they are
  // identical up to there (below their first indexes both are committed snapshots).
  for (auto a = nodes_.begin(); a != nodes_.end(); ++a) {
    for (auto b = std::next(a); b != nodes_.end(); ++b) {
      if (!a->second.up || !b->second.up) continue;
      const RaftCore& ca = *a->second.core;
      const RaftCore& cb = *b->second.core;
      const uint64_t from = std::max(ca.first_index(), cb.first_index());
      const uint64_t to = std::min(ca.last_index(), cb.last_index());
      auto entry = [](const RaftCore& c, uint64_t i) { return c.log()[i - c.first_index()]; };
      uint64_t first_difference = from;
      while (first_difference <= to && entry(ca, first_difference) == entry(cb, first_difference)) {
        ++first_difference;
      }
      for (uint64_t i = first_difference; i <= to; ++i) {
        if (entry(ca, i).term == entry(cb, i).term) {
          return Fail("log matching: nodes " + std::to_string(a->first) + " and " +
                      std::to_string(b->first) + " agree on the term at index " +
                      std::to_string(i) + " but differ before it");
        }
      }
    }
  }
  // Leader completeness: the leader of the highest term holds every committed entry.
  if (NodeId leader = Leader()) {
    const RaftCore& core = *nodes_.at(leader).core;
    for (const auto& [index, e] : committed_) {
      if (index < core.first_index()) continue;  // in its snapshot
      if (index > core.last_index() || !(core.log()[index - core.first_index()] == e)) {
        return Fail("leader completeness: leader " + std::to_string(leader) + " of term " +
                    std::to_string(nodes_.at(leader).core->term()) + " lacks committed index " +
                    std::to_string(index));
      }
    }
  }
  // Commit indexes never go back while a node runs, and never past what is persisted locally.
  for (auto& [id, node] : nodes_) {
    if (!node.up) continue;
    const uint64_t commit = node.core->commit_index();
    if (commit < node.last_commit)
      return Fail("commit index went back on node " + std::to_string(id));
    node.last_commit = commit;
  }
}

}  // namespace dnsd::raft::sim
