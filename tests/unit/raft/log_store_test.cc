#include "raft/log_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "raft/local_driver.h"
#include "testing/files.h"

namespace dnsd::raft {
namespace {

TEST(LogStoreTest, AppendsSurviveReopen) {
  const std::string dir = testing::TempDir("log");
  {
    auto log = LogStore::Open(dir);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->last_index(), 0u);
    auto first = (*log)->Append({"a", "b"});
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(*first, 1u);
    EXPECT_EQ(*(*log)->Append({"c"}), 3u);
  }
  auto log = LogStore::Open(dir);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ((*log)->last_index(), 3u);
  std::vector<std::string> seen;
  ASSERT_TRUE((*log)
                  ->ForEach(2,
                            [&](uint64_t i, std::string_view e) {
                              seen.push_back(std::to_string(i) + std::string(e));
                              return absl::OkStatus();
                            })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"2b", "3c"}));
  std::filesystem::remove_all(dir);
}

TEST(LocalDriverTest, AppliesInOrderAndReportsApplyErrors) {
  const std::string dir = testing::TempDir("driver");
  auto log = LogStore::Open(dir);
  ASSERT_TRUE(log.ok());
  std::vector<std::string> applied;
  LocalDriver driver(**log, [&](uint64_t, std::string_view e) {
    applied.emplace_back(e);
    return e == "bad" ? absl::InvalidArgumentError("bad entry") : absl::OkStatus();
  });
  driver.Start();
  std::vector<std::future<absl::Status>> results;
  for (const char* e : {"one", "bad", "three"}) {
    auto promise = std::make_shared<std::promise<absl::Status>>();
    results.push_back(promise->get_future());
    driver.Propose(e, [promise](absl::Status s) { promise->set_value(s); });
  }
  EXPECT_TRUE(results[0].get().ok());
  EXPECT_FALSE(results[1].get().ok());
  EXPECT_TRUE(results[2].get().ok());
  driver.Stop();
  EXPECT_EQ(applied, (std::vector<std::string>{"one", "bad", "three"}));
  EXPECT_EQ(driver.applied_index(), 3u);

  // A new driver over the same log replays the same entries in the same order.
  std::vector<std::string> replayed;
  LocalDriver again(**log, [&](uint64_t, std::string_view e) {
    replayed.emplace_back(e);
    return absl::OkStatus();
  });
  ASSERT_TRUE(again.Replay().ok());
  EXPECT_EQ(replayed, applied);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnsd::raft
