// Start-up checks of the durable state and the driver's handling of a state machine whose
// disk fails: damage is rebuilt or refused, never served; a logged write is never answered
// with an error.
#include "node/durable_state.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include "common/storage_failure.h"
#include "config/config_command.h"
#include "node/log_entries.h"
#include "raft/local_driver.h"
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

// A node's durable state with its driver, as main() wires them.
struct Node {
  explicit Node(const std::string& dir) {
    auto opened = OpenDurableState(dir);
    EXPECT_TRUE(opened.ok()) << opened.status();
    state = std::move(*opened);
    driver =
        std::make_unique<raft::LocalDriver>(*state.log, [this](uint64_t i, std::string_view e) {
          return ApplyLogEntry(registry, *state.config, i, e);
        });
    EXPECT_TRUE(driver->Replay().ok());
    driver->Start();
  }
  absl::Status Propose(std::string entry) {
    std::promise<absl::Status> done;
    auto result = done.get_future();
    driver->Propose(std::move(entry), [&](absl::Status s) { done.set_value(s); });
    return result.get();
  }
  std::string Content(const std::string& data_id) {
    auto item = state.config->Get({"", "DEFAULT_GROUP", data_id});
    return item ? item->content : "<missing>";
  }
  registry::Registry registry{registry::RegistryOptions{}};
  DurableState state;
  std::unique_ptr<raft::LocalDriver> driver;
};

// The probe's defect 2: five bytes cut off the log lose an acknowledged write; the config
// store still holds it. Start-up must refuse (new writes would reuse its index and be
// skipped), and `dnsd repair` must make the directory start again, saying what was lost.
TEST(DurableStateTest, StoreAheadOfTruncatedLogRefusesStartUntilRepaired) {
  const std::string dir = testing::TempDir("node-ahead");
  {
    Node node(dir);
    ASSERT_TRUE(node.Propose(PublishEntry("a", "1")).ok());
    ASSERT_TRUE(node.Propose(PublishEntry("b", "2")).ok());
    ASSERT_TRUE(node.Propose(PublishEntry("c", "3")).ok());
  }
  const std::string wal = testing::NewestWal(dir + "/log");
  fs::resize_file(wal, fs::file_size(wal) - 5);

  auto refused = OpenDurableState(dir);
  ASSERT_FALSE(refused.ok());
  const std::string message(refused.status().message());
  EXPECT_NE(message.find("dnsd repair"), std::string::npos) << message;
  EXPECT_NE(message.find("entries 3..3"), std::string::npos) << message;

  std::ostringstream report;
  ASSERT_TRUE(RepairDataDir(dir, report).ok()) << report.str();
  EXPECT_NE(report.str().find("acknowledged writes are lost"), std::string::npos) << report.str();
  Node node(dir);
  EXPECT_EQ(node.Content("a"), "1");
  EXPECT_EQ(node.Content("b"), "2");
  ASSERT_TRUE(node.Propose(PublishEntry("d", "4")).ok());
  EXPECT_EQ(node.Content("d"), "4") << "a new write at a reused index must be applied";
}

// The probe's defect 3: one flipped byte in the config store's own write-ahead file. The
// store is moved aside and rebuilt from the log: every config comes back as it was.
// A single node's directory is never opened as a cluster member's, nor the other way round
// (each one's config store counts entries of its own log); a member whose config store is
// ahead of its Raft log is refused and told to rejoin, not to start empty in place.
TEST(DurableStateTest, SingleNodeAndClusterDirectoriesAreToldApart) {
  const std::string single = testing::TempDir("layout-single");
  ASSERT_TRUE(OpenDurableState(single).ok());
  auto as_member = OpenClusterState(single);
  ASSERT_FALSE(as_member.ok());
  EXPECT_EQ(as_member.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(as_member.status().message()).find("--join"), std::string::npos);

  const std::string member = testing::TempDir("layout-member");
  auto cluster = OpenClusterState(member);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  fs::create_directories(cluster->raft_dir);
  EXPECT_EQ(OpenDurableState(member).status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(cluster->config->RecordApplied(7).ok());
  EXPECT_TRUE(CheckClusterState(*cluster->config, cluster->raft_dir, 7).ok());
  const absl::Status behind = CheckClusterState(*cluster->config, cluster->raft_dir, 5);
  EXPECT_EQ(behind.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(behind.message()).find(kRejoinAdvice), std::string::npos);
}

TEST(DurableStateTest, DamagedConfigStoreIsRebuiltFromTheLog) {
  const std::string dir = testing::TempDir("node-flip");
  {
    Node node(dir);
    for (int i = 0; i < 30; ++i) {
      ASSERT_TRUE(
          node.Propose(PublishEntry("k" + std::to_string(i % 13), "v" + std::to_string(i))).ok());
    }
  }
  const std::string wal = testing::NewestWal(dir + "/config");
  ASSERT_FALSE(wal.empty());
  testing::DamageByte(wal, 1.0 / 2, '\x7f');
  Node node(dir);
  EXPECT_FALSE(node.state.config_moved_to.empty());
  EXPECT_TRUE(fs::exists(node.state.config_moved_to));
  for (int k = 0; k < 13; ++k) {
    const int last = k + 13 * ((29 - k) / 13);
    EXPECT_EQ(node.Content("k" + std::to_string(k)), "v" + std::to_string(last));
  }
}

// The probe's defect 4: the config store fails after the log write. The proposer must get the
// real result once the disk works again, never an error for a write that is in the log;
// meanwhile new writes are refused at once.
TEST(DurableStateTest, ApplyStallsOnStorageFailureAndAnswersWhenTheDiskWorks) {
  const std::string dir = testing::TempDir("node-stall");
  fs::create_directories(dir);
  testing::FaultEnv env;
  auto log = raft::LogStore::Open(dir + "/log");
  config::ConfigStoreOptions store_options;
  store_options.env = &env;
  auto store = config::ConfigStore::Open(dir + "/config", store_options);
  ASSERT_TRUE(log.ok() && store.ok());
  registry::Registry registry{registry::RegistryOptions{}};
  raft::LocalDriver driver(**log, [&](uint64_t i, std::string_view e) {
    return ApplyLogEntry(registry, **store, i, e);
  });
  driver.Start();

  env.SetWriteBudget(0);
  std::promise<absl::Status> first_done;
  auto first = first_done.get_future();
  driver.Propose(PublishEntry("x", "logged"), [&](absl::Status s) { first_done.set_value(s); });
  EXPECT_EQ(first.wait_for(300ms), std::future_status::timeout) << "answered while stalled";
  EXPECT_TRUE(driver.stalled());

  std::promise<absl::Status> second_done;
  driver.Propose(PublishEntry("y", "refused"), [&](absl::Status s) { second_done.set_value(s); });
  const absl::Status second = second_done.get_future().get();
  EXPECT_EQ(second.code(), absl::StatusCode::kUnavailable) << second;

  env.SetWriteBudget(-1);
  ASSERT_EQ(first.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(first.get().ok());
  EXPECT_FALSE(driver.stalled());
  EXPECT_EQ(driver.storage_stalls(), 1u);
  auto item = (*store)->Get({"", "DEFAULT_GROUP", "x"});
  ASSERT_TRUE(item);
  EXPECT_EQ(item->content, "logged");
  EXPECT_FALSE((*store)->Get({"", "DEFAULT_GROUP", "y"}));
  driver.Stop();
}

}  // namespace
}  // namespace dnsd::node
