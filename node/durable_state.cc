#include "node/durable_state.h"

#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/write_batch.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <vector>

#include "common/crash_point.h"
#include "common/storage_failure.h"
#include "common/strings.h"
#include "node/log_entries.h"
#include "node/state_snapshot.h"
#include "raft/raft_storage.h"
#include "spdlog/spdlog.h"

namespace dnsd::node {
namespace {

namespace fs = std::filesystem;

std::string Stamp() { return std::to_string(static_cast<long long>(std::time(nullptr))); }

// Opens the config store; a damaged one is moved aside (its new name in `moved_to`) and an
// empty one opened, which the replay that follows rebuilds.
absl::StatusOr<std::unique_ptr<config::ConfigStore>> OpenConfigStore(
    const std::string& config_dir, const DurableStateOptions& options, std::string& moved_to) {
  std::error_code ec;
  config::ConfigStoreOptions config_options;
  config_options.env = options.env;
  auto store = config::ConfigStore::Open(config_dir, config_options);
  if (!store.ok() && store.status().code() == absl::StatusCode::kDataLoss) {
    const std::string moved = common::StrCat(config_dir, ".damaged-", Stamp());
    fs::rename(config_dir, moved, ec);
    if (ec) {
      return absl::DataLossError(common::StrCat(store.status().message(), "; moving it to ", moved,
                                                " failed: ", ec.message()));
    }
    common::CrashPoint("config.after_move_aside");
    spdlog::warn("{}; moved it to {} and rebuilding it from the log",
                 common::ToStd(store.status().message()), moved);
    moved_to = moved;
    store = config::ConfigStore::Open(config_dir, config_options);
  }
  return store;
}

// Creates the data directory if needed. It holds a single node's log (`raft-standalone`, or
// `log` from before Raft) or a cluster member's Raft log (`raft`); the config store's applied
// index counts entries of one of them only, so the other kind is refused.
absl::Status PrepareDataDir(const std::string& data_dir, bool clustered) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        common::StrCat("cannot create the data directory ", data_dir, ": ", ec.message()));
  }
  std::vector<std::string_view> others = {kClusterRaftDir};
  if (clustered) others = {kStandaloneRaftDir, kLegacyLogDir};
  for (std::string_view other : others) {
    if (!fs::exists(fs::path(data_dir) / other, ec)) continue;
    return absl::FailedPreconditionError(common::StrCat(
        "the data directory ", data_dir, " belongs to a ",
        clustered ? common::StrCat("single node (it has a ", other, "/ directory)")
                  : std::string("cluster member (it has a raft/ directory)"),
        "; start it the way it was started before, or give it an empty data directory (to "
        "join a running cluster, start it with --join and add it as a member)"));
  }
  return absl::OkStatus();
}

std::string Stamped(const std::string& data_dir, std::string_view name, std::string_view what) {
  return (fs::path(data_dir) / common::StrCat(name, ".", what, "-", Stamp())).string();
}

}  // namespace

std::string RepairHint(const std::string& data_dir) {
  return common::StrCat("run `dnsd repair --data-dir ", data_dir,
                        "` to salvage it (it keeps a copy of what it changes and reports what "
                        "is lost), or restore the data directory from a backup");
}

absl::Status WithRepairHint(const absl::Status& status, const std::string& data_dir) {
  if (status.code() != absl::StatusCode::kDataLoss) return status;
  return absl::DataLossError(common::StrCat(status.message(), ". ", RepairHint(data_dir)));
}

DataDirLock::~DataDirLock() {
  if (fd >= 0) close(fd);
}

namespace {

// An advisory lock on <data_dir>/dnsd.lock, released when the process ends however it ends.
absl::StatusOr<std::unique_ptr<DataDirLock>> LockDataDir(const std::string& data_dir) {
  const std::string path = (fs::path(data_dir) / "dnsd.lock").string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::UnavailableError(common::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  auto lock = std::make_unique<DataDirLock>(fd);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        common::StrCat("the data directory ", data_dir, " is in use by another dnsd (", path,
                       " is locked); give each dnsd its own --data-dir"));
  }
  return lock;
}

