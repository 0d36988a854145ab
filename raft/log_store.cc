#include "raft/log_store.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <filesystem>
#include <fstream>

#include "common/strings.h"
#include "raft/leveldb_files.h"
#include "spdlog/spdlog.h"

namespace dnsd::raft {
namespace {

// Written (best effort) when a batch fails and the database cannot be reopened at once: the
// last acknowledged index, so that even a restart rolls the failed batch back.
constexpr char kAckedMarker[] = "ACKED_INDEX";

std::string KeyOf(uint64_t index) {
  std::string key(9, '\0');
  key[0] = 'L';
  for (int i = 0; i < 8; ++i) key[8 - i] = static_cast<char>((index >> (8 * i)) & 0xff);
  return key;
}

bool IndexOf(const leveldb::Slice& key, uint64_t& index) {
  if (key.size() != 9 || key[0] != 'L') return false;
  index = 0;
  for (int i = 1; i < 9; ++i) index = (index << 8) | static_cast<uint8_t>(key[i]);
  return true;
}

absl::StatusOr<uint64_t> LastIndexIn(leveldb::DB& db) {
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db.NewIterator(read));
  it->Seek(KeyOf(UINT64_MAX));
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  uint64_t index = 0;
  if (it->Valid() && !IndexOf(it->key(), index)) index = 0;
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  return index;
}

}  // namespace

LogStore::LogStore(std::string dir, const LogStoreOptions& options)
    : dir_(std::move(dir)), options_(options) {}
LogStore::~LogStore() = default;

absl::StatusOr<std::unique_ptr<LogStore>> LogStore::Open(const std::string& dir,
                                                         const LogStoreOptions& options) {
  std::unique_ptr<LogStore> store(new LogStore(dir, options));
  if (auto s = store->OpenDb(); !s.ok()) return s;
  auto last = LastIndexIn(*store->db_);
  if (!last.ok()) {
    return absl::DataLossError(
        common::StrCat("the durable log in ", dir, " is damaged (", last.status().message(), ")"));
  }
  store->last_index_ = *last;
  // A batch that failed before the last stop may have reached the file after all.
  std::ifstream marker(std::filesystem::path(dir) / kAckedMarker);
  uint64_t acked = 0;
  if (marker >> acked && acked < store->last_index_) {
    spdlog::warn("log {}: rolling back entries {}..{} whose write failed", dir, acked + 1,
                 store->last_index_);
    store->last_index_ = acked;
    if (auto s = store->RollBackUnacknowledged(); !s.ok()) return s;
  }
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(dir) / kAckedMarker, ec);
  return store;
}

absl::Status LogStore::OpenDb() {
  auto db = OpenLevelDb(dir_, options_.env, "durable log");
  if (!db.ok()) return db.status();
  db_ = std::move(*db);
  return absl::OkStatus();
}

absl::Status LogStore::RollBackUnacknowledged() {
  auto last = LastIndexIn(*db_);
  if (!last.ok()) return last.status();
  if (*last <= last_index_) return absl::OkStatus();
  leveldb::WriteBatch batch;
  for (uint64_t i = last_index_ + 1; i <= *last; ++i) batch.Delete(KeyOf(i));
  leveldb::WriteOptions options;
  options.sync = true;
  const leveldb::Status s = db_->Write(options, &batch);
  if (!s.ok()) {
    return absl::UnavailableError(common::StrCat("log rollback failed: ", s.ToString()));
  }
  spdlog::warn("log {}: rolled back {} unacknowledged entries", dir_, *last - last_index_);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> LogStore::Append(const std::vector<std::string>& entries) {
  if (db_ == nullptr) {
    // Closed by an earlier failure: reopen (recovery drops the torn tail), roll back, go on.
    absl::Status s = OpenDb();
    if (s.ok()) s = RollBackUnacknowledged();
    if (!s.ok()) {
      db_.reset();
      spdlog::debug("log {} still unavailable: {}", dir_, common::ToStd(s.message()));
      return absl::UnavailableError("the durable log is unavailable after a write failure");
    }
    spdlog::info("log {}: reopened after a write failure; appending again", dir_);
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(dir_) / kAckedMarker, ec);
  }
  leveldb::WriteBatch batch;
  const uint64_t first = last_index_ + 1;
  for (size_t i = 0; i < entries.size(); ++i) batch.Put(KeyOf(first + i), entries[i]);
  leveldb::WriteOptions options;
  options.sync = true;
  const leveldb::Status s = db_->Write(options, &batch);
  if (s.ok()) {
    last_index_ += entries.size();
    return first;
  }
  spdlog::error("log {}: append of entries {}..{} failed: {}", dir_, first,
                first + entries.size() - 1, s.ToString());
  db_.reset();
  {
    std::ofstream marker(std::filesystem::path(dir_) / kAckedMarker, std::ios::trunc);
    marker << last_index_ << '\n';
  }
  // Try at once: a failed fsync or a momentary ENOSPC may be over already.
  absl::Status reopened = OpenDb();
  if (reopened.ok()) reopened = RollBackUnacknowledged();
  if (reopened.ok()) {
    std::error_code ec;
    std::filesystem::remove(std::filesystem::path(dir_) / kAckedMarker, ec);
  } else {
    db_.reset();
  }
  return absl::UnavailableError(
      common::StrCat("the write was not stored: ", StorageFailureMessage(s)));
}

absl::Status LogStore::ForEach(
    uint64_t from, const std::function<absl::Status(uint64_t, std::string_view)>& fn) const {
  if (db_ == nullptr) return absl::UnavailableError("the durable log is closed");
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read));
  uint64_t expected = from;
  for (it->Seek(KeyOf(from)); it->Valid(); it->Next()) {
    uint64_t index;
    if (!IndexOf(it->key(), index)) break;
    if (index != expected) {
      return absl::DataLossError(common::StrCat("the durable log in ", dir_, " lacks entries ",
                                                expected, "..", index - 1));
    }
    ++expected;
    if (auto s = fn(index, std::string_view(it->value().data(), it->value().size())); !s.ok()) {
      return s;
    }
  }
  if (!it->status().ok()) {
    return absl::DataLossError(
        common::StrCat("the durable log in ", dir_, " is damaged: ", it->status().ToString()));
  }
  return absl::OkStatus();
}

}  // namespace dnsd::raft
