// Three RaftClusters in one process, talking over real sockets on loopback through the peer
// port (net::GrpcTransport serving, grpc++ calling): the node factory the architecture asks
// for. Writes through any node (followers forward), results that come from the state machine
// (a refusal is not mistaken for "not the leader"), read-your-writes on the forwarding node,
// a leader that goes away, and peer calls from strangers refused and counted.
#include "node/raft_cluster.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "node/peer_auth.h"
#include "testing/files.h"
#include "testing/recorder.h"

namespace dnsd::node {
namespace {

using namespace std::chrono_literals;

using testing::Recorder;

struct TestNode {
  common::MetricsRegistry metrics;
  Recorder recorder{8192};  // snapshots of ~8 KiB: several 1 KiB chunks
  std::unique_ptr<RaftCluster> cluster;
};

class RaftClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir("raft-cluster");
    // Distinct HTTP ports give distinct Raft ids; the peer ports are picked by the system.
    for (int i = 0; i < 3; ++i) members_.push_back(cluster::Member{"127.0.0.1", 30001 + i});
    for (int i = 0; i < 3; ++i) Create(i);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(nodes_[i]->cluster->Listen().ok());
    for (int i = 0; i < 3; ++i) {
      std::lock_guard lock(ports_mu_);
      ports_[members_[i].http_port] = nodes_[i]->cluster->peer_port();
    }
    for (int i = 0; i < 3; ++i) nodes_[i]->cluster->Start();
  }
  void TearDown() override {
    nodes_.clear();
    std::filesystem::remove_all(dir_);
  }

  // peer_port 0: one picked by the system (a restarted node takes its old one back, where
  // the others' clients look for it).
  void Create(int i, int peer_port = 0) {
    auto node = std::make_unique<TestNode>();
    RaftClusterOptions options;
    auto membership = cluster::BuildMembership(members_, members_[i]);
    ASSERT_TRUE(membership.ok());
    options.membership = *membership;
    options.raft_dir = dir_ + "/node" + std::to_string(i);
    options.peer_listen_address = "127.0.0.1";
    options.peer_port = peer_port;
    options.tick_ms = 20;
    if (static_cast<size_t>(i) < keys_.size()) options.cluster_key = keys_[i];
    options.propose_timeout_ms = 5000;
    options.peer_target = [this](const cluster::Member& m) {
      std::lock_guard lock(ports_mu_);
      return "127.0.0.1:" + std::to_string(ports_.at(m.http_port));
    };
    Recorder* recorder = &node->recorder;
    if (compact_every_ > 0) {
      options.compact_every = compact_every_;
      options.snapshot_chunk_bytes = 1024;
      options.take_snapshot =
          [recorder]() -> absl::StatusOr<raft::RaftNodeOptions::SnapshotEncoder> {
        return [data = recorder->Serialize()]() -> absl::StatusOr<std::string> { return data; };
      };
      options.restore = [recorder](const std::string& data) { return recorder->Restore(data); };
    }
    auto created = RaftCluster::Create(
        options,
        [recorder](uint64_t index, std::string_view data) { return recorder->Apply(index, data); },
        node->metrics);
    ASSERT_TRUE(created.ok()) << created.status();
    node->cluster = std::move(*created);
    if (nodes_.size() <= static_cast<size_t>(i)) nodes_.resize(i + 1);
    nodes_[i] = std::move(node);
  }

  // The index of the leader all live nodes agree on, waiting up to 10 s.
  int WaitForLeader() {
    for (int round = 0; round < 1000; ++round) {
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!nodes_[i]) continue;
        if (nodes_[i]->cluster->raft_status().role == raft::Role::kLeader)
          return static_cast<int>(i);
      }
      std::this_thread::sleep_for(10ms);
    }
    for (auto& n : nodes_) {
      if (!n) continue;  // tell what each node saw, for the failure message
      const auto st = n->cluster->raft_status();
      ADD_FAILURE() << "no leader: a node is " << raft::RoleName(st.role) << " in term " << st.term;
    }
    return -1;
  }

  absl::Status ProposeAndWait(int i, std::string entry) {
    std::promise<absl::Status> result;
    nodes_[i]->cluster->Propose(std::move(entry), [&](absl::Status s) { result.set_value(s); });
    return result.get_future().get();
  }

  bool WaitApplied(int i, size_t n) {
    for (int round = 0; round < 1000; ++round) {
      if (nodes_[i]->recorder.Applied().size() >= n) return true;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  std::string dir_;
  std::vector<cluster::Member> members_;
  uint64_t compact_every_ = 0;     // > 0: compaction, and snapshots sent in 1 KiB chunks
  std::vector<std::string> keys_;  // cluster keys by node; none: peers are not authenticated
  std::mutex ports_mu_;
  std::map<int, int> ports_;  // HTTP port (the member's name) -> peer port
  std::vector<std::unique_ptr<TestNode>> nodes_;
};

TEST_F(RaftClusterTest, WritesThroughEveryNodeApplyEverywhereInOneOrder) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 3; ++i) {
      const std::string entry = "w" + std::to_string(round) + "-" + std::to_string(i);
      ASSERT_TRUE(ProposeAndWait(i, entry).ok()) << entry;
      // Read-your-writes: the node the client wrote through has applied it when it answers.
      auto applied = nodes_[i]->recorder.Applied();
      ASSERT_FALSE(applied.empty());
      EXPECT_EQ(applied.back(), entry) << "node " << i;
    }
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitApplied(i, 15));
  EXPECT_EQ(nodes_[0]->recorder.Applied(), nodes_[1]->recorder.Applied());
  EXPECT_EQ(nodes_[0]->recorder.Applied(), nodes_[2]->recorder.Applied());
  const int follower = (leader + 1) % 3;
  EXPECT_GE(nodes_[follower]->metrics.GetCounter("dnsd_raft_forwarded_writes_total", "").value(),
            5u);
}