absl::StatusOr<ClusterState> OpenState(const std::string& data_dir,
                                       const DurableStateOptions& options, bool clustered) {
  if (auto s = PrepareDataDir(data_dir, clustered); !s.ok()) return s;
  ClusterState state;
  auto lock = LockDataDir(data_dir);
  if (!lock.ok()) return lock.status();
  state.lock = std::move(*lock);
  state.raft_dir =
      (fs::path(data_dir) / (clustered ? kClusterRaftDir : kStandaloneRaftDir)).string();
  auto store =
      OpenConfigStore((fs::path(data_dir) / "config").string(), options, state.config_moved_to);
  if (!store.ok()) return store.status();
  state.config = std::move(*store);
  return state;
}

}  // namespace

absl::StatusOr<ClusterState> OpenClusterState(const std::string& data_dir,
                                              const DurableStateOptions& options) {
  return OpenState(data_dir, options, /*clustered=*/true);
}

absl::StatusOr<ClusterState> OpenStandaloneState(const std::string& data_dir,
                                                 const DurableStateOptions& options) {
  return OpenState(data_dir, options, /*clustered=*/false);
}

absl::Status CheckClusterState(const config::ConfigStore& config, const std::string& raft_dir,
                               uint64_t raft_last_index, bool standalone) {
  const uint64_t applied = config.applied_index();
  if (applied <= raft_last_index) return absl::OkStatus();
  const std::string data_dir = fs::path(raft_dir).parent_path().string();
  return absl::DataLossError(common::StrCat(
      "the config store has applied Raft entry ", applied, " but the Raft log in ", raft_dir,
      " ends at entry ", raft_last_index,
      ": the log has lost acknowledged writes (damaged or replaced files). Refusing to start; ",
      standalone ? common::StrCat(RepairHint(data_dir), " (entries ", raft_last_index + 1, "..",
                                  applied, " would be lost)")
                 : std::string(kRejoinAdvice)));
}

absl::Status MigrateLegacyLog(const std::string& data_dir, registry::Registry& registry,
                              config::ConfigStore& config_store) {
  const fs::path legacy = fs::path(data_dir) / kLegacyLogDir;
  const fs::path raft_dir = fs::path(data_dir) / kStandaloneRaftDir;
  const fs::path building = fs::path(data_dir) / common::StrCat(kStandaloneRaftDir, ".migrating");
  std::error_code ec;
  if (!fs::exists(legacy, ec)) return absl::OkStatus();
  const std::string legacy_moved = Stamped(data_dir, kLegacyLogDir, "migrated");
  auto rename = [&](const fs::path& from, const fs::path& to) {
    fs::rename(from, to, ec);
    return ec ? absl::UnavailableError(
                    common::StrCat("renaming ", from.string(), ": ", ec.message()))
              : absl::OkStatus();
  };
  // A crash after the new log was in place: only the old log's rename was left.
  if (fs::exists(raft_dir, ec)) return rename(legacy, legacy_moved);
  fs::remove_all(building, ec);  // a migration a crash interrupted starts over

  auto log = raft::LogStore::Open(legacy.string());
  if (!log.ok()) {
    if (log.status().code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(common::StrCat(
          log.status().message(), ". The log is the source of truth: ", RepairHint(data_dir)));
    }
    return log.status();
  }
  const uint64_t last = (*log)->last_index();
  if (config_store.applied_index() > last) {
    return absl::DataLossError(common::StrCat(
        "the config store has applied log entry ", config_store.applied_index(),
        " but the durable log in ", legacy.string(), " ends at entry ", last,
        ": the log has lost acknowledged writes (a damaged or truncated file). Refusing to "
        "start; ",
        RepairHint(data_dir)));
  }
  spdlog::info("migrating the log in {} ({} entries) to a Raft log", legacy.string(), last);
  // A log from before Raft holds no auth entries: its snapshot's auth part is empty.
  auth::AuthStore no_auth;
  const StateMachines machines{registry, config_store, no_auth};
  absl::Status replayed = (*log)->ForEach(1, [&](uint64_t index, std::string_view entry) {
    absl::Status result = ApplyLogEntry(machines, index, entry);
    if (common::IsStorageFailure(result) || common::IsStateDamaged(result)) {
      return absl::UnavailableError(
          common::StrCat("applying log entry ", index, ": ", result.message()));
    }
    return absl::OkStatus();  // a command's own failure is a no-op, as when it was applied
  });
  if (!replayed.ok()) return replayed;
  log->reset();
  if (last > 0) {
    auto whole = TakeStateSnapshot(machines, SnapshotConfigs::kCurrent);
    if (!whole.ok()) return whole.status();
    auto storage = raft::RaftStorage::Open(building.string());
    if (!storage.ok()) return storage.status();
    raft::Snapshot snapshot;
    snapshot.index = last;
    snapshot.term = 1;
    snapshot.data = std::make_shared<const std::string>(*std::move(whole));
    snapshot.conf.voters = {kStandaloneRaftId};
    if (auto s = (*storage)->Save(snapshot, raft::HardState{1, 0, last}, {}); !s.ok()) return s;
    storage->reset();
    common::CrashPoint("migrate.before_rename");
    if (auto s = rename(building, raft_dir); !s.ok()) return s;
  }
  if (auto s = rename(legacy, legacy_moved); !s.ok()) return s;
  spdlog::info("the old log is kept in {}; it is no longer read", legacy_moved);
  return absl::OkStatus();
}

