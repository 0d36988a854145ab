// Several RaftNodes in one process over an in-memory transport, each with its own thread,
// clock and LevelDB directory: elections, replicated proposals with their results, a leader
// stopped and another elected, a node restarted from its directory catching up, partitions.
#include "raft/raft_node.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "testing/recorder.h"

namespace dnsd::raft {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Delivers messages between the nodes registered with it, unless the link is cut.
class Hub : public RaftTransport {
 public:
  void Attach(RaftNode* node) {
    std::lock_guard lock(mu_);
    nodes_[node->id()] = node;
  }
  void Detach(NodeId id) {
    std::lock_guard lock(mu_);
    nodes_.erase(id);
  }
  void Cut(NodeId a, NodeId b) {
    std::lock_guard lock(mu_);
    cut_.insert({a, b});
    cut_.insert({b, a});
  }
  void Heal() {
    std::lock_guard lock(mu_);
    cut_.clear();
  }
  void Send(const Message& m) override {
    std::lock_guard lock(mu_);
    if (cut_.count({m.from, m.to})) return;
    auto it = nodes_.find(m.to);
    if (it != nodes_.end()) it->second->Receive(m);
  }

 private:
  std::mutex mu_;
  std::map<NodeId, RaftNode*> nodes_;
  std::set<std::pair<NodeId, NodeId>> cut_;
};

using testing::Recorder;

class RaftNodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("dnsd-raftnode-" + std::to_string(getpid()));
    fs::remove_all(root_);
    // Created before any node thread runs: the map is not changed while they use it.
    for (NodeId id = 1; id <= 3; ++id) recorders_[id];
    for (NodeId id = 1; id <= 3; ++id) StartNode(id);
  }
  void TearDown() override {
    for (auto& [id, node] : nodes_) {
      if (node) {
        hub_.Detach(id);
        node->Stop();
      }
    }
    nodes_.clear();
    fs::remove_all(root_);
  }
  void StartNode(NodeId id) {
    RaftNodeOptions options;
    options.core.id = id;
    options.core.voters = {1, 2, 3};
    options.core.election_ticks = 10;
    options.core.random = [id](uint64_t n) { return n == 0 ? 0 : (id * 7919 + rolls_++) % n; };
    options.dir = (root_ / std::to_string(id)).string();
    options.tick_ms = 10;
    options.compact_every = compact_every_;
    Recorder* recorder = &recorders_.at(id);
    // The state is frozen on the node's thread; the encoder, on the compaction's, may be held
    // at a gate or fail, as a slow or full disk would make it.
    options.take_snapshot = [this, id,
                             recorder]() -> absl::StatusOr<RaftNodeOptions::SnapshotEncoder> {
      std::shared_future<void> gate = encoder_gates_[id - 1];
      return [this, id, gate, data = recorder->Serialize()]() -> absl::StatusOr<std::string> {
        if (gate.valid()) gate.wait();
        encodes_started_[id - 1]++;
        if (encoder_failures_[id - 1].fetch_sub(1) > 0) return absl::UnavailableError("no space");
        return data;
      };
    };
    options.restore = [recorder](const std::string& data) { return recorder->Restore(data); };
    auto node = RaftNode::Create(options, hub_, [recorder](uint64_t index, std::string_view data) {
      return recorder->Apply(index, data);
    });
    ASSERT_TRUE(node.ok()) << node.status();
    nodes_[id] = std::move(*node);
    hub_.Attach(nodes_[id].get());
    nodes_[id]->Start();
  }
  void StopNode(NodeId id) {
    hub_.Detach(id);
    nodes_[id]->Stop();
    nodes_[id].reset();
    recorders_[id].Clear();  // the state machine lives in memory; replay rebuilds it
  }
  NodeId WaitForLeader(NodeId except = 0) {
    for (int i = 0; i < 500; ++i) {
      for (auto& [id, node] : nodes_) {
        if (node && id != except && node->status().role == Role::kLeader) return id;
      }
      std::this_thread::sleep_for(10ms);
    }
    return 0;
  }
  absl::Status ProposeAndWait(NodeId id, std::string data) {
    std::promise<absl::Status> done;
    auto result = done.get_future();
    nodes_[id]->Propose(std::move(data), [&](absl::Status s) { done.set_value(s); });
    if (result.wait_for(10s) != std::future_status::ready) return absl::DeadlineExceededError("");
    return result.get();
  }
  // Restarted from its own directory (snapshot and log), node `id` has what `leader` has.
  void ExpectRestartMatches(NodeId id, NodeId leader, size_t entries) {
    StopNode(id);
    StartNode(id);
    ASSERT_TRUE(WaitApplied(id, entries));
    EXPECT_EQ(recorders_[id].Applied(), recorders_[leader].Applied());
  }
  // Compactions run beside the node: one is on disk some time after it is due.
  bool WaitCompacted(NodeId id, uint64_t index) {
    for (int i = 0; i < 500; ++i) {
      if (nodes_[id]->status().snapshot_index >= index) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  bool WaitApplied(NodeId id, size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (recorders_[id].Applied().size() >= n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  static inline std::atomic<uint64_t> rolls_{0};
  uint64_t compact_every_ = 0;
  // Per node, set while it is stopped (its thread reads it): its encoders wait at the gate.
  std::shared_future<void> encoder_gates_[3];
  std::atomic<int> encoder_failures_[3] = {};  // per node: the next this many encoders fail
  std::atomic<int> encodes_started_[3] = {};
  fs::path root_;
  Hub hub_;
  std::map<NodeId, Recorder> recorders_;
  std::map<NodeId, std::unique_ptr<RaftNode>> nodes_;
};

TEST_F(RaftNodeTest, ReplicatesProposalsWithTheirResults) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(ProposeAndWait(leader, "v" + std::to_string(i)).ok());
  EXPECT_EQ(ProposeAndWait(leader, "bad one").code(), absl::StatusCode::kFailedPrecondition)
      << "the state machine's result comes back to the proposer";
  const NodeId follower = leader % 3 + 1;
  EXPECT_EQ(ProposeAndWait(follower, "x").code(), absl::StatusCode::kFailedPrecondition);
  for (NodeId id = 1; id <= 3; ++id) {
    ASSERT_TRUE(WaitApplied(id, 21)) << id;
    EXPECT_EQ(recorders_[id].Applied(), recorders_[leader].Applied());
  }
}

TEST_F(RaftNodeTest, ConcurrentProposalsAreAllAppliedInOneOrder) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 25; ++i) {
        if (ProposeAndWait(leader, "c" + std::to_string(c) + "-" + std::to_string(i)).ok()) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(ok.load(), 100);
  for (NodeId id = 1; id <= 3; ++id) ASSERT_TRUE(WaitApplied(id, 100));
  EXPECT_EQ(recorders_[1].Applied(), recorders_[2].Applied());
  EXPECT_EQ(recorders_[2].Applied(), recorders_[3].Applied());
}

TEST_F(RaftNodeTest, LeaderLossElectsAnotherAndARestartedNodeCatchesUp) {
  const NodeId first = WaitForLeader();
  ASSERT_NE(first, 0u);
  ASSERT_TRUE(ProposeAndWait(first, "before").ok());
  StopNode(first);
  const NodeId second = WaitForLeader(first);
  ASSERT_NE(second, 0u);
  ASSERT_NE(second, first);
  ASSERT_TRUE(ProposeAndWait(second, "after").ok());
  StartNode(first);  // from its directory: replays, then catches up
  ASSERT_TRUE(WaitApplied(first, 2));
  EXPECT_EQ(recorders_[first].Applied(), (std::vector<std::string>{"before", "after"}));
}

TEST_F(RaftNodeTest, MinorityLeaderCannotCommitAndStepsDown) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  for (NodeId other = 1; other <= 3; ++other) {
    if (other != leader) hub_.Cut(leader, other);
  }
  std::promise<absl::Status> done;
  auto result = done.get_future();
  nodes_[leader]->Propose("isolated", [&](absl::Status s) { done.set_value(s); });
  const NodeId fresh = WaitForLeader(leader);
  ASSERT_NE(fresh, 0u);
  ASSERT_TRUE(ProposeAndWait(fresh, "majority").ok());
  hub_.Heal();
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  const absl::Status lost = result.get();
  EXPECT_EQ(lost.code(), absl::StatusCode::kUnavailable) << "never committed, and said so";
  EXPECT_NE(std::string(lost.message()).find("not applied"), std::string::npos);
  ASSERT_TRUE(WaitApplied(leader, 1));
  EXPECT_EQ(recorders_[leader].Applied(), (std::vector<std::string>{"majority"}));
}

