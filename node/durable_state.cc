#include "node/durable_state.h"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <ctime>
#include <filesystem>
#include <vector>

#include "common/crash_point.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace dnsd::node {
namespace {

namespace fs = std::filesystem;

std::string Stamp() { return std::to_string(static_cast<long long>(std::time(nullptr))); }

std::string RepairHint(const std::string& data_dir) {
  return common::StrCat("run `dnsd repair --data-dir ", data_dir,
                        "` to salvage it (it keeps a copy of what it changes and reports what "
                        "is lost), or restore the data directory from a backup");
}

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

// Creates the data directory if needed. It holds either a single node's log ("log") or a
// cluster member's Raft log ("raft"); the config store's applied index counts entries of one
// of them only, so the other kind is refused.
absl::Status PrepareDataDir(const std::string& data_dir, bool clustered) {
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        common::StrCat("cannot create the data directory ", data_dir, ": ", ec.message()));
  }
  const fs::path other = fs::path(data_dir) / (clustered ? "log" : "raft");
  if (!fs::exists(other, ec)) return absl::OkStatus();
  return absl::FailedPreconditionError(common::StrCat(
      "the data directory ", data_dir, " belongs to a ",
      clustered ? "single node (it has a log/ directory)"
                : "cluster member (it has a raft/ directory)",
      "; start it the way it was started before, or give it an empty data directory (to join "
      "a running cluster, start it with --join and add it as a member)"));
}

}  // namespace

absl::StatusOr<ClusterState> OpenClusterState(const std::string& data_dir,
                                              const DurableStateOptions& options) {
  if (auto s = PrepareDataDir(data_dir, /*clustered=*/true); !s.ok()) return s;
  ClusterState state;
  state.raft_dir = (fs::path(data_dir) / "raft").string();
  auto store =
      OpenConfigStore((fs::path(data_dir) / "config").string(), options, state.config_moved_to);
  if (!store.ok()) return store.status();
  state.config = std::move(*store);
  return state;
}

absl::Status CheckClusterState(const config::ConfigStore& config, const std::string& raft_dir,
                               uint64_t raft_last_index) {
  const uint64_t applied = config.applied_index();
  if (applied <= raft_last_index) return absl::OkStatus();
  return absl::DataLossError(
      common::StrCat("the config store has applied Raft entry ", applied, " but the Raft log in ",
                     raft_dir, " ends at entry ", raft_last_index,
                     ": the log has lost entries (damaged or replaced files). Refusing to start; ",
                     kRejoinAdvice));
}

absl::StatusOr<DurableState> OpenDurableState(const std::string& data_dir,
                                              const DurableStateOptions& options) {
  DurableState state;
  const std::string log_dir = (fs::path(data_dir) / "log").string();
  const std::string config_dir = (fs::path(data_dir) / "config").string();

  if (auto s = PrepareDataDir(data_dir, /*clustered=*/false); !s.ok()) return s;
  raft::LogStoreOptions log_options;
  log_options.env = options.env;
  auto log = raft::LogStore::Open(log_dir, log_options);
  if (!log.ok()) {
    if (log.status().code() == absl::StatusCode::kDataLoss) {
      return absl::DataLossError(common::StrCat(
          log.status().message(), ". The log is the source of truth: ", RepairHint(data_dir)));
    }
    return log.status();
  }
  state.log = std::move(*log);

  auto store = OpenConfigStore(config_dir, options, state.config_moved_to);
  if (!store.ok()) return store.status();
  state.config = std::move(*store);

  const uint64_t applied = state.config->applied_index();
  const uint64_t last = state.log->last_index();
  if (applied > last) {
    return absl::DataLossError(common::StrCat(
        "the config store in ", config_dir, " has applied log entry ", applied,
        " but the durable log in ", log_dir, " ends at entry ", last,
        ": the log has lost acknowledged writes (a damaged or truncated file). Refusing to "
        "start, since new writes would reuse those indexes; ",
        RepairHint(data_dir), " (entries ", last + 1, "..", applied, " would be lost)"));
  }
  return state;
}

absl::Status RepairDataDir(const std::string& data_dir, std::ostream& report) {
  const fs::path log_dir = fs::path(data_dir) / "log";
  const fs::path config_dir = fs::path(data_dir) / "config";
  const std::string stamp = Stamp();
  std::error_code ec;
  if (!fs::exists(log_dir)) {
    return absl::NotFoundError(common::StrCat("no durable log in ", log_dir.string()));
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

  // 3. The config store is derived state: move it aside; the next start rebuilds it.
  if (fs::exists(config_dir)) {
    config::ConfigStoreOptions store_options;
    auto store = config::ConfigStore::Open(config_dir.string(), store_options);
    if (store.ok()) {
      const uint64_t applied = (*store)->applied_index();
      if (applied > entries.size()) {
        report << "the config store had applied " << applied << " entries; the log now holds "
               << entries.size() << ": the last " << applied - entries.size()
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

}  // namespace dnsd::node
