// A single node's durable state as main() wires it: a one-member Raft group (RaftCluster in
// standalone mode) over the Raft log in raft-standalone/ and the config store. Damage is
// rebuilt or refused, never served; a logged write is never answered with an error; a data
// directory from before Raft is migrated.
#include "node/durable_state.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <filesystem>
#include <future>
#include <sstream>
#include <thread>

#include "cluster/members.h"
#include "common/metrics.h"
#include "config/config_command.h"
#include "node/log_entries.h"
#include "node/raft_cluster.h"
#include "node/state_snapshot.h"
#include "raft/log_store.h"
#include "raft/raft_storage.h"
#include "registry/registry.h"
#include "testing/fault_env.h"
#include "testing/files.h"

namespace dnsd::node {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string PublishEntry(const std::string& data_id, const std::string& content) {
  config::ConfigCommand c;
  c.type = config::ConfigCommandType::kPublish;
  c.timestamp_ms = 1000;
  c.key = {"", "DEFAULT_GROUP", data_id};
  c.item.content = content;
  c.item.type = "text";
  return ConfigLogEntry(c);
}

struct NodeOptions {
  leveldb::Env* config_env = nullptr;
  uint64_t snapshot_every = 0;
};

// A single node: its state, migrated if need be, and its Raft group of one, started.
class Node {
 public:
  static absl::StatusOr<std::unique_ptr<Node>> Open(const std::string& dir,
                                                    NodeOptions options = {}) {
    std::unique_ptr<Node> node(new Node);
    DurableStateOptions state_options;
    state_options.env = options.config_env;
    auto state = OpenStandaloneState(dir, state_options);
    if (!state.ok()) return state.status();
    node->state_ = std::move(*state);
    auto& config = *node->state_.config;
    if (auto s = MigrateLegacyLog(dir, node->registry_, config); !s.ok()) return s;
    RaftClusterOptions cluster;
    auto membership = cluster::BuildMembership({}, cluster::Member{"127.0.0.1", 8848});
    if (!membership.ok()) return membership.status();
    cluster.membership = *membership;
    cluster.standalone = true;
    cluster.raft_dir = node->state_.raft_dir;
    cluster.tick_ms = 10;
    cluster.compact_every = options.snapshot_every;
    Node* n = node.get();
    cluster.take_snapshot = [n] {
      return CaptureStateSnapshot(n->machines(), SnapshotConfigs::kCurrent);
    };
    cluster.restore = [n](const std::string& snapshot) {
      return RestoreStateSnapshot(n->machines(), snapshot, 0);
    };
    auto created = RaftCluster::Create(
        cluster, [n](uint64_t i, std::string_view e) { return ApplyLogEntry(n->machines(), i, e); },
        node->metrics_);
    if (!created.ok()) return WithRepairHint(created.status(), dir);
    node->raft_ = std::move(*created);
    if (auto s = CheckClusterState(config, node->state_.raft_dir,
                                   node->raft_->raft_status().last_index, /*standalone=*/true);
        !s.ok()) {
      return s;
    }
    node->raft_->Start();
    // As main() does: serve once the log this node holds is applied again.
    const uint64_t last = node->raft_->raft_status().last_index;
    for (int i = 0; i < 1000 && node->raft_->raft_status().applied < last; ++i) {
      std::this_thread::sleep_for(5ms);
    }
    return node;
  }
  ~Node() {
    if (raft_) raft_->Stop(0);
  }
  absl::Status Propose(std::string entry, std::chrono::milliseconds wait = 10s) {
    auto done = std::make_shared<std::promise<absl::Status>>();
    auto result = done->get_future();
    raft_->Propose(std::move(entry), [done](absl::Status s) { done->set_value(s); });
    if (result.wait_for(wait) != std::future_status::ready) {
      return absl::DeadlineExceededError("no answer");
    }
    return result.get();
  }
  std::string Content(const std::string& data_id) {
    auto item = state_.config->Get({"", "DEFAULT_GROUP", data_id});
    return item ? item->content : "<missing>";
  }
  const ClusterState& state() const { return state_; }
  RaftCluster& raft() { return *raft_; }

 private:
  Node() = default;
  common::MetricsRegistry metrics_;
  StateMachines machines() { return {registry_, *state_.config, auth_}; }
  registry::Registry registry_{registry::RegistryOptions{}};
  auth::AuthStore auth_;
  ClusterState state_;
  std::unique_ptr<RaftCluster> raft_;
};

std::unique_ptr<Node> MustOpen(const std::string& dir, NodeOptions options = {}) {
  auto node = Node::Open(dir, options);
  EXPECT_TRUE(node.ok()) << node.status();
  return node.ok() ? std::move(*node) : nullptr;
}

// Deletes Raft log entries from `from` on, as a damaged or replaced file would lose them.
void LoseEntriesFrom(const std::string& raft_dir, uint64_t from) {
  leveldb::DB* raw = nullptr;
  ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), raft_dir, &raw).ok());
  std::unique_ptr<leveldb::DB> db(raw);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  std::string key = "E";
  for (int i = 7; i >= 0; --i) key.push_back(static_cast<char>((from >> (8 * i)) & 0xff));
  for (it->Seek(key); it->Valid() && it->key().starts_with("E"); it->Next()) {
    ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), it->key()).ok());
  }
}