TEST_F(RaftClusterTest, StateMachineRefusalComesBackThroughAFollower) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int follower = (leader + 1) % 3;
  const absl::Status refused = ProposeAndWait(follower, "bad-cas");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.message(), "refused by the machine");
  EXPECT_FALSE(raft::IsNotLeader(refused));
  // Applied exactly once, everywhere.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitApplied(i, 1));
    EXPECT_EQ(nodes_[i]->recorder.Applied(), std::vector<std::string>{"bad-cas"});
  }
}

TEST_F(RaftClusterTest, WritesResumeAfterTheLeaderGoesAway) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(ProposeAndWait(leader, "before").ok());
  nodes_[leader].reset();  // stops without handing over: the others must elect
  const int survivor = (leader + 1) % 3;
  // A write forwarded to the old leader before its connection was seen to close fails as
  // "outcome unknown"; here nothing can have applied it, so the client's retry is safe.
  absl::Status after;
  for (int attempt = 0; attempt < 5; ++attempt) {
    after = ProposeAndWait(survivor, "after");
    if (after.code() != absl::StatusCode::kUnavailable) break;
  }
  ASSERT_TRUE(after.ok()) << after;
  const int other = (leader + 2) % 3;
  ASSERT_TRUE(WaitApplied(other, 2));
  EXPECT_EQ(nodes_[other]->recorder.Applied(), (std::vector<std::string>{"before", "after"}));
  const int new_leader = WaitForLeader();
  EXPECT_NE(new_leader, leader);
  // The lost member shows as not UP.
  for (const auto& m : nodes_[survivor]->cluster->members()) {
    if (m.member == members_[leader]) {
      EXPECT_NE(m.state, MemberState::kUp);
    }
  }
}

class RaftClusterCompactionTest : public RaftClusterTest {
 protected:
  void SetUp() override {
    compact_every_ = 10;
    RaftClusterTest::SetUp();
  }
};

// A member that was away while the others compacted their logs catches up from a snapshot
// sent over the peer port in chunks (the snapshot is ~8 KiB, the chunks 1 KiB), and ends
// with the same state as the leader.
TEST_F(RaftClusterCompactionTest, AMemberBehindTheCompactedLogCatchesUpByChunkedSnapshot) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  const int away = (leader + 1) % 3;
  ASSERT_TRUE(ProposeAndWait(leader, "first").ok());
  ASSERT_TRUE(WaitApplied(away, 1));
  nodes_[away].reset();
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(ProposeAndWait(leader, "w" + std::to_string(i)).ok());
  // Compactions run beside the node: the first is on disk some time after it is due.
  for (int i = 0; i < 500 && nodes_[leader]->cluster->raft_status().snapshot_index <= 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GT(nodes_[leader]->cluster->raft_status().snapshot_index, 1u);
  int old_port;
  {
    std::lock_guard lock(ports_mu_);
    old_port = ports_.at(members_[away].http_port);
  }
  Create(away, old_port);
  ASSERT_TRUE(nodes_[away]->cluster->Listen().ok());
  nodes_[away]->cluster->Start();
  const bool caught_up = WaitApplied(away, 41);
  const auto st = nodes_[away]->cluster->raft_status();
  ASSERT_TRUE(caught_up) << "applied " << st.applied << " commit " << st.commit << " last "
                         << st.last_index << " snapshot " << st.snapshot_index << " restored "
                         << st.snapshots_restored << " term " << st.term << " recorder "
                         << nodes_[away]->recorder.Applied().size();
  EXPECT_GE(nodes_[away]->cluster->raft_status().snapshots_restored, 1u);
  EXPECT_EQ(nodes_[away]->recorder.Applied(), nodes_[leader]->recorder.Applied());
  ASSERT_TRUE(ProposeAndWait(away, "after").ok());  // and it takes part from there
  ASSERT_TRUE(WaitApplied(away, 42));
}