// The compaction rule: every `compact_every` entries while the snapshot is small; once it is
// large, not before the log since holds a quarter of its bytes (so that a 65 MB state is not
// rewritten for every 10,000 small entries), and never with compact_every 0.
TEST(CompactionDueTest, CountThenShareOfALargeSnapshot) {
  constexpr uint64_t kMiB = 1 << 20;
  // Small snapshot: the count alone decides.
  EXPECT_FALSE(CompactionDue(10'000, 4, kMiB, 9'999, 10 * kMiB, kMiB));
  EXPECT_TRUE(CompactionDue(10'000, 4, kMiB, 10'000, 1, kMiB));
  EXPECT_TRUE(CompactionDue(10'000, 4, kMiB, 10'000, 0, 0)) << "no snapshot yet";
  // Large snapshot: the count and a quarter of its size in log.
  EXPECT_FALSE(CompactionDue(10'000, 4, kMiB, 10'000, 1'000'000, 64 * kMiB));
  EXPECT_FALSE(CompactionDue(10'000, 4, kMiB, 160'000, 16 * kMiB - 1, 64 * kMiB));
  EXPECT_TRUE(CompactionDue(10'000, 4, kMiB, 160'000, 16 * kMiB, 64 * kMiB));
  EXPECT_FALSE(CompactionDue(10'000, 4, kMiB, 9'999, 64 * kMiB, 64 * kMiB)) << "count first";
  // Off: no share (the count alone), no compaction at all.
  EXPECT_TRUE(CompactionDue(10'000, 0, kMiB, 10'000, 0, 64 * kMiB));
  EXPECT_FALSE(CompactionDue(0, 4, kMiB, 1'000'000, 64 * kMiB, kMiB));
}

