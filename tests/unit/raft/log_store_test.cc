#include "raft/log_store.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <future>

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

}  // namespace
}  // namespace dnsd::raft