TEST_F(RaftClusterTest, GracefulStopHandsLeadershipOver) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(ProposeAndWait(leader, "x").ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(WaitApplied(i, 1));
  // Wait until the followers are seen as reachable, so the leader has one to hand over to.
  for (int round = 0; round < 500; ++round) {
    int up = 0;
    for (const auto& m : nodes_[leader]->cluster->members()) up += m.state == MemberState::kUp;
    if (up == 3) break;
    std::this_thread::sleep_for(10ms);
  }
  const uint64_t term = nodes_[leader]->cluster->raft_status().term;
  nodes_[leader]->cluster->Stop(/*transfer_ms=*/2000);
  const int survivor = (leader + 1) % 3;
  const auto status = nodes_[survivor]->cluster->raft_status();
  // The new leader took over at once (TimeoutNow), in the next term, without an election
  // timeout's worth of unavailability.
  EXPECT_NE(status.leader, 0u);
  EXPECT_EQ(status.term, term + 1);
  ASSERT_TRUE(ProposeAndWait(survivor, "y").ok());
}

TEST_F(RaftClusterTest, PeerCallsFromStrangersAreRefusedAndCounted) {
  const int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  PeerClient stranger("127.0.0.1:" + std::to_string(nodes_[0]->cluster->peer_port()));
  raft::Message m;
  m.type = raft::MessageType::kHeartbeat;
  m.from = 12345;  // not a member
  m.to = members_[0].raft_id();
  m.term = 1000;
  stranger.SendRaft(m);
  auto& bad = nodes_[0]->metrics.GetCounter("dnsd_peer_bad_messages_total", "");
  for (int round = 0; round < 500 && bad.value() == 0; ++round) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(bad.value(), 1u);
  // The stranger's huge term did not disturb the cluster.
  EXPECT_LT(nodes_[0]->cluster->raft_status().term, 1000u);
  ASSERT_TRUE(ProposeAndWait(0, "still-fine").ok());
}

// Members holding the cluster key; node 2 holds another one.
class RaftClusterKeyTest : public RaftClusterTest {
 protected:
  void SetUp() override {
    keys_ = {std::string(32, 'k'), std::string(32, 'k'), std::string(32, 'x')};
    RaftClusterTest::SetUp();
  }
};

TEST_F(RaftClusterKeyTest, OnlyKeyHoldersTakePartInTheCluster) {
  int leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_NE(leader, 2) << "a member with the wrong key cannot win an election";
  ASSERT_TRUE(ProposeAndWait(leader, "with-the-key").ok());
  ASSERT_TRUE(WaitApplied(1 - leader, 1));
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(nodes_[2]->recorder.Applied().empty()) << "nothing reaches the wrong key's node";
  auto& refused = nodes_[2]->metrics.GetCounter("dnsd_peer_unauthenticated_calls_total", "");
  EXPECT_GT(refused.value(), 0u);

  // A caller naming a real member, without the key or with a forged credential, is refused
  // before Raft sees the message: its huge term disturbs nothing.
  for (const std::string& key : {std::string(), std::string(32, 'z')}) {
    PeerClient impostor("127.0.0.1:" + std::to_string(nodes_[0]->cluster->peer_port()),
                        PeerClient::kDefaultSnapshotChunkBytes, key);
    raft::Message m;
    m.type = raft::MessageType::kHeartbeat;
    m.from = members_[1].raft_id();
    m.to = members_[0].raft_id();
    m.term = 1000;
    impostor.SendRaft(m);
  }
  auto& refused0 = nodes_[0]->metrics.GetCounter("dnsd_peer_unauthenticated_calls_total", "");
  for (int round = 0; round < 500 && refused0.value() < 2; ++round)
    std::this_thread::sleep_for(10ms);
  EXPECT_GE(refused0.value(), 2u);
  EXPECT_LT(nodes_[0]->cluster->raft_status().term, 1000u);
  leader = WaitForLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(ProposeAndWait(leader, "still-fine").ok());
}

TEST(PeerAuthTest, CredentialsAreBoundToKeyAndTime) {
  const std::string key(32, 'k');
  const std::string credential = PeerCredential(key, 1'700'000'000);
  EXPECT_TRUE(VerifyPeerCredential(key, credential, 1'700'000'000));
  EXPECT_TRUE(VerifyPeerCredential(key, credential, 1'700'000'000 + kPeerClockSkewS));
  EXPECT_FALSE(VerifyPeerCredential(key, credential, 1'700'000'000 + kPeerClockSkewS + 1))
      << "a value read off the wire expires";
  EXPECT_FALSE(VerifyPeerCredential(std::string(32, 'x'), credential, 1'700'000'000));
  EXPECT_FALSE(VerifyPeerCredential(key, "", 1'700'000'000));
  EXPECT_FALSE(VerifyPeerCredential(key, "Nacos-Server", 1'700'000'000));
  EXPECT_FALSE(VerifyPeerCredential(key, "1700000000.", 1'700'000'000));
  EXPECT_FALSE(VerifyPeerCredential(key, "-1.00", 1'700'000'000));
  std::string shifted = credential;
  shifted[9] = shifted[9] == '0' ? '1' : '0';  // the time changed, the MAC kept
  EXPECT_FALSE(VerifyPeerCredential(key, shifted, 1'700'000'000));
}

}  // namespace
}  // namespace dnsd::node
