#include "raft/raft_storage.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "testing/fault_env.h"
#include "testing/files.h"

namespace dnsd::raft {
namespace {

namespace fs = std::filesystem;

std::vector<Entry> Entries(uint64_t from, uint64_t to, uint64_t term) {
  std::vector<Entry> out;
  for (uint64_t i = from; i <= to; ++i) out.push_back(Entry{term, i, "e" + std::to_string(i)});
  return out;
}

TEST(RaftStorageTest, SavesReplacesAndLoads) {
  const std::string dir = testing::TempDir("raft-storage");
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok()) << storage.status();
    ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{2, 1, 0}, Entries(1, 5, 2)).ok());
    // A conflicting leader replaces entries 4..5 with a shorter tail of term 3.
    ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{3, 0, 3}, Entries(4, 4, 3)).ok());
  }
  auto storage = RaftStorage::Open(dir);
  ASSERT_TRUE(storage.ok());
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->hard_state, (HardState{3, 0, 3}));
  ASSERT_EQ(state->entries.size(), 4u);
  EXPECT_EQ(state->entries[2], (Entry{2, 3, "e3"}));
  EXPECT_EQ(state->entries[3], (Entry{3, 4, "e4"}));
  EXPECT_FALSE((*storage)->Save(std::nullopt, std::nullopt, Entries(7, 7, 3)).ok())
      << "a gap is refused";
}

TEST(RaftStorageTest, SnapshotsReplaceAndCompactTheLog) {
  const std::string dir = testing::TempDir("raft-storage-snap");
  auto data = std::make_shared<const std::string>("state at 3");
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{2, 0, 4}, Entries(1, 6, 2)).ok());
    ASSERT_TRUE((*storage)->Compact(Snapshot{3, 2, data, ConfState{{1, 2, 3}, {}, {}}}).ok());
    EXPECT_EQ((*storage)->first_index(), 4u);
  }
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto state = (*storage)->Load();
    ASSERT_TRUE(state.ok());
    ASSERT_TRUE(state->snapshot);
    EXPECT_EQ(*state->snapshot->data, "state at 3");
    EXPECT_EQ(state->snapshot->conf, (ConfState{{1, 2, 3}, {}, {}}));
    ASSERT_EQ(state->entries.size(), 3u);
    EXPECT_EQ(state->entries.front().index, 4u);
    // A leader's snapshot replaces the whole log; entries after it follow.
    auto leader_data = std::make_shared<const std::string>("state at 10");
    const ConfState leader_conf{{1, 2, 4}, {5}, {{4, "10.0.0.4:8848"}, {5, "10.0.0.5:8848"}}};
    ASSERT_TRUE((*storage)
                    ->Save(Snapshot{10, 3, leader_data, leader_conf}, HardState{3, 0, 10},
                           {Entry{3, 11, "x"}})
                    .ok());
  }
  auto storage = RaftStorage::Open(dir);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->snapshot->index, 10u);
  EXPECT_EQ(*state->snapshot->data, "state at 10");
  EXPECT_EQ(state->snapshot->conf,
            (ConfState{{1, 2, 4}, {5}, {{4, "10.0.0.4:8848"}, {5, "10.0.0.5:8848"}}}));
  ASSERT_EQ(state->entries.size(), 1u);
  EXPECT_EQ(state->entries[0], (Entry{3, 11, "x"}));
}

// Whatever fails, the storage reopens to a state some prefix of the saves produced, with the
// failed save entirely in or entirely out.
TEST(RaftStorageTest, FailedSavesAreAllOrNothing) {
  for (int seed = 0; seed < 8; ++seed) {
    SCOPED_TRACE(seed);
    const std::string dir = testing::TempDir("raft-storage-fault");
    std::mt19937 rng(seed);
    testing::FaultEnv env;
    RaftStorageOptions options;
    options.env = &env;
    RaftStorageState before, attempted;
    {
      auto storage = RaftStorage::Open(dir, options);
      ASSERT_TRUE(storage.ok());
      uint64_t term = 1;
      for (int step = 0; step < 200; ++step) {
        if (rng() % 20 == 0) env.SetWriteBudget(static_cast<int64_t>(rng() % 3000));
        if (rng() % 7 == 0) ++term;
        const uint64_t last = before.entries.size();
        const uint64_t from = last == 0 ? 1 : 1 + rng() % last;
        std::vector<Entry> entries = Entries(from, from + rng() % 4, term);
        for (auto& e : entries) e.data += std::string(rng() % 500, 'x');
        HardState hs{term, 0, std::min<uint64_t>(from - 1, before.hard_state.commit + 1)};
        attempted = before;
        attempted.hard_state = hs;
        attempted.entries.resize(from - 1);
        attempted.entries.insert(attempted.entries.end(), entries.begin(), entries.end());
        if (!(*storage)->Save(std::nullopt, hs, entries).ok()) break;
        before = attempted;
      }
    }
    env.SetWriteBudget(-1);
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok()) << storage.status();
    auto state = (*storage)->Load();
    ASSERT_TRUE(state.ok());
    const bool is_before =
        state->hard_state == before.hard_state && state->entries == before.entries;
    const bool is_after =
        state->hard_state == attempted.hard_state && state->entries == attempted.entries;
    EXPECT_TRUE(is_before || is_after);
    storage->reset();
    fs::remove_all(dir);
  }
}

TEST(RaftStorageTest, DamageIsReportedWithTheDirectory) {
  const std::string dir = testing::TempDir("raft-storage-flip");
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    for (uint64_t i = 1; i <= 50; ++i) {
      ASSERT_TRUE((*storage)
                      ->Save(std::nullopt, HardState{1, 0, 0}, {Entry{1, i, std::string(100, 'd')}})
                      .ok());
    }
  }
  const std::string wal = testing::NewestWal(dir);
  ASSERT_FALSE(wal.empty());
  testing::DamageByte(wal, 1.0 / 2, '\x42');
  auto storage = RaftStorage::Open(dir);
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(storage.status().message()).find(dir), std::string::npos);
}

// LevelDB would take a directory without CURRENT for a new database and write an empty one
// over the entries; the open must refuse instead, and leave every file as it was.
TEST(RaftStorageTest, AMissingCurrentFileRefusesTheOpen) {
  const std::string dir = testing::TempDir("raft-storage-current");
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{1, 0, 1}, Entries(1, 20, 1)).ok());
  }
  fs::rename(fs::path(dir) / "CURRENT", fs::path(dir) / "CURRENT.moved");
  auto refused = RaftStorage::Open(dir);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(refused.status().message()).find("CURRENT"), std::string::npos);
  EXPECT_FALSE(fs::exists(fs::path(dir) / "CURRENT"));

  fs::rename(fs::path(dir) / "CURRENT.moved", fs::path(dir) / "CURRENT");
  auto storage = RaftStorage::Open(dir);
  ASSERT_TRUE(storage.ok());
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->entries.size(), 20u);
}

}  // namespace
}  // namespace dnsd::raft