namespace {

absl::Status MoveConfigStoreAside(const std::string& data_dir, uint64_t log_last,
                                  const std::string& stamp, std::ostream& report);

uint64_t BigEndian(std::string_view bytes) {
  uint64_t v = 0;
  for (char c : bytes.substr(0, 8)) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

std::string BigEndianKey(char prefix, uint64_t v) {
  std::string key(9, '\0');
  key[0] = prefix;
  for (int b = 0; b < 8; ++b) key[8 - b] = static_cast<char>((v >> (8 * b)) & 0xff);
  return key;
}

// Opens a LevelDB directory for repair; when it does not open, `keep_copy` runs first and
// LevelDB's RepairDB salvages the readable records.
absl::StatusOr<std::unique_ptr<leveldb::DB>> OpenForRepair(
    const fs::path& dir, const std::function<absl::Status()>& keep_copy, std::ostream& report) {
  leveldb::Options options;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir.string(), &raw);
  if (s.ok()) return std::unique_ptr<leveldb::DB>(raw);
  report << "the log does not open: " << s.ToString() << "\n";
  if (auto c = keep_copy(); !c.ok()) return c;
  s = leveldb::RepairDB(dir.string(), leveldb::Options());
  if (!s.ok()) return absl::DataLossError(common::StrCat("LevelDB repair failed: ", s.ToString()));
  report << "LevelDB salvaged the readable records of the log\n";
  options.paranoid_checks = false;
  s = leveldb::DB::Open(options, dir.string(), &raw);
  if (!s.ok()) {
    return absl::DataLossError(common::StrCat("the log still does not open: ", s.ToString()));
  }
  return std::unique_ptr<leveldb::DB>(raw);
}

// A single node's Raft log (RaftStorage's layout): entries after the snapshot renumbered to
// follow it without gaps, their terms kept (so never decreasing); the hard state's term at
// least the last entry's and its commit within the log. Returns the last index.
absl::StatusOr<uint64_t> RepairRaftLog(const fs::path& dir,
                                       const std::function<absl::Status()>& keep_copy,
                                       std::ostream& report) {
  auto db = OpenForRepair(dir, keep_copy, report);
  if (!db.ok()) return db.status();
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  uint64_t base = 0;
  std::string value;
  // The snapshot record: "F" (its data in a snapshot file beside the database) or, as older
  // versions wrote it, "S" (data inline); both begin with the snapshot's index.
  if ((*db)->Get(read, "F", &value).ok() || (*db)->Get(read, "S", &value).ok()) {
    if (value.size() < 16) return absl::DataLossError("the snapshot record is damaged");
    base = BigEndian(value);
    report << "the log starts after a snapshot at entry " << base << "\n";
  }
  raft::HardState hs;
  if ((*db)->Get(read, "H", &value).ok() && value.size() == 24) {
    hs = {BigEndian(value), BigEndian(std::string_view(value).substr(8)),
          BigEndian(std::string_view(value).substr(16))};
  }
  std::vector<std::pair<std::string, std::string>> entries;  // key, value
  uint64_t expected = base + 1, missing = 0, max_term = 0;
  {
    std::unique_ptr<leveldb::Iterator> it((*db)->NewIterator(read));
    for (it->Seek("E"); it->Valid() && it->key().starts_with("E"); it->Next()) {
      if (it->key().size() != 9 || it->value().size() < 8) continue;
      const uint64_t index = BigEndian(std::string_view(it->key().data() + 1, 8));
      if (index <= base) continue;
      if (index != expected) {
        report << "entries " << expected << ".." << index - 1 << " are missing\n";
        missing += index - expected;
      }
      expected = index + 1;
      max_term = std::max(max_term, BigEndian(std::string_view(it->value().data(), 8)));
      entries.emplace_back(it->key().ToString(), it->value().ToString());
    }
    if (!it->status().ok()) {
      report << "reading stopped at a damaged block: " << it->status().ToString() << "\n";
    }
  }
  const uint64_t last = base + entries.size();
  report << "the log holds " << entries.size() << " readable entries after the snapshot\n";
  leveldb::WriteBatch batch;
  if (missing > 0) {
    if (auto c = keep_copy(); !c.ok()) return c;
    for (const auto& [key, v] : entries) batch.Delete(key);
    for (size_t i = 0; i < entries.size(); ++i) {
      batch.Put(BigEndianKey('E', base + 1 + i), entries[i].second);
    }
    report << "renumbered the log's entries " << base + 1 << ".." << last << "\n";
  }
  raft::HardState fixed{std::max(hs.term, max_term), hs.vote, std::min(hs.commit, last)};
  if (!(fixed == hs)) {
    std::string h;
    for (uint64_t v : {fixed.term, fixed.vote, fixed.commit}) {
      h += BigEndianKey(' ', v).substr(1);
    }
    batch.Put("H", h);
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (auto w = (*db)->Write(sync, &batch); !w.ok()) {
    return absl::DataLossError(common::StrCat("rewriting the log: ", w.ToString()));
  }
  return last;
}

}  // namespace

absl::Status RepairDataDir(const std::string& data_dir, std::ostream& report) {
  const fs::path config_dir = fs::path(data_dir) / "config";
  const std::string stamp = Stamp();
  std::error_code ec;
  const fs::path raft_dir = fs::path(data_dir) / kStandaloneRaftDir;
  if (fs::exists(raft_dir)) {
    const fs::path copy =
        fs::path(data_dir) / common::StrCat(kStandaloneRaftDir, ".before-repair-", stamp);
    auto keep_copy = [&]() -> absl::Status {
      if (fs::exists(copy)) return absl::OkStatus();
      fs::copy(raft_dir, copy, fs::copy_options::recursive, ec);
      if (ec) return absl::InternalError(common::StrCat("copying the log: ", ec.message()));
      report << "kept a copy of the log in " << copy.string() << "\n";
      return absl::OkStatus();
    };
    auto last = RepairRaftLog(raft_dir, keep_copy, report);
    if (!last.ok()) return last.status();
    return MoveConfigStoreAside(data_dir, *last, stamp, report);
  }
  const fs::path log_dir = fs::path(data_dir) / kLegacyLogDir;
  if (!fs::exists(log_dir)) {
    return absl::NotFoundError(common::StrCat(
        "no single node's log in ", data_dir, " (neither ", kStandaloneRaftDir, "/ nor ",
        kLegacyLogDir, "/); a cluster member is repaired by rejoining: ", kRejoinAdvice));
  }

  // 1. The log must open; if it does not, keep a copy and let LevelDB salvage what it can.
  leveldb::Options options;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, log_dir.string(), &raw);
  std::unique_ptr<leveldb::DB> db(raw);
  const fs::path log_copy = fs::path(data_dir) / common::StrCat("log.before-repair-", stamp);
  auto copy_log = [&]() -> absl::Status {
    if (fs::exists(log_copy)) return absl::OkStatus();
    fs::copy(log_dir, log_copy, fs::copy_options::recursive, ec);
    if (ec) return absl::InternalError(common::StrCat("copying the log: ", ec.message()));
    report << "kept a copy of the log in " << log_copy.string() << "\n";
    return absl::OkStatus();
  };
  if (!s.ok()) {
    report << "the log does not open: " << s.ToString() << "\n";
    if (auto c = copy_log(); !c.ok()) return c;
    leveldb::Options repair_options;
    s = leveldb::RepairDB(log_dir.string(), repair_options);
    if (!s.ok())
      return absl::DataLossError(common::StrCat("LevelDB repair failed: ", s.ToString()));
    report << "LevelDB salvaged the readable records of the log\n";
    options.paranoid_checks = false;
    s = leveldb::DB::Open(options, log_dir.string(), &raw);
    if (!s.ok()) {
      return absl::DataLossError(common::StrCat("the log still does not open: ", s.ToString()));
    }
    db.reset(raw);
  }

