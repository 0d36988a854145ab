#include "raft/raft_storage.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include <algorithm>
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

std::vector<std::string> SnapshotFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with("snapshot-")) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The snapshot's data lives in a file of its own beside the database; each compaction writes
// the next one and deletes the previous one, and leftovers of a crash go at the next open.
TEST(RaftStorageTest, SnapshotDataLivesInOneFileReplacedAtEachCompaction) {
  const std::string dir = testing::TempDir("raft-storage-snapfile");
  const std::string big(3 << 20, 'b');  // past LevelDB's block and write-buffer sizes
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{2, 0, 8}, Entries(1, 8, 2)).ok());
    ASSERT_TRUE(
        (*storage)->Compact(Snapshot{3, 2, std::make_shared<const std::string>(big), {}}).ok());
    EXPECT_EQ(SnapshotFiles(dir), std::vector<std::string>{"snapshot-2-3.raftsnap"});
    EXPECT_EQ(fs::file_size(fs::path(dir) / "snapshot-2-3.raftsnap"), big.size());
    ASSERT_TRUE(
        (*storage)->Compact(Snapshot{6, 2, std::make_shared<const std::string>("six"), {}}).ok());
    EXPECT_EQ(SnapshotFiles(dir), std::vector<std::string>{"snapshot-2-6.raftsnap"});
    auto loaded = (*storage)->LoadSnapshot();
    ASSERT_TRUE(loaded.ok() && *loaded);
    EXPECT_EQ(*(*loaded)->data, "six");
  }
  // What a crash between writing a file and recording it leaves.
  std::ofstream(fs::path(dir) / "snapshot-2-7.raftsnap") << "orphan";
  std::ofstream(fs::path(dir) / "snapshot-2-8.raftsnap.tmp") << "torn";
  auto storage = RaftStorage::Open(dir);
  ASSERT_TRUE(storage.ok()) << storage.status();
  EXPECT_EQ(SnapshotFiles(dir), std::vector<std::string>{"snapshot-2-6.raftsnap"});
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(*state->snapshot->data, "six");
  EXPECT_EQ(state->entries.size(), 2u);
}

// A damaged or missing snapshot file is reported with the directory and the file, never
// taken for an empty state.
TEST(RaftStorageTest, ADamagedOrMissingSnapshotFileRefusesTheOpen) {
  for (const bool remove : {false, true}) {
    SCOPED_TRACE(remove);
    const std::string dir = testing::TempDir("raft-storage-snapdamage");
    {
      auto storage = RaftStorage::Open(dir);
      ASSERT_TRUE(storage.ok());
      ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{1, 0, 4}, Entries(1, 4, 1)).ok());
      ASSERT_TRUE((*storage)
                      ->Compact(Snapshot{4, 1, std::make_shared<const std::string>(4096, 's'), {}})
                      .ok());
    }
    const fs::path file = fs::path(dir) / "snapshot-1-4.raftsnap";
    if (remove) {
      fs::remove(file);
    } else {
      testing::DamageByte(file.string(), 0.5, 'x');
    }
    auto storage = RaftStorage::Open(dir);
    ASSERT_FALSE(storage.ok());
    EXPECT_EQ(storage.status().code(), absl::StatusCode::kDataLoss);
    const std::string message(storage.status().message());
    EXPECT_NE(message.find(dir), std::string::npos) << message;
    EXPECT_NE(message.find("snapshot-1-4.raftsnap"), std::string::npos) << message;
  }
}

// A snapshot written by a version that kept it inside LevelDB (record and data under "S")
// loads, and the next compaction moves it out.
TEST(RaftStorageTest, AnInlineSnapshotOfAnOlderVersionLoads) {
  const std::string dir = testing::TempDir("raft-storage-inline");
  {
    auto storage = RaftStorage::Open(dir);
    ASSERT_TRUE(storage.ok());
    ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{1, 0, 5}, Entries(1, 5, 1)).ok());
  }
  {
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), dir, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string record;
    auto u64 = [&](uint64_t v) {
      for (int i = 7; i >= 0; --i) record.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
    };
    u64(2), u64(1);  // index, term
    u64(1), u64(1);  // one voter: 1
    u64(0), u64(0);  // no learners, no contexts
    record += "inline data";
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "S", record).ok());
  }
  auto storage = RaftStorage::Open(dir);
  ASSERT_TRUE(storage.ok()) << storage.status();
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_TRUE(state->snapshot);
  EXPECT_EQ(*state->snapshot->data, "inline data");
  EXPECT_EQ(state->snapshot->conf.voters, std::vector<NodeId>{1});
  ASSERT_EQ(state->entries.size(), 3u);
  ASSERT_TRUE(
      (*storage)->Compact(Snapshot{4, 1, std::make_shared<const std::string>("four"), {}}).ok());
  storage->reset();
  storage = RaftStorage::Open(dir);
  ASSERT_TRUE(storage.ok());
  auto again = (*storage)->Load();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again->snapshot->data, "four");
  EXPECT_EQ(SnapshotFiles(dir), std::vector<std::string>{"snapshot-1-4.raftsnap"});
}

// A compaction whose snapshot file cannot be written (a full disk) changes nothing: the log
// and the previous snapshot stay, and the storage takes writes again once there is room.
TEST(RaftStorageTest, ACompactionThatCannotWriteItsFileChangesNothing) {
  const std::string dir = testing::TempDir("raft-storage-snapfull");
  testing::FaultEnv env;
  RaftStorageOptions options;
  options.env = &env;
  auto storage = RaftStorage::Open(dir, options);
  ASSERT_TRUE(storage.ok());
  ASSERT_TRUE((*storage)->Save(std::nullopt, HardState{1, 0, 6}, Entries(1, 6, 1)).ok());
  ASSERT_TRUE(
      (*storage)->Compact(Snapshot{2, 1, std::make_shared<const std::string>("two"), {}}).ok());
  env.SetWriteBudget(1000);
  EXPECT_FALSE(
      (*storage)->Compact(Snapshot{5, 1, std::make_shared<const std::string>(8192, 'f'), {}}).ok());
  EXPECT_EQ(SnapshotFiles(dir), std::vector<std::string>{"snapshot-1-2.raftsnap"});
  env.SetWriteBudget(-1);
  ASSERT_TRUE((*storage)->Reopen().ok());
  auto state = (*storage)->Load();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state->snapshot->data, "two");
  EXPECT_EQ(state->entries.size(), 4u);
  ASSERT_TRUE(
      (*storage)->Compact(Snapshot{5, 1, std::make_shared<const std::string>("five"), {}}).ok());
  EXPECT_EQ(SnapshotFiles(dir), std::vector<std::string>{"snapshot-1-5.raftsnap"});
}

}  // namespace
}  // namespace dnsd::raft