// The probe's defect 2: the log's tail is lost; the config store still holds what it had.
// Start-up must refuse (new writes would reuse those indexes and be skipped), and
// `dnsd repair` must make the directory start again, saying what was lost.
TEST(DurableStateTest, StoreAheadOfTruncatedLogRefusesStartUntilRepaired) {
  const std::string dir = testing::TempDir("node-ahead");
  uint64_t index_of_c = 0;
  {
    auto node = MustOpen(dir);
    ASSERT_TRUE(node);
    ASSERT_TRUE(node->Propose(PublishEntry("a", "1")).ok());
    ASSERT_TRUE(node->Propose(PublishEntry("b", "2")).ok());
    ASSERT_TRUE(node->Propose(PublishEntry("c", "3")).ok());
    index_of_c = node->state().config->applied_index();  // every entry advances it
  }
  LoseEntriesFrom(dir + "/raft-standalone", index_of_c);

  auto refused = Node::Open(dir);
  ASSERT_FALSE(refused.ok());
  const std::string message(refused.status().message());
  EXPECT_NE(message.find("dnsd repair"), std::string::npos) << message;
  // The stored commit index, or the config store, shows that committed entries are gone.
  EXPECT_NE(message.find("lost"), std::string::npos) << message;

  std::ostringstream report;
  ASSERT_TRUE(RepairDataDir(dir, report).ok()) << report.str();
  EXPECT_NE(report.str().find("acknowledged writes are lost"), std::string::npos) << report.str();
  auto node = MustOpen(dir);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->Content("a"), "1");
  EXPECT_EQ(node->Content("b"), "2");
  EXPECT_EQ(node->Content("c"), "<missing>");
  ASSERT_TRUE(node->Propose(PublishEntry("d", "4")).ok());
  EXPECT_EQ(node->Content("d"), "4") << "a new write at a reused index must be applied";
}

// Entries missing in the middle (a damaged block LevelDB skipped): repair renumbers what is
// left so the log is whole again, and keeps a copy of what it changed.
TEST(DurableStateTest, RepairRenumbersALogWithAGap) {
  const std::string dir = testing::TempDir("node-gap");
  {
    auto node = MustOpen(dir);
    ASSERT_TRUE(node);
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(node->Propose(PublishEntry("k" + std::to_string(i), "v")).ok());
  }
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir + "/raft-standalone", &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    ASSERT_TRUE(db->Delete(leveldb::WriteOptions(), std::string("E\0\0\0\0\0\0\0\3", 9)).ok());
  }
  auto refused = Node::Open(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("dnsd repair"), std::string::npos)
      << refused.status();
  std::ostringstream report;
  ASSERT_TRUE(RepairDataDir(dir, report).ok()) << report.str();
  EXPECT_NE(report.str().find("entries 3..3 are missing"), std::string::npos) << report.str();
  EXPECT_NE(report.str().find("kept a copy"), std::string::npos) << report.str();
  auto node = MustOpen(dir);
  ASSERT_TRUE(node);
  int present = 0;
  for (int i = 0; i < 5; ++i) present += node->Content("k" + std::to_string(i)) == "v";
  EXPECT_EQ(present, 4) << "one entry was lost, the others are kept";
  ASSERT_TRUE(node->Propose(PublishEntry("after", "repair")).ok());
}