class RaftNodeCompactionTest : public RaftNodeTest {
 protected:
  void SetUp() override {
    compact_every_ = 5;
    RaftNodeTest::SetUp();
  }
};

// A snapshot is encoded and written beside the node: while it takes its time, proposals
// commit and apply as usual (on the node's thread it held them all up). Once it is on disk the
// log is cut there, and a restart from snapshot and log has everything.
TEST_F(RaftNodeCompactionTest, WritesGoOnWhileASnapshotIsEncoded) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  std::promise<void> open;
  const std::shared_future<void> gate = open.get_future().share();
  for (NodeId id = 1; id <= 3; ++id) {
    StopNode(id);
    encoder_gates_[id - 1] = gate;
  }
  for (NodeId id = 1; id <= 3; ++id) StartNode(id);
  const NodeId now_leader = WaitForLeader();
  ASSERT_NE(now_leader, 0u);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(ProposeAndWait(now_leader, "v" + std::to_string(i)).ok()) << i;
  }
  for (NodeId id = 1; id <= 3; ++id) ASSERT_TRUE(WaitApplied(id, 30)) << id;
  EXPECT_EQ(nodes_[now_leader]->status().snapshot_index, 0u)
      << "nothing is cut before it is on disk";
  EXPECT_TRUE(nodes_[now_leader]->status().compacting);
  open.set_value();
  for (NodeId id = 1; id <= 3; ++id) {
    EXPECT_TRUE(WaitCompacted(id, 25)) << id << ": " << nodes_[id]->status().snapshot_index;
  }
  const NodeId follower = now_leader % 3 + 1;
  ExpectRestartMatches(follower, now_leader, 30);
}

