#include "raft/raft_storage.h"

#include <fcntl.h>
#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/write_batch.h>

#include <filesystem>
#include <fstream>
#include <optional>

#include "common/files.h"
#include "common/strings.h"
#include "raft/leveldb_files.h"
#include "spdlog/spdlog.h"

namespace dnsd::raft {
namespace {

constexpr char kHardStateKey[] = "H";
// The last index a successful write left, written when a write fails and removed once the
// store is rolled back to it: a restart before the rollback still does it.
constexpr char kAckedMarker[] = "ACKED_INDEX";
// A snapshot written by an older version: the record and the data in one LevelDB value.
constexpr char kSnapshotKey[] = "S";
// The snapshot's record with its data in a file of its own (see SnapshotHeader).
constexpr char kSnapshotFileKey[] = "F";
constexpr std::string_view kSnapshotFilePrefix = "snapshot-";
constexpr std::string_view kSnapshotFileSuffix = ".raftsnap";

std::string SnapshotFileName(uint64_t index, uint64_t term) {
  return common::StrCat(kSnapshotFilePrefix, term, "-", index, kSnapshotFileSuffix);
}

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

// The snapshot record's layout is described at SnapshotHeader; `pos` ends after the
// configuration.
std::optional<Snapshot> DecodeSnapshotHeader(std::string_view value, size_t& pos) {
  pos = 0;
  auto u64 = [&](uint64_t& out) {
    if (value.size() - pos < 8) return false;
    out = GetU64(value.data() + pos);
    pos += 8;
    return true;
  };
  Snapshot snapshot;
  uint64_t count;
  if (!u64(snapshot.index) || !u64(snapshot.term) || !u64(count) || count > value.size() / 8) {
    return std::nullopt;
  }
  snapshot.conf.voters.resize(count);
  for (NodeId& id : snapshot.conf.voters) {
    if (!u64(id)) return std::nullopt;
  }
  if (!u64(count) || count > value.size() / 8) return std::nullopt;
  snapshot.conf.learners.resize(count);
  for (NodeId& id : snapshot.conf.learners) {
    if (!u64(id)) return std::nullopt;
  }
  if (!u64(count) || count > value.size() / 16) return std::nullopt;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t id, length;
    if (!u64(id) || !u64(length) || length > value.size() - pos) return std::nullopt;
    snapshot.conf.contexts[id] = std::string(value.substr(pos, length));
    pos += length;
  }
  return snapshot;
}

// The snapshot record: u64 index, u64 term, the configuration (u64 count + voter ids, u64
// count + learner ids, u64 count + (id, u64 length, context) each); then, under "F", u64 data
// size, u64 CRC-32 of the data and the name of the file holding the data (under "S", as an
// older version wrote it: the data itself).
std::string SnapshotHeader(const Snapshot& snapshot) {
  std::string value;
  PutU64(value, snapshot.index);
  PutU64(value, snapshot.term);
  PutU64(value, snapshot.conf.voters.size());
  for (NodeId id : snapshot.conf.voters) PutU64(value, id);
  PutU64(value, snapshot.conf.learners.size());
  for (NodeId id : snapshot.conf.learners) PutU64(value, id);
  PutU64(value, snapshot.conf.contexts.size());
  for (const auto& [id, context] : snapshot.conf.contexts) {
    PutU64(value, id);
    PutU64(value, context.size());
    value += context;
  }
  return value;
}

// A record under "F": the header, then where the data is.
struct SnapshotFileRecord {
  Snapshot snapshot;  // without its data
  uint64_t size = 0;
  uint64_t crc = 0;
  std::string name;  // of the file beside the database
};
std::optional<SnapshotFileRecord> DecodeSnapshotFileRecord(std::string_view value) {
  size_t pos;
  auto snapshot = DecodeSnapshotHeader(value, pos);
  if (!snapshot || value.size() - pos <= 16) return std::nullopt;
  SnapshotFileRecord record{*std::move(snapshot), GetU64(value.data() + pos),
                            GetU64(value.data() + pos + 8), std::string(value.substr(pos + 16))};
  if (record.name.find('/') != std::string::npos) return std::nullopt;
  return record;
}

// An older version's record: the header, then the data to the end. `record` is taken: the
// data stays in its buffer (not copied), the header cut off.
std::optional<Snapshot> DecodeInlineSnapshot(std::string&& record) {
  size_t pos;
  auto snapshot = DecodeSnapshotHeader(record, pos);
  if (!snapshot) return std::nullopt;
  record.erase(0, pos);
  snapshot->data = std::make_shared<const std::string>(std::move(record));
  return snapshot;
}

}  // namespace

