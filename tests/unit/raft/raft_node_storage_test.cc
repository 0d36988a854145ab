// A RaftNode that is the only voter (a single dnsd) on a failing disk: the Raft log fails
// writes (full disk, failed fsyncs), a state machine cannot write, the disk is nearly full.
// The rule under test: a proposer hears "failed" only for a write that is not in the log, and
// every acknowledged write survives a restart.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <map>
#include <random>
#include <thread>

#include "common/storage_failure.h"
#include "raft/raft_node.h"
#include "testing/fault_env.h"
#include "testing/files.h"
#include "testing/recorder.h"

namespace dnsd::raft {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class NoPeers : public RaftTransport {
 public:
  void Send(const Message&) override {}
};

// What a proposer heard, kept by the proposal's callback (which may run after the test has
// stopped waiting for it).
struct Outcomes {
  std::mutex mu;
  std::map<std::string, absl::Status> heard;
  void Set(const std::string& key, absl::Status s) {
    std::lock_guard lock(mu);
    heard[key] = std::move(s);
  }
  void Forget(const std::string& key) {
    std::lock_guard lock(mu);
    heard.erase(key);
  }
  std::optional<absl::Status> Get(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = heard.find(key);
    if (it == heard.end()) return std::nullopt;
    return it->second;
  }
};

class SingleVoterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::TempDir("raft-single"); }
  void TearDown() override {
    if (node_) node_->Stop();
    node_.reset();
    fs::remove_all(dir_);
  }
  void Start(leveldb::Env* env = nullptr) {
    RaftNodeOptions options;
    options.core.id = 1;
    options.core.voters = {1};
    options.dir = dir_;
    options.tick_ms = 10;
    options.env = env;
    options.campaign_at_start = true;
    options.min_free_bytes = min_free_bytes_;
    recorder_.Clear();
    auto node = RaftNode::Create(options, transport_, [this](uint64_t index, std::string_view d) {
      if (apply_fails_.load()) return common::StorageFailure("the config store cannot write");
      return recorder_.Apply(index, d);
    });
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = std::move(*node);
    node_->Start();
  }
  void Stop() {
    node_->Stop();
    node_.reset();
  }
  // Proposes and waits up to `wait`; nullopt when no answer came by then.
  std::optional<absl::Status> Propose(const std::string& data,
                                      std::chrono::milliseconds wait = 10s) {
    outcomes_ = outcomes_ ? outcomes_ : std::make_shared<Outcomes>();
    auto outcomes = outcomes_;
    outcomes->Forget(data);  // a retry of the same data
    node_->Propose(data, [outcomes, data](absl::Status s) { outcomes->Set(data, s); });
    for (auto until = std::chrono::steady_clock::now() + wait;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(1ms)) {
      if (auto heard = outcomes->Get(data)) return heard;
    }
    return std::nullopt;
  }
  // Proposals are refused until the node leads (at once for a sole voter, but on its thread).
  absl::Status ProposeWhenLeading(const std::string& data) {
    for (int i = 0; i < 1000; ++i) {
      auto s = Propose(data);
      if (!s || !IsNotLeader(*s)) return s ? *s : absl::DeadlineExceededError("no answer");
      std::this_thread::sleep_for(2ms);
    }
    return absl::DeadlineExceededError("never led");
  }

  std::string dir_;
  NoPeers transport_;
  testing::Recorder recorder_;
  std::atomic<bool> apply_fails_{false};
  uint64_t min_free_bytes_ = 0;
  std::shared_ptr<Outcomes> outcomes_;
  std::unique_ptr<RaftNode> node_;
};