// A single node's directory is never opened as a cluster member's, nor the other way round
// (each one's config store counts entries of its own log); a member whose config store is
// ahead of its Raft log is refused and told to rejoin, not to start empty in place.
TEST(DurableStateTest, SingleNodeAndClusterDirectoriesAreToldApart) {
  const std::string single = testing::TempDir("layout-single");
  auto standalone = OpenStandaloneState(single);
  ASSERT_TRUE(standalone.ok());
  fs::create_directories(standalone->raft_dir);
  auto as_member = OpenClusterState(single);
  ASSERT_FALSE(as_member.ok());
  EXPECT_EQ(as_member.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(as_member.status().message()).find("--join"), std::string::npos);

  const std::string legacy = testing::TempDir("layout-legacy");
  fs::create_directories(legacy + "/log");
  EXPECT_EQ(OpenClusterState(legacy).status().code(), absl::StatusCode::kFailedPrecondition);

  const std::string member = testing::TempDir("layout-member");
  auto cluster = OpenClusterState(member);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  fs::create_directories(cluster->raft_dir);
  EXPECT_EQ(OpenStandaloneState(member).status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(cluster->config->RecordApplied(7).ok());
  EXPECT_TRUE(CheckClusterState(*cluster->config, cluster->raft_dir, 7).ok());
  const absl::Status behind = CheckClusterState(*cluster->config, cluster->raft_dir, 5);
  EXPECT_EQ(behind.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(behind.message()).find(kRejoinAdvice), std::string::npos);
}

// The probe's defect 3: one flipped byte in the config store's own write-ahead file. The
// store is moved aside and rebuilt: every config comes back as it was, from the snapshot
// (a single node's carries the config store) and the log after it.
TEST(DurableStateTest, DamagedConfigStoreIsRebuiltFromTheSnapshotAndTheLog) {
  const std::string dir = testing::TempDir("node-flip");
  {
    auto node = MustOpen(dir, {.snapshot_every = 10});
    ASSERT_TRUE(node);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(
          node->Propose(PublishEntry("k" + std::to_string(i % 13), "v" + std::to_string(i))).ok());
    }
    // Compactions run beside the node: the last one is on disk some time after it is due.
    for (int i = 0; i < 500 && node->raft().raft_status().snapshot_index < 20; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_GE(node->raft().raft_status().snapshot_index, 20u) << "the log was compacted";
  }
  const std::string wal = testing::NewestWal(dir + "/config");
  ASSERT_FALSE(wal.empty());
  testing::DamageByte(wal, 1.0 / 2, '\x7f');
  auto node = MustOpen(dir, {.snapshot_every = 10});
  ASSERT_TRUE(node);
  EXPECT_FALSE(node->state().config_moved_to.empty());
  EXPECT_TRUE(fs::exists(node->state().config_moved_to));
  for (int i = 0;
       i < 200 && node->raft().raft_status().applied < node->raft().raft_status().last_index; ++i) {
    std::this_thread::sleep_for(10ms);
  }
  for (int k = 0; k < 13; ++k) {
    const int last = k + 13 * ((29 - k) / 13);
    EXPECT_EQ(node->Content("k" + std::to_string(k)), "v" + std::to_string(last));
  }
}

// The probe's defect 4: the config store fails after the log write. The proposer must get the
// real result once the disk works again, never an error for a write that is in the log;
// meanwhile new writes are refused at once.
TEST(DurableStateTest, ApplyStallsOnStorageFailureAndAnswersWhenTheDiskWorks) {
  const std::string dir = testing::TempDir("node-stall");
  testing::FaultEnv env;
  auto node = MustOpen(dir, {.config_env = &env});
  ASSERT_TRUE(node);
  ASSERT_TRUE(node->Propose(PublishEntry("w", "warm-up")).ok());

  env.SetWriteBudget(0);
  auto first_done = std::make_shared<std::promise<absl::Status>>();
  auto first = first_done->get_future();
  node->raft().Propose(PublishEntry("x", "logged"),
                       [first_done](absl::Status s) { first_done->set_value(s); });
  EXPECT_EQ(first.wait_for(300ms), std::future_status::timeout) << "answered while stalled";
  EXPECT_TRUE(node->raft().raft_status().stalled);

  const absl::Status second = node->Propose(PublishEntry("y", "refused"));
  EXPECT_EQ(second.code(), absl::StatusCode::kUnavailable) << second;

  env.SetWriteBudget(-1);
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(first.get().ok());
  EXPECT_FALSE(node->raft().raft_status().stalled);
  EXPECT_EQ(node->raft().raft_status().storage_stalls, 1u);
  EXPECT_EQ(node->Content("x"), "logged");
  EXPECT_EQ(node->Content("y"), "<missing>");
}

// A data directory from before Raft (log/ written by raft::LogStore): the first start applies
// it, begins the Raft log with a snapshot at its last index and keeps the old log aside; a
// migration cut short by a crash is done again.
TEST(DurableStateTest, LogFromBeforeRaftIsMigrated) {
  const std::string dir = testing::TempDir("node-migrate");
  {
    fs::create_directories(dir);
    auto log = raft::LogStore::Open(dir + "/log");
    ASSERT_TRUE(log.ok()) << log.status();
    for (int i = 0; i < 7; ++i) {
      ASSERT_TRUE((*log)->Append({PublishEntry("m" + std::to_string(i), std::to_string(i))}).ok());
    }
  }
  // A crash in an earlier attempt left a half-built Raft log behind.
  fs::create_directories(dir + "/raft-standalone.migrating/junk");
  {
    auto node = MustOpen(dir);
    ASSERT_TRUE(node);
    for (int i = 0; i < 7; ++i)
      EXPECT_EQ(node->Content("m" + std::to_string(i)), std::to_string(i));
    EXPECT_EQ(node->raft().raft_status().snapshot_index, 7u);
    ASSERT_TRUE(node->Propose(PublishEntry("new", "write")).ok());
    EXPECT_GT(node->raft().raft_status().applied, 7u) << "new entries follow the old log's";
  }
  EXPECT_FALSE(fs::exists(dir + "/log"));
  EXPECT_FALSE(fs::exists(dir + "/raft-standalone.migrating"));
  bool kept = false;
  for (const auto& e : fs::directory_iterator(dir)) {
    kept |= e.path().filename().string().starts_with("log.migrated-");
  }
  EXPECT_TRUE(kept) << "the old log is kept aside";
  auto node = MustOpen(dir);
  ASSERT_TRUE(node);
  EXPECT_EQ(node->Content("m6"), "6");
  EXPECT_EQ(node->Content("new"), "write");
}

}  // namespace
}  // namespace dnsd::node