RaftStorage::RaftStorage(std::string dir, RaftStorageOptions options,
                         std::unique_ptr<leveldb::DB> db)
    : dir_(std::move(dir)), options_(options), db_(std::move(db)) {}
RaftStorage::~RaftStorage() = default;

absl::StatusOr<std::unique_ptr<RaftStorage>> RaftStorage::Open(const std::string& dir,
                                                               const RaftStorageOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::UnavailableError(common::StrCat("cannot create ", dir, ": ", ec.message()));
  auto db = OpenLevelDb(dir, options.env, "Raft log");
  if (!db.ok()) return db.status();
  std::unique_ptr<RaftStorage> storage(new RaftStorage(dir, options, std::move(*db)));
  const auto marker = std::filesystem::path(dir) / kAckedMarker;
  std::ifstream marker_file(marker);
  uint64_t acked = 0;
  if (marker_file >> acked) {
    // The process stopped before a failed write was rolled back: do it now. The hard state's
    // commit index cannot be past what stays.
    std::string value;
    std::optional<HardState> hard_state;
    if (storage->db_->Get(leveldb::ReadOptions(), kHardStateKey, &value).ok() &&
        value.size() == 24 && GetU64(value.data() + 16) > acked) {
      hard_state = HardState{GetU64(value.data()), GetU64(value.data() + 8), acked};
    }
    spdlog::warn("Raft log {}: rolling back what followed entry {} (its write failed)", dir, acked);
    if (auto s = storage->RollBack(acked, hard_state); !s.ok()) return s;
  }
  marker_file.close();
  std::filesystem::remove(marker, ec);
  if (auto s = storage->ReadBounds(); !s.ok()) return s;
  // Files of snapshots that a crash or a failed write left without a record.
  storage->RemoveStaleSnapshotFiles();
  return storage;
}

absl::Status RaftStorage::ReadBounds() {
  auto state = Load();
  if (!state.ok()) return state.status();
  first_index_ = state->snapshot ? state->snapshot->index + 1 : 1;
  last_index_ = first_index_ - 1 + state->entries.size();
  saved_hard_state_ = state->hard_state;
  loaded_ = *std::move(state);
  return absl::OkStatus();
}

absl::Status RaftStorage::RollBack(uint64_t last, const std::optional<HardState>& hard_state) {
  loaded_.reset();
  leveldb::WriteBatch batch;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  std::string from = EntryKey(last + 1);
  for (it->Seek(from); it->Valid() && it->key().starts_with("E"); it->Next()) {
    batch.Delete(it->key());
  }
  if (!it->status().ok()) {
    return absl::DataLossError(
        common::StrCat("the Raft log in ", dir_, " is damaged: ", it->status().ToString()));
  }
  if (hard_state) {
    std::string value;
    PutU64(value, hard_state->term);
    PutU64(value, hard_state->vote);
    PutU64(value, hard_state->commit);
    batch.Put(kHardStateKey, value);
  }
  leveldb::WriteOptions options;
  options.sync = true;
  const leveldb::Status s = db_->Write(options, &batch);
  if (!s.ok()) {
    return absl::UnavailableError(
        common::StrCat("rolling back the Raft log failed: ", StorageFailureMessage(s)));
  }
  return absl::OkStatus();
}