TEST_F(SingleVoterTest, LeadsWithoutAnElectionTimeoutAndAppliesConcurrentProposalsInOrder) {
  Start();
  ASSERT_TRUE(ProposeWhenLeading("first").ok());
  // One election, of itself, at start: term 1 (pre-vote does not raise the term).
  EXPECT_EQ(node_->status().term, 1u);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto s = Propose("t" + std::to_string(t) + "-" + std::to_string(i));
        EXPECT_TRUE(s && s->ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(recorder_.Applied().size(), 201u);
  const auto before = recorder_.Applied();
  Stop();
  Start();
  ASSERT_TRUE(ProposeWhenLeading("after restart").ok());
  auto after = recorder_.Applied();
  ASSERT_EQ(after.size(), 202u);
  after.pop_back();
  EXPECT_EQ(after, before) << "the restart replays the same log in the same order";
}

// Many seeds: the disk fills up (torn writes) and fsyncs fail at random while proposals go
// on; then the disk is healed (or, in odd seeds, the node is stopped while it still fails).
// Afterwards the restarted node holds every acknowledged write, none that was refused, in the
// order they were acknowledged.
TEST_F(SingleVoterTest, FailingLogNeverLosesAcknowledgedWritesNorKeepsRefusedOnes) {
  for (int seed = 0; seed < 10; ++seed) {
    SCOPED_TRACE(seed);
    fs::remove_all(dir_);
    outcomes_ = std::make_shared<Outcomes>();
    std::mt19937 rng(seed);
    std::vector<std::string> proposed;
    int refusals = 0;
    {
      testing::FaultEnv env;
      Start(&env);
      ASSERT_TRUE(ProposeWhenLeading("s" + std::to_string(seed)).ok());
      proposed.push_back("s" + std::to_string(seed));
      for (int step = 0; step < 150; ++step) {
        const int roll = static_cast<int>(rng() % 100);
        if (roll < 5) {
          env.SetWriteBudget(static_cast<int64_t>(rng() % 4000));
        } else if (roll < 7) {
          env.SetFailSyncs(true);
        } else if (roll < 17) {
          env.SetWriteBudget(-1);
          env.SetFailSyncs(false);
        }
        std::string data = "e" + std::to_string(step) + std::string(rng() % 800, 'x');
        proposed.push_back(data);
        auto heard = Propose(data, 200ms);
        if (heard && !heard->ok()) {
          ++refusals;
          EXPECT_EQ(heard->code(), absl::StatusCode::kUnavailable) << *heard;
          EXPECT_EQ(std::string(heard->message()).find(dir_), std::string::npos)
              << "client-facing messages carry no paths: " << *heard;
        }
      }
      if (seed % 2 == 0) {
        env.SetWriteBudget(-1);
        env.SetFailSyncs(false);
        // The node reopens its log by itself and takes writes again.
        absl::Status last = absl::UnknownError("");
        for (int i = 0; i < 500 && !last.ok(); ++i) {
          auto heard = Propose("healed", 5s);
          last = heard ? *heard : absl::DeadlineExceededError("");
          if (!last.ok()) std::this_thread::sleep_for(20ms);
        }
        ASSERT_TRUE(last.ok()) << last;
        proposed.push_back("healed");
        // Every write still waiting was answered once the log came back.
        for (const auto& p : proposed) EXPECT_TRUE(outcomes_->Get(p).has_value()) << p;
      }
      Stop();
    }
    EXPECT_GT(refusals, 0) << "the disk never failed a write";
    Start();
    ASSERT_TRUE(ProposeWhenLeading("end").ok());
    auto applied = recorder_.Applied();
    ASSERT_FALSE(applied.empty());
    applied.pop_back();  // "end"
    // In proposal order, every acknowledged one and no refused one; an unanswered one (the
    // node stopped while it waited) may be either.
    size_t next = 0;
    for (const auto& p : proposed) {
      auto heard = outcomes_->Get(p);
      const bool present = next < applied.size() && applied[next] == p;
      if (present) ++next;
      if (!heard) continue;
      if (heard->ok()) {
        EXPECT_TRUE(present) << "acknowledged but lost: " << p.substr(0, 8);
      } else {
        EXPECT_FALSE(present) << "refused but stored: " << p.substr(0, 8);
      }
    }
    EXPECT_EQ(next, applied.size()) << "the log holds something never proposed, or reordered";
    Stop();
  }
}

TEST_F(SingleVoterTest, ApplyStallsOnStorageFailureAndAnswersWhenTheDiskWorks) {
  Start();
  ASSERT_TRUE(ProposeWhenLeading("one").ok());
  apply_fails_ = true;
  auto outcomes = outcomes_;
  EXPECT_FALSE(Propose("two", 300ms).has_value()) << "answered before it was applied";
  EXPECT_TRUE(node_->status().stalled);
  auto refused = Propose("three", 1s);
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->code(), absl::StatusCode::kUnavailable);
  apply_fails_ = false;
  for (int i = 0; i < 500 && !outcomes->Get("two"); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(outcomes->Get("two").has_value());
  EXPECT_TRUE(outcomes->Get("two")->ok());
  EXPECT_FALSE(node_->status().stalled);
  EXPECT_EQ(node_->status().storage_stalls, 1u);
  EXPECT_EQ(recorder_.Applied(), (std::vector<std::string>{"one", "two"}));
}

TEST_F(SingleVoterTest, NearlyFullDiskRefusesProposalsBeforeWritingThem) {
  min_free_bytes_ = uint64_t{1} << 62;
  Start();
  auto s = ProposeWhenLeading("too much");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(s.message()).find("almost full"), std::string::npos) << s;
  EXPECT_EQ(node_->status().low_space_refusals, 1u);
  EXPECT_TRUE(recorder_.Applied().empty());
}

}  // namespace
}  // namespace dnsd::raft