  // 2. Read every entry that can be read; note gaps.
  std::vector<std::pair<std::string, std::string>> entries;  // key, value
  uint64_t expected = 1, missing = 0;
  {
    leveldb::ReadOptions read;
    read.verify_checksums = true;
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(read));
    for (it->Seek("L"); it->Valid() && it->key().starts_with("L") && it->key().size() == 9;
         it->Next()) {
      uint64_t index = 0;
      for (int i = 1; i < 9; ++i) index = (index << 8) | static_cast<uint8_t>(it->key()[i]);
      if (index != expected) {
        report << "entries " << expected << ".." << index - 1 << " are missing\n";
        missing += index - expected;
      }
      expected = index + 1;
      entries.emplace_back(it->key().ToString(), it->value().ToString());
    }
    if (!it->status().ok()) {
      report << "reading stopped at a damaged block: " << it->status().ToString() << "\n";
    }
  }
  report << "the log holds " << entries.size() << " readable entries\n";
  if (missing > 0 || entries.size() + 1 != expected) {
    // Rewrite with contiguous indexes: every entry is a whole command, so only their order
    // matters, and the config store is rebuilt from the rewritten log anyway.
    if (auto c = copy_log(); !c.ok()) return c;
    leveldb::WriteBatch batch;
    for (const auto& [key, value] : entries) batch.Delete(key);
    for (size_t i = 0; i < entries.size(); ++i) {
      std::string key(9, '\0');
      key[0] = 'L';
      const uint64_t index = i + 1;
      for (int b = 0; b < 8; ++b) key[8 - b] = static_cast<char>((index >> (8 * b)) & 0xff);
      batch.Put(key, entries[i].second);
    }
    leveldb::WriteOptions sync;
    sync.sync = true;
    s = db->Write(sync, &batch);
    if (!s.ok()) return absl::DataLossError(common::StrCat("rewriting the log: ", s.ToString()));
    report << "renumbered the log's entries 1.." << entries.size() << "\n";
  }
  db.reset();
  return MoveConfigStoreAside(data_dir, entries.size(), stamp, report);
}