absl::Status RaftStorage::Reopen() {
  if (db_) return absl::OkStatus();
  auto db = OpenLevelDb(dir_, options_.env, "Raft log");
  if (!db.ok()) return db.status();
  db_ = std::move(*db);
  // Whatever the failed batch left goes: entries past the last good one, and a hard state
  // that no successful write made. A compaction or a leader's snapshot that did reach the
  // file is kept: either outcome of those is a consistent log.
  absl::Status s = RollBack(last_index_, saved_hard_state_);
  if (s.ok()) s = ReadBounds();
  if (!s.ok()) {
    db_.reset();
    return s;
  }
  RemoveStaleSnapshotFiles();
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(dir_) / kAckedMarker, ec);
  spdlog::info("Raft log {}: reopened after a write failure (entries up to {})", dir_, last_index_);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Snapshot>> RaftStorage::LoadSnapshot() const {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  return ReadSnapshot();
}

absl::StatusOr<std::optional<Snapshot>> RaftStorage::ReadSnapshot() const {
  auto damaged = [&](const std::string& what) {
    return absl::DataLossError(common::StrCat("the Raft log in ", dir_, " is damaged: ", what));
  };
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  read.fill_cache = false;  // an older inline snapshot is one value of up to hundreds of MB
  std::string value;
  leveldb::Status s = db_->Get(read, kSnapshotFileKey, &value);
  if (s.ok()) {
    auto record = DecodeSnapshotFileRecord(value);
    if (!record) return damaged("the snapshot record is malformed");
    auto data = ReadWholeFile(common::StrCat(dir_, "/", record->name), record->size);
    if (!data.ok()) {
      return damaged(
          common::StrCat("the snapshot file ", record->name, ": ", data.status().message()));
    }
    if (common::Crc32(*data) != record->crc) {
      return damaged(common::StrCat("the snapshot file ", record->name, " fails its checksum"));
    }
    record->snapshot.data = std::make_shared<const std::string>(*std::move(data));
    return std::move(record->snapshot);
  }
  if (!s.IsNotFound()) return damaged(s.ToString());
  s = db_->Get(read, kSnapshotKey, &value);
  if (s.IsNotFound()) return std::optional<Snapshot>();
  if (!s.ok()) return damaged(s.ToString());
  auto snapshot = DecodeInlineSnapshot(std::move(value));
  if (!snapshot) return damaged("the snapshot record is malformed");
  return snapshot;
}

leveldb::Env* RaftStorage::env() const {
  return options_.env != nullptr ? options_.env : leveldb::Env::Default();
}

absl::StatusOr<std::string> RaftStorage::ReadWholeFile(const std::string& path,
                                                       uint64_t expected_size) const {
  uint64_t size = 0;
  leveldb::Status s = env()->GetFileSize(path, &size);
  if (!s.ok()) return absl::NotFoundError(s.ToString());
  if (size != expected_size) {
    return absl::DataLossError(
        common::StrCat("it has ", size, " bytes where ", expected_size, " were written"));
  }
  leveldb::SequentialFile* raw = nullptr;
  s = env()->NewSequentialFile(path, &raw);
  if (!s.ok()) return absl::NotFoundError(s.ToString());
  std::unique_ptr<leveldb::SequentialFile> file(raw);
  // Read straight into one buffer of the final size (the data can be hundreds of MB).
  std::string data(size, '\0');
  size_t at = 0;
  while (at < size) {
    leveldb::Slice got;
    s = file->Read(std::min<size_t>(size - at, size_t{1} << 20), &got, data.data() + at);
    if (!s.ok()) return absl::DataLossError(s.ToString());
    if (got.empty()) return absl::DataLossError("it ends early");
    if (got.data() != data.data() + at) std::memcpy(data.data() + at, got.data(), got.size());
    at += got.size();
  }
  return data;
}

