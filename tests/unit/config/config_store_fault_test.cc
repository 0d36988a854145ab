// The config store under a failing disk: a failed state write changes nothing (memory, ids,
// disk), the same entry applied again gives the result and ids a healthy store gives, and the
// store's files stay readable.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "common/storage_failure.h"
#include "config/config_command.h"
#include "config/config_store.h"
#include "testing/fault_env.h"
#include "testing/files.h"

namespace dnsd::config {
namespace {

namespace fs = std::filesystem;

ConfigCommand RandomCommand(std::mt19937& rng, int step) {
  ConfigCommand c;
  c.type = rng() % 4 == 0 ? ConfigCommandType::kRemove : ConfigCommandType::kPublish;
  c.timestamp_ms = 1000 + step;
  c.src_ip = "10.0.0.1";
  c.key = {"", "DEFAULT_GROUP", "cfg-" + std::to_string(rng() % 20)};
  c.item.content = std::string(1 + rng() % 2000, static_cast<char>('a' + step % 26));
  c.item.type = "text";
  return c;
}

// What a client could observe of a store: every config, and its history ids.
std::string Fingerprint(const ConfigStore& store) {
  std::string out = "applied=" + std::to_string(store.applied_index()) + "\n";
  for (const auto& item : store.ListTenant("")) {
    out += item->key.data_id + " id=" + std::to_string(item->id) + " md5=" + item->md5 + "\n";
    auto history = store.History(item->key, 1, 1000);
    EXPECT_TRUE(history.ok());
    for (const auto& h : history->items) out += "  h" + std::to_string(h.id);
    out += "\n";
  }
  return out;
}

TEST(ConfigStoreFaultTest, FailedWritesAreRetriedToTheSameState) {
  for (int seed = 0; seed < 6; ++seed) {
    SCOPED_TRACE(seed);
    const std::string faulty_dir = testing::TempDir("cfg-fault");
    const std::string healthy_dir = testing::TempDir("cfg-healthy");
    std::mt19937 rng(seed);
    testing::FaultEnv env;
    ConfigStoreOptions options;
    options.env = &env;
    auto faulty = ConfigStore::Open(faulty_dir, options);
    auto healthy = ConfigStore::Open(healthy_dir);
    ASSERT_TRUE(faulty.ok() && healthy.ok());
    int failures = 0;
    for (uint64_t index = 1; index <= 300; ++index) {
      const ConfigCommand c = RandomCommand(rng, static_cast<int>(index));
      const absl::Status expected = (*healthy)->Apply(index, c);
      if (rng() % 10 == 0) env.SetWriteBudget(static_cast<int64_t>(rng() % 4000));
      absl::Status got = (*faulty)->Apply(index, c);
      while (common::IsStorageFailure(got)) {
        ++failures;
        EXPECT_EQ((*faulty)->applied_index(), index - 1) << "a failed write changes nothing";
        env.SetWriteBudget(rng() % 2 ? -1 : static_cast<int64_t>(rng() % 4000));
        got = (*faulty)->Apply(index, c);
      }
      ASSERT_EQ(got.code(), expected.code()) << got << " vs " << expected;
    }
    EXPECT_GT(failures, 0);
    EXPECT_EQ(Fingerprint(**faulty), Fingerprint(**healthy));
    faulty->reset();
    env.SetWriteBudget(-1);
    auto reopened = ConfigStore::Open(faulty_dir);
    ASSERT_TRUE(reopened.ok()) << reopened.status();
    EXPECT_EQ(Fingerprint(**reopened), Fingerprint(**healthy));
    reopened->reset();
    healthy->reset();
    fs::remove_all(faulty_dir);
    fs::remove_all(healthy_dir);
  }
}

TEST(ConfigStoreFaultTest, DamagedFileIsReportedNotServed) {
  const std::string dir = testing::TempDir("cfg-flip");
  {
    auto store = ConfigStore::Open(dir);
    ASSERT_TRUE(store.ok());
    std::mt19937 rng(7);
    for (uint64_t i = 1; i <= 40; ++i) ASSERT_TRUE((*store)->Apply(i, RandomCommand(rng, 0)).ok());
  }
  const std::string wal = testing::NewestWal(dir);
  ASSERT_FALSE(wal.empty());
  testing::DamageByte(wal, 1.0 / 3, '\x01');
  auto store = ConfigStore::Open(dir);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
}

}  // namespace
}  // namespace dnsd::config
