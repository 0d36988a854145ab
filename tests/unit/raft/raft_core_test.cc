// The Raft core: scripted scenarios (readable, one property each) and many random schedules
// over a faulty simulated network with the safety properties checked after every step.
#include "raft/raft_core.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "raft_sim.h"

namespace dnsd::raft {
namespace {

using sim::Cluster;
using sim::Faults;

NodeId ElectOrFail(Cluster& c, NodeId id) {
  c.core(id).Campaign();
  c.Settle();
  EXPECT_EQ(c.core(id).role(), Role::kLeader);
  return id;
}

TEST(RaftCoreTest, ElectsOneLeaderAndReplicates) {
  Cluster c(3, 1);
  c.TickAll(25);
  const NodeId leader = c.Leader();
  ASSERT_NE(leader, 0u);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(c.Propose(leader, "v" + std::to_string(i)).ok());
  c.Settle();
  for (NodeId id : {1, 2, 3}) {
    ASSERT_EQ(c.Applied(id).size(), 6u) << id;  // the leader's no-op and five values
    EXPECT_EQ(c.Applied(id).back().data, "v4");
  }
  EXPECT_TRUE(c.failure().empty()) << c.failure();
}

TEST(RaftCoreTest, OnlyTheLeaderAcceptsProposals) {
  Cluster c(3, 2);
  ElectOrFail(c, 1);
  auto refused = c.Propose(2, "x");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.core(2).leader(), 1u);
}

// Figure 8 of the Raft paper: an entry of an older term that reaches a majority is not
// committed by counting replicas; only an entry of the leader's own term commits it.
TEST(RaftCoreTest, EntriesOfEarlierTermsCommitOnlyThroughTheCurrentTerm) {
  RaftConfig config;
  config.id = 1;
  config.voters = {1, 2, 3, 4, 5};
  config.pre_vote = false;
  // Index 1 committed at term 1; index 2 written at term 2 by a leader that then crashed.
  RaftStorageState stored;
  stored.hard_state = {2, 0, 1};
  stored.entries = {Entry{1, 1, "a"}, Entry{2, 2, "b"}};
  RaftCore core(config, stored);
  core.Campaign();  // term 3
  ASSERT_EQ(core.term(), 3u);
  for (NodeId peer : {2, 3}) {
    Message vote;
    vote.type = MessageType::kVoteResponse;
    vote.from = peer;
    vote.to = 1;
    vote.term = 3;
    ASSERT_TRUE(core.Step(vote).ok());
  }
  ASSERT_EQ(core.role(), Role::kLeader);
  core.Advance(core.GetReady());  // the no-op at index 3 (term 3) is persisted here
  auto ack = [&](NodeId peer, uint64_t index) {
    Message m;
    m.type = MessageType::kAppendResponse;
    m.from = peer;
    m.to = 1;
    m.term = 3;
    m.index = index;
    ASSERT_TRUE(core.Step(m).ok());
  };
  ack(2, 2);
  ack(3, 2);  // index 2 (term 2) is on three of five nodes
  EXPECT_EQ(core.commit_index(), 1u) << "an entry of term 2 must not commit by counting in term 3";
  ack(2, 3);
  EXPECT_EQ(core.commit_index(), 1u);
  ack(3, 3);  // the term-3 no-op on a majority commits it and everything before
  EXPECT_EQ(core.commit_index(), 3u);
}

// Check-quorum: a leader cut off from the others steps down within an election timeout;
// the majority elects another; after healing the old leader follows and catches up.
TEST(RaftCoreTest, StaleLeaderStepsDownAndCatchesUp) {
  Cluster c(3, 3);
  const NodeId old = ElectOrFail(c, 1);
  c.Isolate(old);
  ASSERT_TRUE(c.Propose(old, "lost").ok());  // never committed: no quorum
  c.TickAll(30);
  EXPECT_NE(c.core(old).role(), Role::kLeader) << "a leader without a quorum must step down";
  const NodeId fresh = c.Leader();
  ASSERT_NE(fresh, 0u);
  ASSERT_NE(fresh, old);
  ASSERT_TRUE(c.Propose(fresh, "kept").ok());
  c.Settle();
  c.HealAll();
  c.TickAll(5);
  EXPECT_EQ(c.core(old).leader(), fresh);
  ASSERT_FALSE(c.Applied(old).empty());
  EXPECT_EQ(c.Applied(old).back().data, "kept");
  for (const auto& e : c.Applied(old)) EXPECT_NE(e.data, "lost");
  EXPECT_TRUE(c.failure().empty()) << c.failure();
}

// Pre-vote: a follower partitioned away keeps its term (its pre-votes fail), so rejoining
// does not depose a healthy leader.
TEST(RaftCoreTest, RejoiningNodeDoesNotDisruptTheLeader) {
  Cluster c(3, 4);
  const NodeId leader = ElectOrFail(c, 1);
  const uint64_t term = c.core(leader).term();
  c.Isolate(3);
  c.TickAll(60);
  EXPECT_EQ(c.core(3).term(), term) << "pre-vote keeps a partitioned node's term";
  c.HealAll();
  c.TickAll(20);
  EXPECT_EQ(c.Leader(), leader);
  EXPECT_EQ(c.core(leader).term(), term);
  EXPECT_EQ(c.core(3).leader(), leader);
}

TEST(RaftCoreTest, LeaderTransfer) {
  Cluster c(3, 5);
  const NodeId leader = ElectOrFail(c, 1);
  ASSERT_TRUE(c.Propose(leader, "before").ok());
  c.Settle();
  ASSERT_TRUE(c.core(leader).TransferLeader(3).ok());
  EXPECT_EQ(c.Propose(leader, "during").status().code(), absl::StatusCode::kUnavailable);
  c.Settle();
  EXPECT_EQ(c.Leader(), 3u);
  EXPECT_EQ(c.core(1).role(), Role::kFollower);
  ASSERT_TRUE(c.Propose(3, "after").ok());
  c.Settle();
  EXPECT_EQ(c.Applied(1).back().data, "after");
}

ConfChange Change(ConfChangeType type, NodeId node) {
  ConfChange change;
  change.type = type;
  change.node = node;
  change.context = "10.0.0." + std::to_string(node) + ":8848";
  return change;
}

// Membership, one node at a time: a fourth node joins empty, learns the configuration from the
// log (the first leader wrote it at index 1), follows as a learner without counting in the
// quorum, is promoted once caught up, and then counts; a voter is removed and no longer does.
TEST(RaftCoreTest, LearnerJoinsIsPromotedAndAVoterIsRemoved) {
  Cluster c(3, 21, {}, 10, /*spares=*/1);
  const NodeId leader = ElectOrFail(c, 1);
  ASSERT_TRUE(c.Propose(leader, "before").ok());
  c.Settle();
  EXPECT_EQ(c.Applied(4).size(), 0u) << "not a member yet";
  EXPECT_EQ(c.core(leader).ProposeConfChange(Change(ConfChangeType::kPromote, 4)).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "only learners are promoted";

  ASSERT_TRUE(c.core(leader).ProposeConfChange(Change(ConfChangeType::kAddLearner, 4)).ok());
  EXPECT_EQ(c.core(leader).ProposeConfChange(Change(ConfChangeType::kRemove, 3)).status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "one change at a time: the first is not committed yet";
  c.Settle();
  c.TickAll(1);  // a heartbeat tells the learner the commit index
  EXPECT_EQ(c.core(4).conf(), (ConfState{{1, 2, 3}, {4}, {{4, "10.0.0.4:8848"}}}));
  EXPECT_EQ(c.Applied(4).size(), c.Applied(leader).size());
  EXPECT_EQ(c.core(4).role(), Role::kFollower);
  c.TickAll(40);
  EXPECT_EQ(c.Leader(), leader) << "a learner never campaigns";

  // Learners do not count: with two voters down, nothing commits.
  c.Crash(2);
  c.Crash(3);
  const uint64_t commit = c.core(leader).commit_index();
  ASSERT_TRUE(c.Propose(leader, "needs a voter").ok());
  c.Settle();
  EXPECT_EQ(c.core(leader).commit_index(), commit);
  c.Restart(2);
  c.Restart(3);
  c.TickAll(3);
  ASSERT_GT(c.core(leader).commit_index(), commit);

  ASSERT_TRUE(c.core(leader).ProposeConfChange(Change(ConfChangeType::kPromote, 4)).ok());
  c.Settle();
  EXPECT_EQ(c.core(2).conf().voters, (std::vector<NodeId>{1, 2, 3, 4}));
  // Four voters: with two down, nothing commits; with one, it does.
  c.Crash(2);
  c.Crash(3);
  const uint64_t commit4 = c.core(leader).commit_index();
  ASSERT_TRUE(c.Propose(leader, "needs three of four").ok());
  c.Settle();
  EXPECT_EQ(c.core(leader).commit_index(), commit4);
  c.Restart(3);
  c.TickAll(3);
  EXPECT_GT(c.core(leader).commit_index(), commit4);

  EXPECT_EQ(
      c.core(leader).ProposeConfChange(Change(ConfChangeType::kRemove, leader)).status().code(),
      absl::StatusCode::kFailedPrecondition)
      << "the leader hands over before it leaves";
  ASSERT_TRUE(c.core(leader).ProposeConfChange(Change(ConfChangeType::kRemove, 2)).ok());
  c.Settle();
  EXPECT_EQ(c.core(leader).conf().voters, (std::vector<NodeId>{1, 3, 4}));
  // Three voters left (1, 3, 4): node 2 is not needed and never gets the next entries.
  ASSERT_TRUE(c.Propose(leader, "without 2").ok());
  c.Settle();
  EXPECT_EQ(c.Applied(4).back().data, "without 2");
  EXPECT_EQ(c.Applied(3).back().data, "without 2");
  // Restarted from its own storage, the promoted node still knows the configuration.
  c.Crash(4);
  c.Restart(4);
  EXPECT_EQ(c.core(4).conf().voters, (std::vector<NodeId>{1, 3, 4}));
}

// A membership change that never committed goes away with the entries that carried it.
TEST(RaftCoreTest, AnUncommittedChangeIsUndoneWithItsEntry) {
  Cluster c(3, 22, {}, 10, /*spares=*/1);
  const NodeId leader = ElectOrFail(c, 1);
  c.Settle();
  c.Isolate(leader);
  ASSERT_TRUE(c.core(leader).ProposeConfChange(Change(ConfChangeType::kRemove, 3)).ok());
  c.Settle();
  EXPECT_EQ(c.core(leader).conf().voters, (std::vector<NodeId>{1, 2}))
      << "a change takes effect once in the log";
  c.TickAll(40);  // 2 and 3 elect a leader of their own; the old one steps down
  const NodeId other = c.Leader();
  ASSERT_TRUE(other == 2 || other == 3);
  ASSERT_TRUE(c.Propose(other, "majority").ok());
  c.HealAll();
  c.TickAll(5);
  EXPECT_EQ(c.core(1).conf().voters, (std::vector<NodeId>{1, 2, 3}));
  EXPECT_EQ(c.Applied(1).back().data, "majority");
}

// ReadIndex: a read on the leader or a follower gets the commit index once a quorum has
// confirmed the leader; a leader cut off from the quorum confirms nothing, and its reads fail
// when it learns it lost leadership.
TEST(RaftCoreTest, ReadIndexNeedsAQuorumToConfirmTheLeader) {
  Cluster c(3, 23);
  const NodeId leader = ElectOrFail(c, 1);
  const uint64_t written = *c.Propose(leader, "a");
  c.Settle();
  ASSERT_TRUE(c.core(leader).ReadIndex("on-leader").ok());
  c.Settle();
  ASSERT_EQ(c.Reads(leader).size(), 1u);
  EXPECT_EQ(c.Reads(leader)[0].context, "on-leader");
  EXPECT_GE(c.Reads(leader)[0].index, written);

  const NodeId follower = 2;
  ASSERT_TRUE(c.core(follower).ReadIndex("on-follower").ok());
  c.Settle();
  ASSERT_EQ(c.Reads(follower).size(), 1u);
  EXPECT_GE(c.Reads(follower)[0].index, written);

  c.Isolate(leader);
  ASSERT_TRUE(c.core(leader).ReadIndex("cut-off").ok());
  c.Settle();
  EXPECT_EQ(c.Reads(leader).size(), 1u) << "no quorum confirmed it";
  c.TickAll(40);  // the others elect a leader and write on
  const NodeId other = c.Leader();
  ASSERT_NE(other, leader);
  const uint64_t later = *c.Propose(other, "b");
  c.Settle();
  c.HealAll();
  c.TickAll(3);
  ASSERT_EQ(c.Reads(leader).size(), 2u);
  EXPECT_EQ(c.Reads(leader)[1].context, "cut-off");
  EXPECT_EQ(c.Reads(leader)[1].index, 0u) << "failed, never answered with a stale index";
  ASSERT_TRUE(c.core(leader).ReadIndex("after").ok());
  c.Settle();
  ASSERT_EQ(c.Reads(leader).size(), 3u);
  EXPECT_GE(c.Reads(leader)[2].index, later) << "through the new leader";
}

// Log compaction: a follower that was down while the leader compacted its log catches up
// from the leader's snapshot, and keeps going from there, also after its own restart.
TEST(RaftCoreTest, LaggingFollowerCatchesUpFromASnapshot) {
  Cluster c(3, 6);
  const NodeId leader = ElectOrFail(c, 1);
  c.Crash(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.Propose(leader, "v" + std::to_string(i)).ok());
  c.Settle();
  c.CompactAll(leader);
  EXPECT_GT(c.core(leader).first_index(), 10u);
  c.Restart(3);
  c.TickAll(3);
  EXPECT_EQ(c.snapshots_installed(), 1);
  ASSERT_TRUE(c.Propose(leader, "after").ok());
  c.Settle();
  ASSERT_EQ(c.Applied(3).size(), c.Applied(leader).size());
  EXPECT_EQ(c.Applied(3).back().data, "after");
  c.Crash(3);
  c.Restart(3);  // from the installed snapshot and the entries after it
  c.TickAll(3);
  EXPECT_EQ(c.Applied(3), c.Applied(leader));
  EXPECT_TRUE(c.failure().empty()) << c.failure();
}

TEST(RaftCoreTest, MalformedMessagesAreRefused) {
  RaftConfig config;
  config.id = 1;
  config.voters = {1, 2, 3};
  RaftCore core(config, {});
  Message m;
  m.type = MessageType::kVote;
  m.from = 9;
  m.to = 1;
  m.term = 1;
  EXPECT_FALSE(core.Step(m).ok()) << "vote request from a node outside the configuration";
  m.from = 0;
  EXPECT_FALSE(core.Step(m).ok()) << "no sender";
  m.type = MessageType::kAppend;
  m.from = 2;
  m.to = 3;
  EXPECT_FALSE(core.Step(m).ok()) << "not for us";
  m.to = 1;
  m.entries = {Entry{1, 5, "x"}};
  EXPECT_FALSE(core.Step(m).ok()) << "entries not following the previous index";
  m.entries = {Entry{2, 1, "x"}};
  EXPECT_FALSE(core.Step(m).ok()) << "an entry from a later term than the message";
}

// Random schedules: loss, delay, duplication, reordering, one-way partitions, crashes that
// lose unpersisted state, restarts. Safety is checked after every step; after the faults
// stop, the cluster must agree on every entry ever committed.
TEST(RaftSimTest, RandomSchedules) {
  uint64_t first = 0, count = 10'000;
  if (const char* one = std::getenv("DNSD_RAFT_SEED")) {
    first = std::strtoull(one, nullptr, 10);
    count = 1;
  } else if (const char* n = std::getenv("DNSD_RAFT_SEEDS")) {
    count = std::strtoull(n, nullptr, 10);
  }
  const auto started = std::chrono::steady_clock::now();
  int snapshots = 0, conf_changes = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    std::mt19937_64 pick(seed);
    Faults faults;
    faults.loss = (pick() % 30) / 100.0;
    faults.duplicate = (pick() % 10) / 100.0;
    faults.max_delay = static_cast<int>(pick() % 4);
    faults.crash = (pick() % 3) / 100.0;
    faults.restart = 0.1;
    faults.partition = (pick() % 5) / 100.0;
    faults.heal = 0.1;
    faults.max_entries_per_message = 1 + pick() % 4;
    faults.max_inflight = 1 + pick() % 8;
    faults.compact = (pick() % 3) / 20.0;
    // Every other schedule changes the membership as it goes, with two spare nodes to add.
    faults.conf_change = seed % 4 < 2 ? 0.02 : 0;
    const int nodes = seed % 2 == 0 ? 3 : 5;
    const int spares = faults.conf_change > 0 ? 2 : 0;
    Cluster c(nodes, seed, faults, 10, spares);
    c.Run(150);
    const auto before_calm = c.proposals_committed();
    c.Calm();
    c.Run(120);
    c.Settle();
    snapshots += c.snapshots_installed();
    conf_changes += c.conf_changes_committed();
    std::string why = c.failure();
    if (why.empty()) {
      const NodeId leader = c.Leader();
      if (leader == 0) {
        why = "no leader after the faults stopped";
      } else {
        // Every member of the final configuration has applied everything committed.
        for (NodeId id : c.ids()) {
          if (!why.empty() || !c.core(leader).IsMember(id)) continue;
          if (c.Applied(id).size() != c.committed().size()) {
            why = "node " + std::to_string(id) + " applied " +
                  std::to_string(c.Applied(id).size()) + " of " +
                  std::to_string(c.committed().size()) + " committed entries";
          }
        }
        for (const auto& p : before_calm) {
          if (!c.proposals_committed().count(p)) why = "committed proposal " + p + " was lost";
        }
      }
    }
    if (!why.empty()) {
      FAIL() << "seed " << seed << " (" << nodes << " nodes): " << why
             << "\nreplay: DNSD_RAFT_SEED=" << seed
             << " build/tests/unit_tests --gtest_filter=RaftSimTest.RandomSchedules";
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << count << " schedules in " << seconds << " s, " << snapshots
            << " snapshots installed, " << conf_changes << " membership entries committed\n";
  if (count >= 100) {
    EXPECT_GT(snapshots, 0) << "the schedules never sent a snapshot";
    EXPECT_GT(conf_changes, count / 2) << "the schedules hardly changed the membership";
  }
}

}  // namespace
}  // namespace dnsd::raft