namespace {

absl::Status MoveConfigStoreAside(const std::string& data_dir, uint64_t log_last,
                                  const std::string& stamp, std::ostream& report) {
  // The config store is derived state: move it aside; the next start rebuilds it.
  const fs::path config_dir = fs::path(data_dir) / "config";
  std::error_code ec;
  if (fs::exists(config_dir)) {
    config::ConfigStoreOptions store_options;
    auto store = config::ConfigStore::Open(config_dir.string(), store_options);
    if (store.ok()) {
      const uint64_t applied = (*store)->applied_index();
      if (applied > log_last) {
        report << "the config store had applied " << applied << " entries; the log now holds "
               << log_last << ": the last " << applied - log_last
               << " acknowledged writes are lost\n";
      }
    } else {
      report << "the config store is damaged: " << store.status().message() << "\n";
    }
    store = absl::UnavailableError("closed");
    const fs::path moved = fs::path(data_dir) / common::StrCat("config.before-repair-", stamp);
    fs::rename(config_dir, moved, ec);
    if (ec) return absl::InternalError(common::StrCat("moving the config store: ", ec.message()));
    report << "moved the config store to " << moved.string()
           << "; the next start rebuilds it from the log\n";
  }
  report << "repair done\n";
  return absl::OkStatus();
}

}  // namespace

}  // namespace dnsd::node
