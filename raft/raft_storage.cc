#include "raft/raft_storage.h"

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <filesystem>

#include "common/strings.h"
#include "raft/log_store.h"
#include "spdlog/spdlog.h"

namespace dnsd::raft {
namespace {

constexpr char kHardStateKey[] = "H";

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

std::string EntryKey(uint64_t index) {
  std::string key = "E";
  PutU64(key, index);
  return key;
}

}  // namespace

RaftStorage::RaftStorage(std::string dir, std::unique_ptr<leveldb::DB> db)
    : dir_(std::move(dir)), db_(std::move(db)) {}
RaftStorage::~RaftStorage() = default;

absl::StatusOr<std::unique_ptr<RaftStorage>> RaftStorage::Open(const std::string& dir,
                                                               const RaftStorageOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(common::StrCat("cannot create ", dir, ": ", ec.message()));
  leveldb::Options db_options;
  db_options.create_if_missing = true;
  db_options.paranoid_checks = true;
  if (options.env) db_options.env = options.env;
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(db_options, dir, &raw);
  if (!s.ok()) {
    if (s.IsIOError()) {
      return absl::UnavailableError(
          common::StrCat("cannot open the Raft log in ", dir, ": ", s.ToString()));
    }
    return absl::DataLossError(
        common::StrCat("the Raft log in ", dir, " is damaged: ", s.ToString()));
  }
  std::unique_ptr<RaftStorage> storage(new RaftStorage(dir, std::unique_ptr<leveldb::DB>(raw)));
  auto state = storage->Load();
  if (!state.ok()) return state.status();
  storage->last_index_ = state->entries.size();
  return storage;
}

absl::StatusOr<RaftStorageState> RaftStorage::Load() const {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  RaftStorageState state;
  auto damaged = [&](const std::string& what) {
    return absl::DataLossError(common::StrCat("the Raft log in ", dir_, " is damaged: ", what));
  };
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::string value;
  leveldb::Status s = db_->Get(read, kHardStateKey, &value);
  if (s.ok()) {
    if (value.size() != 24) return damaged("the hard state record has a wrong size");
    state.hard_state = {GetU64(value.data()), GetU64(value.data() + 8), GetU64(value.data() + 16)};
  } else if (!s.IsNotFound()) {
    return damaged(s.ToString());
  }
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read));
  for (it->Seek("E"); it->Valid() && it->key().starts_with("E"); it->Next()) {
    if (it->key().size() != 9 || it->value().size() < 8) return damaged("a malformed entry");
    Entry e;
    e.index = GetU64(it->key().data() + 1);
    e.term = GetU64(it->value().data());
    e.data.assign(it->value().data() + 8, it->value().size() - 8);
    if (e.index != state.entries.size() + 1) {
      return damaged(common::StrCat("entry ", state.entries.size() + 1, " is missing"));
    }
    if (e.term == 0 || (!state.entries.empty() && e.term < state.entries.back().term) ||
        e.term > state.hard_state.term) {
      return damaged(common::StrCat("entry ", e.index, " has an impossible term ", e.term));
    }
    state.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return damaged(it->status().ToString());
  if (state.hard_state.commit > state.entries.size()) {
    return damaged(common::StrCat("commit index ", state.hard_state.commit,
                                  " is past the last entry ", state.entries.size()));
  }
  return state;
}

absl::Status RaftStorage::Save(const std::optional<HardState>& hard_state,
                               const std::vector<Entry>& entries) {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  if (!hard_state && entries.empty()) return absl::OkStatus();
  leveldb::WriteBatch batch;
  uint64_t new_last = last_index_;
  if (!entries.empty()) {
    const uint64_t first = entries.front().index;
    if (first == 0 || first > last_index_ + 1) {
      return absl::InternalError(
          common::StrCat("entries from ", first, " would leave a gap after ", last_index_));
    }
    for (uint64_t i = entries.back().index + 1; i <= last_index_; ++i) batch.Delete(EntryKey(i));
    for (const Entry& e : entries) {
      std::string value;
      PutU64(value, e.term);
      value += e.data;
      batch.Put(EntryKey(e.index), value);
    }
    new_last = entries.back().index;
  }
  if (hard_state) {
    std::string value;
    PutU64(value, hard_state->term);
    PutU64(value, hard_state->vote);
    PutU64(value, hard_state->commit);
    batch.Put(kHardStateKey, value);
  }
  leveldb::WriteOptions sync;
  sync.sync = true;
  const leveldb::Status s = db_->Write(sync, &batch);
  if (!s.ok()) {
    spdlog::error("Raft log {}: write failed: {}", dir_, s.ToString());
    db_.reset();
    return absl::UnavailableError(
        common::StrCat("the Raft log could not be written: ", StorageFailureMessage(s)));
  }
  last_index_ = new_last;
  return absl::OkStatus();
}

}  // namespace dnsd::raft
