// CowIndex: values found with and without a reader cache after adds, replacements and removals;
// shards split into buckets as they grow (no bucket past kMaxBucket, every key still found,
// cached readers see the new layout); a reader thread looking keys up while the writer adds,
// replaces and removes never sees a key vanish or a value go backwards; a batch's adds and
// removals show only when it ends (through splits too), its replacements at once.
#include "common/cow_index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

namespace dnsd::common {
namespace {

using Index = CowIndex<std::string, int>;

std::shared_ptr<const int> Int(int v) { return std::make_shared<const int>(v); }

TEST(CowIndexTest, PublishReplaceRemove) {
  Index index;
  Index::ReaderCache cache;
  EXPECT_EQ(index.Find(std::string("a")), nullptr);
  EXPECT_EQ(index.Find(std::string("a"), cache), nullptr);
  index.Publish("a", Int(1));
  index.Publish("b", Int(2));
  EXPECT_EQ(*index.Find(std::string("a")), 1);
  EXPECT_EQ(*index.Find(std::string("b"), cache), 2);
  index.Publish("b", Int(3));  // a replacement: the cached reader notices the slot version
  EXPECT_EQ(*index.Find(std::string("b"), cache), 3);
  index.Remove("a");
  index.Remove("never-there");
  EXPECT_EQ(index.Find(std::string("a")), nullptr);
  EXPECT_EQ(index.Find(std::string("a"), cache), nullptr);
  int seen = 0;
  index.ForEach([&](const std::string& key, const std::shared_ptr<const int>& v) {
    EXPECT_EQ(key, "b");
    EXPECT_EQ(*v, 3);
    ++seen;
  });
  EXPECT_EQ(seen, 1);
}

TEST(CowIndexTest, ShardsSplitIntoBucketsAndEveryKeyIsStillFound) {
  Index index;
  Index::ReaderCache cache;
  constexpr int kKeys = 200'000;  // ~780 per shard: several doublings of every shard
  for (int i = 0; i < kKeys; ++i) {
    index.Publish("key-" + std::to_string(i), Int(i));
    if (i % 997 == 0) {  // a cached reader keeps up with the splits as they happen
      ASSERT_NE(index.Find(std::string("key-0"), cache), nullptr);
      ASSERT_EQ(*index.Find("key-" + std::to_string(i), cache), i);
    }
  }
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key-" + std::to_string(i);
    const auto found = index.Find(key);
    ASSERT_NE(found, nullptr) << key;
    ASSERT_EQ(*found, i);
    ASSERT_EQ(*index.Find(key, cache), i);
  }
  const auto [keys, buckets] = index.ShardShapeOf("key-1");
  EXPECT_GT(keys, 500u);
  EXPECT_GE(buckets * Index::kMaxBucket, keys) << "buckets grew with the shard";
  size_t total = 0;
  index.ForEach([&](const std::string&, const std::shared_ptr<const int>&) { ++total; });
  EXPECT_EQ(total, static_cast<size_t>(kKeys));
  // Removals after the splits.
  for (int i = 0; i < kKeys; i += 2) index.Remove("key-" + std::to_string(i));
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    EXPECT_EQ(index.Find(key, cache) == nullptr, i % 2 == 0) << key;
  }
  const size_t left = index.ShardShapeOf("key-1").first;
  EXPECT_LT(left, keys);
  EXPECT_GT(left, 0u);
}

TEST(CowIndexTest, ABatchShowsItsAddsAndRemovalsWhenItEnds) {
  Index index;
  Index::ReaderCache cache;
  for (int i = 0; i < 1000; ++i) index.Publish("old-" + std::to_string(i), Int(i));
  index.BeginBatch();
  for (int i = 0; i < 100'000; ++i) index.Publish("new-" + std::to_string(i), Int(i));
  for (int i = 0; i < 1000; i += 2) index.Remove("old-" + std::to_string(i));
  index.Publish("old-1", Int(-1));  // an existing key's new value shows at once
  index.Publish("new-7", Int(70));  // staged twice: the later value wins
  index.Remove("new-8");            // added and removed inside the batch
  EXPECT_EQ(index.Find(std::string("new-5")), nullptr);
  EXPECT_EQ(index.Find(std::string("new-5"), cache), nullptr);
  ASSERT_NE(index.Find(std::string("old-0")), nullptr) << "removal staged";
  EXPECT_EQ(*index.Find(std::string("old-1"), cache), -1);
  index.EndBatch();
  for (int i = 0; i < 100'000; ++i) {
    const std::string key = "new-" + std::to_string(i);
    const int* found = index.Find(key, cache);
    if (i == 8) {
      EXPECT_EQ(found, nullptr);
      continue;
    }
    ASSERT_NE(found, nullptr) << key;
    ASSERT_EQ(*found, i == 7 ? 70 : i) << key;
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(index.Find("old-" + std::to_string(i)) == nullptr, i % 2 == 0) << i;
  }
  // Outside a batch again: one key at a time, seen at once.
  index.Publish("after", Int(1));
  EXPECT_EQ(*index.Find(std::string("after"), cache), 1);
  const auto [keys, buckets] = index.ShardShapeOf("new-1");
  EXPECT_GE(buckets * Index::kMaxBucket, keys) << "the batch split its shards as it grew";
}

TEST(CowIndexTest, ReadersNeverLoseAKeyWhileTheWriterGrowsTheIndex) {
  Index index;
  for (int i = 0; i < 64; ++i) index.Publish("stable-" + std::to_string(i), Int(0));
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::thread reader([&] {
    Index::ReaderCache cache;
    std::vector<int> last(64, 0);
    while (!done.load()) {
      for (int i = 0; i < 64; ++i) {
        const int* v = index.Find("stable-" + std::to_string(i), cache);
        if (v == nullptr || *v < last[i]) failures.fetch_add(1);
        if (v != nullptr) last[i] = *v;
      }
    }
  });
  for (int round = 1; round <= 50; ++round) {
    for (int i = 0; i < 2000; ++i)
      index.Publish(std::to_string(round) + "/" + std::to_string(i), Int(round));
    for (int i = 0; i < 64; ++i) index.Publish("stable-" + std::to_string(i), Int(round));
    for (int i = 0; i < 2000; i += 3) index.Remove(std::to_string(round) + "/" + std::to_string(i));
  }
  done = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace dnsd::common