// A snapshot that cannot be made (its encoder or its file fails) leaves the log whole and
// the node working; the compaction is tried again later and succeeds once it can.
TEST_F(RaftNodeCompactionTest, AFailedSnapshotLeavesTheLogWholeAndIsTriedAgain) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  encoder_failures_[leader - 1] = 2;
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(ProposeAndWait(leader, "v" + std::to_string(i)).ok());
  EXPECT_TRUE(WaitCompacted(leader, 10)) << nodes_[leader]->status().snapshot_index;
  EXPECT_GE(encodes_started_[leader - 1].load(), 3) << "two failed, then one was stored";
  EXPECT_EQ(nodes_[leader]->status().snapshot_failures, 2u);
  EXPECT_GE(nodes_[leader]->status().snapshots_taken, 1u);
  StopNode(leader);
  StartNode(leader);
  ASSERT_TRUE(WaitApplied(leader, 12));
  EXPECT_EQ(recorders_[leader].Applied().size(), 12u);
}

// A follower cut off while its own compaction is being written comes back behind the
// leader's compacted log: the leader's snapshot wins, its own is dropped unfinished, and it
// ends (and restarts) with the leader's state.
TEST_F(RaftNodeCompactionTest, ALeadersSnapshotReplacesACompactionInProgress) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  const NodeId follower = leader % 3 + 1;
  std::promise<void> open;
  StopNode(follower);
  encoder_gates_[follower - 1] = open.get_future().share();
  StartNode(follower);
  const NodeId now_leader = WaitForLeader(follower);
  ASSERT_NE(now_leader, 0u);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(ProposeAndWait(now_leader, "a" + std::to_string(i)).ok());
  ASSERT_TRUE(WaitApplied(follower, 6));
  for (NodeId id = 1; id <= 3; ++id) {
    if (id != follower) hub_.Cut(id, follower);
  }
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(ProposeAndWait(now_leader, "b" + std::to_string(i)).ok());
  ASSERT_TRUE(WaitCompacted(now_leader, 20));
  hub_.Heal();
  // The follower's thread waits for its own compaction before storing the leader's snapshot.
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(nodes_[follower]->status().snapshot_index, 0u);
  open.set_value();
  ASSERT_TRUE(WaitApplied(follower, 26));
  EXPECT_EQ(recorders_[follower].Applied(), recorders_[now_leader].Applied());
  EXPECT_GE(nodes_[follower]->status().snapshots_restored, 1u);
  EXPECT_GE(nodes_[follower]->status().snapshot_index, 20u);
  ExpectRestartMatches(follower, now_leader, 26);
}

// The log is compacted every 5 entries; a follower that was down comes back, gets the
// leader's snapshot, and then the entries after it.
TEST_F(RaftNodeCompactionTest, FollowerBehindTheCompactedLogCatchesUpBySnapshot) {
  const NodeId leader = WaitForLeader();
  ASSERT_NE(leader, 0u);
  const NodeId follower = leader % 3 + 1;
  StopNode(follower);
  for (int i = 0; i < 30; ++i) ASSERT_TRUE(ProposeAndWait(leader, "v" + std::to_string(i)).ok());
  EXPECT_TRUE(WaitCompacted(leader, 25)) << nodes_[leader]->status().snapshot_index;
  StartNode(follower);
  ASSERT_TRUE(WaitApplied(follower, 30));
  EXPECT_EQ(recorders_[follower].Applied(), recorders_[leader].Applied());
  ASSERT_TRUE(ProposeAndWait(leader, "more").ok());
  ASSERT_TRUE(WaitApplied(follower, 31));
  // Restarted from its own snapshot and log, it has everything again.
  ExpectRestartMatches(follower, leader, 31);
}

}  // namespace
}  // namespace dnsd::raft