absl::StatusOr<std::string> RaftStorage::WriteSnapshotFile(const Snapshot& snapshot) const {
  const std::string name = SnapshotFileName(snapshot.index, snapshot.term);
  const std::string path = common::StrCat(dir_, "/", name);
  const std::string tmp = path + ".tmp";
  const std::string_view data = snapshot.data ? std::string_view(*snapshot.data) : "";
  leveldb::WritableFile* raw = nullptr;
  leveldb::Status s = env()->NewWritableFile(tmp, &raw);
  std::unique_ptr<leveldb::WritableFile> file(raw);
  if (s.ok()) s = file->Append(leveldb::Slice(data.data(), data.size()));
  if (s.ok()) s = file->Sync();
  if (s.ok()) s = file->Close();
  file.reset();
  if (s.ok()) s = env()->RenameFile(tmp, path);
  // The rename must be durable before the log refers to the file.
  if (s.ok()) {
    if (const absl::Status synced = common::SyncPath(dir_, O_RDONLY | O_DIRECTORY); !synced.ok()) {
      s = leveldb::Status::IOError(dir_, std::string(common::ToStd(synced.message())));
    }
  }
  if (!s.ok()) {
    env()->RemoveFile(tmp);
    spdlog::error("Raft log {}: writing snapshot {} failed: {}", dir_, name, s.ToString());
    return absl::UnavailableError(
        common::StrCat("the Raft snapshot could not be written: ", StorageFailureMessage(s)));
  }
  std::string record = SnapshotHeader(snapshot);
  PutU64(record, data.size());
  PutU64(record, common::Crc32(data));
  record += name;
  return record;
}

void RaftStorage::RemoveStaleSnapshotFiles() const {
  std::string keep;
  std::string value;
  if (db_ && db_->Get(leveldb::ReadOptions(), kSnapshotFileKey, &value).ok()) {
    if (auto record = DecodeSnapshotFileRecord(value)) keep = record->name;
  }
  std::vector<std::string> children;
  if (!env()->GetChildren(dir_, &children).ok()) return;
  for (const auto& child : children) {
    if (child == keep || !child.starts_with(kSnapshotFilePrefix)) continue;
    if (!child.ends_with(kSnapshotFileSuffix) &&
        !child.ends_with(common::StrCat(kSnapshotFileSuffix, ".tmp"))) {
      continue;
    }
    env()->RemoveFile(common::StrCat(dir_, "/", child));
  }
}

absl::StatusOr<RaftStorageState> RaftStorage::Load() const {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  if (loaded_) {
    RaftStorageState state = *std::move(loaded_);
    loaded_.reset();
    return state;
  }
  RaftStorageState state;
  auto damaged = [&](const std::string& what) {
    return absl::DataLossError(common::StrCat("the Raft log in ", dir_, " is damaged: ", what));
  };
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  read.fill_cache = false;  // a snapshot is one value of up to hundreds of MB: read once
  std::string value;
  leveldb::Status s = db_->Get(read, kHardStateKey, &value);
  if (s.ok()) {
    if (value.size() != 24) return damaged("the hard state record has a wrong size");
    state.hard_state = {GetU64(value.data()), GetU64(value.data() + 8), GetU64(value.data() + 16)};
  } else if (!s.IsNotFound()) {
    return damaged(s.ToString());
  }
  auto snapshot = ReadSnapshot();
  if (!snapshot.ok()) return snapshot.status();
  if (*snapshot) {
    state.snapshot = **std::move(snapshot);
    if (state.snapshot->index == 0 || state.snapshot->term == 0) {
      return damaged("the snapshot record has no index or term");
    }
  }
  const uint64_t base = state.snapshot ? state.snapshot->index : 0;
  const uint64_t base_term = state.snapshot ? state.snapshot->term : 0;
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(read));
  for (it->Seek("E"); it->Valid() && it->key().starts_with("E"); it->Next()) {
    if (it->key().size() != 9 || it->value().size() < 8) return damaged("a malformed entry");
    Entry e;
    e.index = GetU64(it->key().data() + 1);
    e.term = GetU64(it->value().data());
    e.data.assign(it->value().data() + 8, it->value().size() - 8);
    if (e.index <= base) continue;  // covered by the snapshot
    if (e.index != base + state.entries.size() + 1) {
      return damaged(common::StrCat("entry ", base + state.entries.size() + 1, " is missing"));
    }
    const uint64_t previous_term = state.entries.empty() ? base_term : state.entries.back().term;
    if (e.term == 0 || e.term < previous_term || e.term > state.hard_state.term) {
      return damaged(common::StrCat("entry ", e.index, " has an impossible term ", e.term));
    }
    state.entries.push_back(std::move(e));
  }
  if (!it->status().ok()) return damaged(it->status().ToString());
  if (state.hard_state.commit > base + state.entries.size()) {
    return damaged(common::StrCat("commit index ", state.hard_state.commit,
                                  " is past the last entry ", base + state.entries.size(),
                                  " (committed entries are lost)"));
  }
  return state;
}

