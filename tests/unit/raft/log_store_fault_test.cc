// The durable log under a failing disk: whatever fails, the log afterwards holds exactly the
// entries that were acknowledged, opens without error, and takes writes again once the disk
// does.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "raft/log_store.h"
#include "testing/fault_env.h"
#include "testing/files.h"

namespace dnsd::raft {
namespace {

namespace fs = std::filesystem;

std::map<uint64_t, std::string> ReadAll(LogStore& log) {
  std::map<uint64_t, std::string> out;
  auto s = log.ForEach(1, [&](uint64_t i, std::string_view e) {
    out[i] = std::string(e);
    return absl::OkStatus();
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// Many seeds of random appends with the disk filling up (torn writes) and fsyncs failing in
// between; after every run the log, reopened on a healthy disk, is exactly what was acked.
TEST(LogStoreFaultTest, FailedWritesNeverCorruptOrLoseAcknowledgedEntries) {
  for (int seed = 0; seed < 12; ++seed) {
    SCOPED_TRACE(seed);
    const std::string dir = testing::TempDir("log-fault");
    std::mt19937 rng(seed);
    std::map<uint64_t, std::string> acked;
    int failed = 0;
    {
      testing::FaultEnv env;
      LogStoreOptions options;
      options.env = &env;
      auto log = LogStore::Open(dir, options);
      ASSERT_TRUE(log.ok()) << log.status();
      for (int step = 0; step < 400; ++step) {
        const int roll = static_cast<int>(rng() % 100);
        if (roll < 4) {
          env.SetWriteBudget(static_cast<int64_t>(rng() % 3000));  // the disk fills up
        } else if (roll < 6) {
          env.SetFailSyncs(true);
        } else if (roll < 16) {
          env.SetWriteBudget(-1);  // space freed, disk healthy again
          env.SetFailSyncs(false);
        }
        std::vector<std::string> batch(1 + rng() % 3);
        for (auto& e : batch) {
          e = std::string(1 + rng() % 1500, static_cast<char>('a' + rng() % 26));
          e += std::to_string(step);
        }
        auto first = (*log)->Append(batch);
        if (first.ok()) {
          ASSERT_EQ(*first, acked.size() + 1) << "indexes must stay contiguous";
          for (size_t i = 0; i < batch.size(); ++i) acked[*first + i] = batch[i];
        } else {
          ++failed;
          EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
          EXPECT_EQ(std::string(first.status().message()).find(dir), std::string::npos)
              << "client-facing messages carry no paths: " << first.status();
        }
      }
      env.SetWriteBudget(-1);
      env.SetFailSyncs(false);
      // The store reopens itself on the next append once the disk works.
      auto first = (*log)->Append({"last"});
      ASSERT_TRUE(first.ok()) << first.status();
      acked[*first] = "last";
    }
    EXPECT_GT(failed, 0);
    auto log = LogStore::Open(dir);
    ASSERT_TRUE(log.ok()) << log.status();
    EXPECT_EQ((*log)->last_index(), acked.size());
    EXPECT_EQ(ReadAll(**log), acked);
    log->reset();
    fs::remove_all(dir);
  }
}

// The process stops while the disk is still full: the batch that failed must not reappear
// at the next start, even though LevelDB may have written it whole before the fsync failed.
TEST(LogStoreFaultTest, BatchWhoseSyncFailedIsRolledBackAtNextOpen) {
  const std::string dir = testing::TempDir("log-sync");
  {
    testing::FaultEnv env;
    LogStoreOptions options;
    options.env = &env;
    auto log = LogStore::Open(dir, options);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append({"a", "b"}).ok());
    env.SetFailSyncs(true);
    EXPECT_FALSE((*log)->Append({"lost"}).ok());
    EXPECT_FALSE((*log)->Append({"lost too"}).ok());
  }
  auto log = LogStore::Open(dir);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(ReadAll(**log), (std::map<uint64_t, std::string>{{1, "a"}, {2, "b"}}));
  EXPECT_EQ(*(*log)->Append({"c"}), 3u);
}

TEST(LogStoreFaultTest, DamageInsideTheWriteAheadFileRefusesToOpen) {
  const std::string dir = testing::TempDir("log-flip");
  {
    auto log = LogStore::Open(dir);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 50; ++i) ASSERT_TRUE((*log)->Append({std::string(100, 'x')}).ok());
  }
  const std::string file = testing::NewestWal(dir);
  ASSERT_FALSE(file.empty());
  testing::DamageByte(file, 1.0 / 2, '\x5a');
  auto log = LogStore::Open(dir);
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(log.status().message()).find(dir), std::string::npos)
      << "the operator's message names the directory: " << log.status();
}

// A crash mid-append leaves a torn record at the very end: that record was never
// acknowledged and is dropped; everything before it opens.
TEST(LogStoreFaultTest, TornTailIsDropped) {
  const std::string dir = testing::TempDir("log-torn");
  {
    auto log = LogStore::Open(dir);
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->Append({"one"}).ok());
    ASSERT_TRUE((*log)->Append({std::string(300, 't')}).ok());
  }
  const std::string file = testing::NewestWal(dir);
  fs::resize_file(file, fs::file_size(file) - 5);
  auto log = LogStore::Open(dir);
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ(ReadAll(**log), (std::map<uint64_t, std::string>{{1, "one"}}));
}

}  // namespace
}  // namespace dnsd::raft
