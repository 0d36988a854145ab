#include "raft/log_store.h"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include "common/strings.h"

namespace dnsd::raft {
namespace {

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

}  // namespace

LogStore::LogStore(std::unique_ptr<leveldb::DB> db) : db_(std::move(db)) {}
LogStore::~LogStore() = default;

absl::StatusOr<std::unique_ptr<LogStore>> LogStore::Open(const std::string& dir) {
  leveldb::Options options;
  options.create_if_missing = true;
  options.paranoid_checks = true;
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok())
    return absl::UnavailableError(common::StrCat("cannot open log at ", dir, ": ", s.ToString()));
  std::unique_ptr<LogStore> store(new LogStore(std::unique_ptr<leveldb::DB>(raw)));
  std::unique_ptr<leveldb::Iterator> it(store->db_->NewIterator(leveldb::ReadOptions()));
  it->Seek(KeyOf(UINT64_MAX));
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  uint64_t index;
  if (it->Valid() && IndexOf(it->key(), index)) store->last_index_ = index;
  return store;
}

absl::StatusOr<uint64_t> LogStore::Append(const std::vector<std::string>& entries) {
  leveldb::WriteBatch batch;
  const uint64_t first = last_index_ + 1;
  for (size_t i = 0; i < entries.size(); ++i) batch.Put(KeyOf(first + i), entries[i]);
  leveldb::WriteOptions options;
  options.sync = true;
  const leveldb::Status s = db_->Write(options, &batch);
  if (!s.ok()) return absl::UnavailableError(common::StrCat("log append failed: ", s.ToString()));
  last_index_ += entries.size();
  return first;
}

absl::Status LogStore::ForEach(
    uint64_t from, const std::function<absl::Status(uint64_t, std::string_view)>& fn) const {
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(KeyOf(from)); it->Valid(); it->Next()) {
    uint64_t index;
    if (!IndexOf(it->key(), index)) break;
    if (auto s = fn(index, std::string_view(it->value().data(), it->value().size())); !s.ok()) {
      return s;
    }
  }
  if (!it->status().ok()) return absl::DataLossError(it->status().ToString());
  return absl::OkStatus();
}

}  // namespace dnsd::raft