absl::Status RaftStorage::Write(leveldb::WriteBatch& batch, bool sync) {
  loaded_.reset();  // no longer what is stored
  leveldb::WriteOptions options;
  options.sync = sync;
  const leveldb::Status s = db_->Write(options, &batch);
  if (s.ok()) return absl::OkStatus();
  spdlog::error("Raft log {}: write failed: {}", dir_, s.ToString());
  db_.reset();
  {
    std::ofstream marker(std::filesystem::path(dir_) / kAckedMarker, std::ios::trunc);
    marker << last_index_ << '\n';
  }
  return absl::UnavailableError(
      common::StrCat("the Raft log could not be written: ", StorageFailureMessage(s)));
}

absl::Status RaftStorage::Save(const std::optional<Snapshot>& snapshot,
                               const std::optional<HardState>& hard_state,
                               const std::vector<Entry>& entries, bool sync) {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  if (!snapshot && !hard_state && entries.empty()) return absl::OkStatus();
  leveldb::WriteBatch batch;
  uint64_t new_first = first_index_, new_last = last_index_;
  if (snapshot) {
    auto record = WriteSnapshotFile(*snapshot);
    if (!record.ok()) return record.status();
    for (uint64_t i = first_index_; i <= last_index_; ++i) batch.Delete(EntryKey(i));
    batch.Put(kSnapshotFileKey, *record);
    batch.Delete(kSnapshotKey);
    new_first = snapshot->index + 1;
    new_last = snapshot->index;
  }
  if (!entries.empty()) {
    const uint64_t first = entries.front().index;
    if (first < new_first || first > new_last + 1) {
      return absl::InternalError(common::StrCat("entries from ", first, " do not fit a log of ",
                                                new_first, "..", new_last));
    }
    for (uint64_t i = entries.back().index + 1; i <= new_last; ++i) batch.Delete(EntryKey(i));
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
  if (auto s = Write(batch, sync || snapshot || !entries.empty()); !s.ok()) return s;
  if (snapshot) RemoveStaleSnapshotFiles();
  first_index_ = new_first;
  last_index_ = new_last;
  if (hard_state) saved_hard_state_ = *hard_state;
  return absl::OkStatus();
}

absl::Status RaftStorage::Compact(const Snapshot& snapshot) {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  if (snapshot.index < first_index_) return absl::OkStatus();
  if (snapshot.index > last_index_) {
    return absl::InvalidArgumentError("cannot compact past the last stored entry");
  }
  auto record = WriteSnapshotFile(snapshot);
  if (!record.ok()) return record.status();
  return CommitSnapshot(snapshot.index, *record);
}

absl::Status RaftStorage::CommitSnapshot(uint64_t index, const std::string& record) {
  if (!db_) return absl::UnavailableError("the Raft log is closed after a write failure");
  if (index < first_index_) return absl::OkStatus();  // a newer snapshot is stored already
  if (index > last_index_)
    return absl::InvalidArgumentError("cannot compact past the last stored entry");
  leveldb::WriteBatch batch;
  batch.Put(kSnapshotFileKey, record);
  batch.Delete(kSnapshotKey);
  for (uint64_t i = first_index_; i <= index; ++i) batch.Delete(EntryKey(i));
  if (auto s = Write(batch); !s.ok()) return s;
  RemoveStaleSnapshotFiles();
  first_index_ = index + 1;
  return absl::OkStatus();
}

}  // namespace dnsd::raft
