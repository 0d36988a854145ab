// On-disk layout (one LevelDB per node, under <data_dir>/config):
//   "A"                                  applied log index, 8 bytes big-endian
//   "S"                                  next config id, next history id (u64 each)
//   "C" tenant \0 group \0 dataId        a config (EncodeItem)
//   "H" nid(8 bytes BE)                  a history row (EncodeHistory)
//   "K" tenant \0 group \0 dataId \0 nid a config's history index (empty value)
//   "N" namespace id                     a namespace (id, name, description)
// dataId, group and tenant cannot contain \0 (ValidateKeyPart), so the separators are safe
// and LevelDB's order is (tenant, group, dataId) then nid.
#include "config/config_store.h"

#include <algorithm>
#include <array>

#include "common/byte_codec.h"
#include "common/status_macros.h"
#include "common/storage_failure.h"
#include "common/strings.h"
#include "config/md5.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/write_batch.h"
#include "spdlog/spdlog.h"

namespace dnsd::config {
namespace {

constexpr uint8_t kRecordVersion = 1;
constexpr char kAppliedKey[] = "A";
constexpr char kSequenceKey[] = "S";

void PutBigEndian(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetBigEndian(std::string_view in) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < in.size(); ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

std::string KeyPath(const ConfigKey& key) {
  return common::StrCat(key.tenant, std::string_view("\0", 1), key.group, std::string_view("\0", 1),
                        key.data_id);
}

std::string ConfigRowKey(const ConfigKey& key) { return common::StrCat("C", KeyPath(key)); }

std::string HistoryRowKey(int64_t nid) {
  std::string k = "H";
  PutBigEndian(k, static_cast<uint64_t>(nid));
  return k;
}

std::string HistoryIndexPrefix(const ConfigKey& key) {
  std::string k = common::StrCat("K", KeyPath(key));
  k.push_back('\0');
  return k;
}

// The string fields of each record, in their stored order. Encoder and decoder both walk
// these lists, so a field added to a record is written and read alike.
template <typename Item>  // ConfigItem or const ConfigItem
auto ItemStrings(Item& i) {
  return std::array{
      &i.key.tenant,         &i.key.group,   &i.key.data_id, &i.content,  &i.md5,    &i.type,
      &i.app_name,           &i.tags,        &i.description, &i.use,      &i.effect, &i.schema,
      &i.encrypted_data_key, &i.create_user, &i.create_ip,   &i.src_user, &i.src_ip};
}
template <typename Entry>  // HistoryEntry or const HistoryEntry
auto HistoryStrings(Entry& h) {
  return std::array{&h.key.tenant, &h.key.group, &h.key.data_id, &h.app_name,          &h.content,
                    &h.md5,        &h.src_ip,    &h.src_user,    &h.encrypted_data_key};
}

absl::Status CheckVersion(common::ByteReader& r, std::string_view record) {
  uint8_t version;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kRecordVersion) {
    return absl::DataLossError(common::StrCat("unknown ", record, " record version"));
  }
  return absl::OkStatus();
}

std::string EncodeItem(const ConfigItem& i) {
  common::ByteWriter w;
  w.PutU8(kRecordVersion);
  w.PutI64(i.id);
  for (const std::string* s : ItemStrings(i)) w.PutString(*s);
  w.PutI64(i.create_time_ms);
  w.PutI64(i.modify_time_ms);
  return w.Take();
}

absl::StatusOr<ConfigItem> DecodeItem(std::string_view bytes) {
  common::ByteReader r(bytes);
  DNSD_RETURN_IF_ERROR(CheckVersion(r, "config"));
  ConfigItem i;
  DNSD_RETURN_IF_ERROR(r.GetI64(i.id));
  for (std::string* s : ItemStrings(i)) DNSD_RETURN_IF_ERROR(r.GetString(*s));
  DNSD_RETURN_IF_ERROR(r.GetI64(i.create_time_ms));
  DNSD_RETURN_IF_ERROR(r.GetI64(i.modify_time_ms));
  return i;
}

std::string EncodeHistory(const HistoryEntry& h) {
  common::ByteWriter w;
  w.PutU8(kRecordVersion);
  w.PutI64(h.id);
  w.PutI64(h.config_id);
  for (const std::string* s : HistoryStrings(h)) w.PutString(*s);
  w.PutU8(static_cast<uint8_t>(h.op_type));
  w.PutI64(h.created_time_ms);
  w.PutI64(h.modified_time_ms);
  return w.Take();
}

absl::StatusOr<HistoryEntry> DecodeHistory(std::string_view bytes) {
  common::ByteReader r(bytes);
  DNSD_RETURN_IF_ERROR(CheckVersion(r, "history"));
  uint8_t op;
  HistoryEntry h;
  DNSD_RETURN_IF_ERROR(r.GetI64(h.id));
  DNSD_RETURN_IF_ERROR(r.GetI64(h.config_id));
  for (std::string* s : HistoryStrings(h)) DNSD_RETURN_IF_ERROR(r.GetString(*s));
  DNSD_RETURN_IF_ERROR(r.GetU8(op));
  h.op_type = static_cast<char>(op);
  DNSD_RETURN_IF_ERROR(r.GetI64(h.created_time_ms));
  DNSD_RETURN_IF_ERROR(r.GetI64(h.modified_time_ms));
  return h;
}

std::string EncodeNamespace(const NamespaceInfo& n) {
  common::ByteWriter w;
  w.PutU8(kRecordVersion);
  w.PutString(n.id);
  w.PutString(n.name);
  w.PutString(n.description);
  return w.Take();
}

absl::StatusOr<NamespaceInfo> DecodeNamespace(std::string_view bytes) {
  common::ByteReader r(bytes);
  DNSD_RETURN_IF_ERROR(CheckVersion(r, "namespace"));
  NamespaceInfo n;
  DNSD_RETURN_IF_ERROR(r.GetString(n.id));
  DNSD_RETURN_IF_ERROR(r.GetString(n.name));
  DNSD_RETURN_IF_ERROR(r.GetString(n.description));
  return n;
}

// Reads that check every block's checksum: damage is an error, never data.
leveldb::ReadOptions Verified() {
  leveldb::ReadOptions options;
  options.verify_checksums = true;
  return options;
}

absl::Status FromLevelDb(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::DataLossError(common::StrCat("config store: ", s.ToString()));
}

// For readers answering clients: the log line has the details (paths), the client only the
// kind of failure.
absl::Status ReadFailure(const leveldb::Status& s) {
  if (s.ok()) return absl::OkStatus();
  spdlog::error("config store read failed: {}", s.ToString());
  return absl::UnavailableError(s.IsCorruption() ? "the config store's files are damaged"
                                                 : "the config store cannot be read");
}

absl::Status StorageFailure(const leveldb::Status& s) {
  return common::StorageFailure(
      s.ToString().find("No space left") != std::string::npos
          ? "the config store cannot write: no space left on the data disk"
          : "the config store cannot write: I/O error on the data disk");
}

// '*' matches any run of characters; everything else literally.
bool GlobMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && pattern[p] == text[t]) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool FieldMatches(std::string_view pattern, std::string_view value, bool blur) {
  if (pattern.empty()) return true;
  if (!blur) return pattern == value;
  if (pattern.find('*') != std::string_view::npos) return GlobMatch(pattern, value);
  return value.find(pattern) != std::string_view::npos;
}

bool TagsMatch(std::string_view wanted, std::string_view have) {
  if (wanted.empty()) return true;
  const auto have_tags = common::Split(have, ',');
  for (auto tag : common::Split(wanted, ',')) {
    tag = common::Trim(tag);
    if (tag.empty()) continue;
    for (auto h : have_tags) {
      if (common::Trim(h) == tag) return true;
    }
  }
  return false;
}

template <typename T>
void Paginate(Page<T>& page, std::vector<T> all, int page_no, int page_size) {
  page_no = std::max(page_no, 1);
  page_size = std::max(page_size, 1);
  page.total_count = static_cast<int64_t>(all.size());
  page.page_no = page_no;
  page.pages_available = static_cast<int>((all.size() + page_size - 1) / page_size);
  const size_t begin = static_cast<size_t>(page_no - 1) * static_cast<size_t>(page_size);
  for (size_t i = begin; i < all.size() && i < begin + static_cast<size_t>(page_size); ++i) {
    page.items.push_back(std::move(all[i]));
  }
}

}  // namespace

ConfigStore::ConfigStore(std::string dir, const ConfigStoreOptions& options)
    : dir_(std::move(dir)), options_(options) {}
ConfigStore::~ConfigStore() = default;

absl::StatusOr<std::unique_ptr<ConfigStore>> ConfigStore::Open(const std::string& dir,
                                                               const ConfigStoreOptions& options) {
  std::unique_ptr<ConfigStore> store(new ConfigStore(dir, options));
  if (auto s = store->OpenDb(); !s.ok()) return s;
  if (auto s = store->Load(); !s.ok()) {
    return absl::DataLossError(common::StrCat("config store ", dir, ": ", s.message()));
  }
  return store;
}

absl::Status ConfigStore::OpenDb() {
  leveldb::Options options;
  options.create_if_missing = true;
  // A damaged record refuses the open instead of being skipped (and its configs lost).
  options.paranoid_checks = true;
  if (options_.env) options.env = options_.env;
  leveldb::DB* raw = nullptr;
  const leveldb::Status s = leveldb::DB::Open(options, dir_, &raw);
  if (s.IsIOError()) return StorageFailure(s);
  if (!s.ok()) {
    return absl::DataLossError(common::StrCat("config store ", dir_, ": ", s.ToString()));
  }
  absl::MutexLock lock(&mu_);
  db_.reset(raw);
  return absl::OkStatus();
}

std::shared_ptr<leveldb::DB> ConfigStore::Db() const {
  absl::ReaderMutexLock lock(&mu_);
  return db_;
}

absl::Status ConfigStore::Load() {
  absl::MutexLock lock(&mu_);
  NamespaceMap namespaces;
  namespaces[std::string(kDefaultNamespaceId)] =
      NamespaceInfo{std::string(kDefaultNamespaceId), "public", "Default Namespace"};
  // One pass over the configs, namespaces and counters with checksums verified: damage found
  // now is rebuilt from the log. History ("H", "K") is skipped: it grows with every publish
  // (a million publishes made it 1.8 s of a start) and is verified when it is read instead,
  // where damage is an error, never served.
  std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(Verified()));
  for (it->SeekToFirst(); it->Valid();) {
    const std::string_view key(it->key().data(), it->key().size());
    if (key.starts_with("H") || key.starts_with("K")) {
      it->Seek(std::string(1, static_cast<char>(key.front() + 1)));
      continue;
    }
    const std::string_view value(it->value().data(), it->value().size());
    if (key == kAppliedKey) {
      applied_index_ = GetBigEndian(value);
    } else if (key == kSequenceKey) {
      common::ByteReader r(value);
      uint64_t config_id, history_id;
      DNSD_RETURN_IF_ERROR(r.GetU64(config_id));
      DNSD_RETURN_IF_ERROR(r.GetU64(history_id));
      next_config_id_ = static_cast<int64_t>(config_id);
      next_history_id_ = static_cast<int64_t>(history_id);
    } else if (key.starts_with("C")) {
      auto item = DecodeItem(value);
      if (!item.ok()) return item.status();
      const ConfigKey config_key = item->key;
      SetItemLocked(config_key, std::make_shared<const ConfigItem>(*std::move(item)));
    } else if (key.starts_with("N")) {
      auto ns = DecodeNamespace(value);
      if (!ns.ok()) return ns.status();
      namespaces[ns->id] = *ns;
    }
    it->Next();  // only now: `key` and `value` point into the iterator
  }
  DNSD_RETURN_IF_ERROR(FromLevelDb(it->status()));
  namespaces_ = std::make_shared<const NamespaceMap>(std::move(namespaces));
  return absl::OkStatus();
}

uint64_t ConfigStore::applied_index() const {
  absl::ReaderMutexLock lock(&mu_);
  return applied_index_;
}

absl::Status ConfigStore::Precheck(const ConfigCommand& command) const {
  absl::ReaderMutexLock lock(&mu_);
  return CheckLocked(command);
}

absl::Status ConfigStore::CheckLocked(const ConfigCommand& c) const {
  const std::string& id = c.namespace_info.id;
  switch (c.type) {
    case ConfigCommandType::kPublish:
    case ConfigCommandType::kRemove:
    case ConfigCommandType::kTrimHistory:
      return absl::OkStatus();
    case ConfigCommandType::kCreateNamespace:
      if (namespaces_->contains(id)) {
        return absl::AlreadyExistsError(common::StrCat("namespace ", id, " already exists"));
      }
      return absl::OkStatus();
    case ConfigCommandType::kUpdateNamespace:
      if (!namespaces_->contains(id)) {
        return absl::NotFoundError(common::StrCat("namespace ", id, " does not exist"));
      }
      return absl::OkStatus();
    case ConfigCommandType::kDeleteNamespace: {
      if (id == kDefaultNamespaceId) {
        return absl::InvalidArgumentError("the default namespace can't be deleted");
      }
      if (!namespaces_->contains(id)) {
        return absl::NotFoundError(common::StrCat("namespace ", id, " does not exist"));
      }
      const std::string tenant = TenantOfNamespaceId(id);
      if (const auto [first, end] = RangeLocked(tenant, std::nullopt); first != end) {
        return absl::FailedPreconditionError(
            common::StrCat("namespace ", id, " still has configs, delete them first"));
      }
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown config command");
}

void ConfigStore::AddHistory(const ConfigItem& item, char op_type, const ConfigCommand& command,
                             leveldb::WriteBatch& batch) {
  HistoryEntry h;
  h.id = next_history_id_++;
  h.config_id = item.id;
  h.key = item.key;
  h.app_name = item.app_name;
  h.content = item.content;
  h.md5 = item.md5;
  h.src_ip = command.src_ip;
  h.src_user = command.src_user;
  h.op_type = op_type;
  h.encrypted_data_key = item.encrypted_data_key;
  h.created_time_ms = command.timestamp_ms;
  h.modified_time_ms = command.timestamp_ms;
  batch.Put(HistoryRowKey(h.id), EncodeHistory(h));
  std::string index_key = HistoryIndexPrefix(item.key);
  PutBigEndian(index_key, static_cast<uint64_t>(h.id));
  batch.Put(index_key, "");
}

absl::Status ConfigStore::ApplyPublish(const ConfigCommand& c, leveldb::WriteBatch& batch,
                                       std::optional<ConfigChange>& change,
                                       std::shared_ptr<const ConfigItem>& new_item) {
  std::shared_ptr<const ConfigItem> old;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_key_.find(c.key);
    if (it != by_key_.end()) old = it->second;
  }
  if (c.has_cas) {
    const std::string current = old ? old->md5 : "";
    if (current != c.cas_md5) {
      return absl::AbortedError(common::StrCat("cas publish failed: the config's md5 is '", current,
                                               "', not '", c.cas_md5, "'"));
    }
  }
  auto item = std::make_shared<ConfigItem>(c.item);
  item->key = c.key;
  item->md5 = Md5Hex(item->content);
  item->type = NormalizeConfigType(item->type);
  item->src_user = c.src_user;
  item->src_ip = c.src_ip;
  item->modify_time_ms = c.timestamp_ms;
  if (old) {
    item->id = old->id;
    item->create_user = old->create_user;
    item->create_ip = old->create_ip;
    item->create_time_ms = old->create_time_ms;
    AddHistory(*old, 'U', c, batch);
  } else {
    item->id = next_config_id_++;
    item->create_user = c.src_user;
    item->create_ip = c.src_ip;
    item->create_time_ms = c.timestamp_ms;
    AddHistory(*item, 'I', c, batch);
  }
  batch.Put(ConfigRowKey(c.key), EncodeItem(*item));
  if (!old || old->md5 != item->md5) change = ConfigChange{c.key, item->md5};
  new_item = std::move(item);
  return absl::OkStatus();
}

absl::Status ConfigStore::ApplyRemove(const ConfigCommand& c, leveldb::WriteBatch& batch,
                                      std::optional<ConfigChange>& change) {
  std::shared_ptr<const ConfigItem> old;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = by_key_.find(c.key);
    if (it != by_key_.end()) old = it->second;
  }
  // Removing a config that does not exist succeeds and changes nothing, as in Nacos.
  if (!old) return absl::OkStatus();
  AddHistory(*old, 'D', c, batch);
  batch.Delete(ConfigRowKey(c.key));
  change = ConfigChange{c.key, ""};
  return absl::OkStatus();
}

absl::Status ConfigStore::Apply(uint64_t index, const ConfigCommand& c) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (index <= applied_index_) return absl::OkStatus();  // already in the state
  }
  // Ids drawn by a command whose state write fails are drawn again by the retry.
  const int64_t config_id_before = next_config_id_;
  const int64_t history_id_before = next_history_id_;
  leveldb::WriteBatch batch;
  std::optional<ConfigChange> change;
  std::shared_ptr<const ConfigItem> new_item;
  std::shared_ptr<const NamespaceMap> new_namespaces;
  absl::Status result;
  {
    absl::ReaderMutexLock lock(&mu_);
    result = CheckLocked(c);
  }
  if (result.ok()) {
    switch (c.type) {
      case ConfigCommandType::kPublish:
        result = ApplyPublish(c, batch, change, new_item);
        break;
      case ConfigCommandType::kRemove:
        result = ApplyRemove(c, batch, change);
        break;
      case ConfigCommandType::kCreateNamespace:
      case ConfigCommandType::kUpdateNamespace: {
        absl::ReaderMutexLock lock(&mu_);
        auto map = std::make_shared<NamespaceMap>(*namespaces_);
        (*map)[c.namespace_info.id] = c.namespace_info;
        new_namespaces = std::move(map);
        batch.Put(common::StrCat("N", c.namespace_info.id), EncodeNamespace(c.namespace_info));
        break;
      }
      case ConfigCommandType::kDeleteNamespace: {
        absl::ReaderMutexLock lock(&mu_);
        auto map = std::make_shared<NamespaceMap>(*namespaces_);
        map->erase(c.namespace_info.id);
        new_namespaces = std::move(map);
        batch.Delete(common::StrCat("N", c.namespace_info.id));
        break;
      }
      case ConfigCommandType::kTrimHistory:
        result = ApplyTrimHistory(c, batch);
        break;
    }
  }
  if (!result.ok()) {
    // A failed command changes nothing but the applied index (it fails before drawing ids).
    batch.Clear();
    new_item.reset();
    new_namespaces.reset();
    change.reset();
  }
  std::string applied;
  PutBigEndian(applied, index);
  batch.Put(kAppliedKey, applied);
  common::ByteWriter seq;
  seq.PutU64(static_cast<uint64_t>(next_config_id_));
  seq.PutU64(static_cast<uint64_t>(next_history_id_));
  batch.Put(kSequenceKey, seq.data());
  if (auto s = WriteState(batch, index); !s.ok()) {
    next_config_id_ = config_id_before;
    next_history_id_ = history_id_before;
    return s;
  }
  {
    absl::MutexLock lock(&mu_);
    applied_index_ = index;
    if (new_namespaces) namespaces_ = std::move(new_namespaces);
    if (change && change->md5.empty()) {
      SetItemLocked(c.key, nullptr);
    } else if (new_item) {
      SetItemLocked(c.key, std::move(new_item));
    }
  }
  if (change) {
    for (const auto& listener : listeners_) listener(*change);
  }
  return result;
}

std::shared_ptr<const ConfigItem> ConfigStore::Get(const ConfigKey& key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : it->second;
}

std::string ConfigStore::Md5Of(const ConfigKey& key) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_key_.find(key);
  return it == by_key_.end() ? std::string() : it->second->md5;
}

std::pair<size_t, size_t> ConfigStore::RangeLocked(std::string_view tenant,
                                                   std::optional<std::string_view> group) const {
  // Whether `item` sorts before the range's end (inclusive) or its start.
  auto before = [&](bool inclusive) {
    return [&, inclusive](const std::shared_ptr<const ConfigItem>& item) {
      const int by_tenant = std::string_view(item->key.tenant).compare(tenant);
      if (by_tenant != 0 || !group) return inclusive ? by_tenant <= 0 : by_tenant < 0;
      const int by_group = std::string_view(item->key.group).compare(*group);
      return inclusive ? by_group <= 0 : by_group < 0;
    };
  };
  return {items_.CountPrefix(before(false)), items_.CountPrefix(before(true))};
}

void ConfigStore::SetItemLocked(const ConfigKey& key, std::shared_ptr<const ConfigItem> item) {
  items_.Erase(key);
  if (!item) {
    by_key_.erase(key);
    return;
  }
  by_key_[key] = item;
  items_.Insert(std::move(item));
}

Page<std::shared_ptr<const ConfigItem>> ConfigStore::Search(const SearchQuery& q) const {
  const int page_no = std::max(q.page_no, 1);
  const int page_size = std::max(q.page_size, 1);
  // Listings (no filter, or an exact group) are read by rank: O(log n + page). Searches that
  // match data ids or groups by pattern, or filter on app, tags or types, scan the tenant.
  const bool by_rank = q.data_id.empty() && q.app_name.empty() && q.tags.empty() &&
                       (!q.blur || (q.group.empty() && q.types.empty()));
  if (by_rank) {
    Page<std::shared_ptr<const ConfigItem>> page;
    absl::ReaderMutexLock lock(&mu_);
    const auto [first, end] = RangeLocked(
        q.tenant, q.group.empty() ? std::nullopt : std::optional<std::string_view>(q.group));
    page.total_count = static_cast<int64_t>(end - first);
    page.page_no = page_no;
    page.pages_available = static_cast<int>((end - first + page_size - 1) / page_size);
    const size_t offset = static_cast<size_t>(page_no - 1) * static_cast<size_t>(page_size);
    if (offset < end - first) {
      page.items = items_.Slice(first + offset,
                                std::min(static_cast<size_t>(page_size), end - first - offset));
    }
    return page;
  }
  std::vector<std::shared_ptr<const ConfigItem>> matches;
  {
    absl::ReaderMutexLock lock(&mu_);
    // An exact data id and group name one config: a point read, then the other filters.
    std::vector<std::shared_ptr<const ConfigItem>> candidates;
    if (!q.blur && !q.data_id.empty() && !q.group.empty()) {
      if (auto it = by_key_.find(ConfigKey{q.tenant, q.group, q.data_id}); it != by_key_.end()) {
        candidates.push_back(it->second);
      }
    } else {
      const auto [first, end] = RangeLocked(q.tenant, std::nullopt);
      candidates = items_.Slice(first, end - first);
    }
    for (const auto& shared : candidates) {
      const ConfigItem& item = *shared;
      if (!FieldMatches(q.data_id, item.key.data_id, q.blur)) continue;
      if (!FieldMatches(q.group, item.key.group, q.blur)) continue;
      if (!q.app_name.empty() && q.app_name != item.app_name) continue;
      if (!TagsMatch(q.tags, item.tags)) continue;
      if (q.blur && !q.types.empty() &&
          std::find(q.types.begin(), q.types.end(), item.type) == q.types.end()) {
        continue;
      }
      matches.push_back(shared);
    }
  }
  Page<std::shared_ptr<const ConfigItem>> page;
  Paginate(page, std::move(matches), q.page_no, q.page_size);
  return page;
}

std::vector<std::shared_ptr<const ConfigItem>> ConfigStore::ListTenant(
    std::string_view tenant) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto [first, end] = RangeLocked(tenant, std::nullopt);
  return items_.Slice(first, end - first);
}

int64_t ConfigStore::ConfigCount(std::string_view tenant) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto [first, end] = RangeLocked(tenant, std::nullopt);
  return static_cast<int64_t>(end - first);
}

std::vector<ConfigKey> ConfigStore::KeysWithIds(const std::vector<int64_t>& ids) const {
  std::vector<ConfigKey> out;
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& item : items_.Slice(0, items_.size())) {
    if (std::find(ids.begin(), ids.end(), item->id) != ids.end()) out.push_back(item->key);
  }
  return out;
}

int64_t ConfigStore::config_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return static_cast<int64_t>(items_.size());
}

absl::StatusOr<Page<HistoryEntry>> ConfigStore::History(const ConfigKey& key, int page_no,
                                                        int page_size) const {
  // History can grow long; collect the row ids (cheap index keys) first, then read only the
  // rows of the requested page.
  const std::string prefix = HistoryIndexPrefix(key);
  std::vector<int64_t> nids;
  const auto db = Db();
  if (!db) return absl::UnavailableError("the config store is reopening after a write failure");
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(Verified()));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view k(it->key().data(), it->key().size());
    nids.push_back(static_cast<int64_t>(GetBigEndian(k.substr(prefix.size()))));
  }
  DNSD_RETURN_IF_ERROR(ReadFailure(it->status()));
  std::reverse(nids.begin(), nids.end());  // newest first
  Page<int64_t> ids;
  Paginate(ids, std::move(nids), page_no, page_size);
  Page<HistoryEntry> page;
  page.total_count = ids.total_count;
  page.page_no = ids.page_no;
  page.pages_available = ids.pages_available;
  for (int64_t nid : ids.items) {
    auto entry = HistoryById(nid);
    if (!entry.ok()) return entry.status();
    if (*entry) page.items.push_back(std::move(**entry));
  }
  return page;
}

absl::Status ConfigStore::ApplyTrimHistory(const ConfigCommand& c, leveldb::WriteBatch& batch) {
  // Rows are keyed by nid, which grows in apply order: the oldest come first, and the first
  // row at or after the cut-off ends the trim (a row a later leader stamped a little earlier
  // stays a little longer; every replica stops at the same row).
  const auto db = Db();
  if (!db) return common::StorageFailure("the config store is reopening after a write failure");
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(Verified()));
  uint32_t dropped = 0;
  for (it->Seek("H"); it->Valid() && it->key().starts_with("H") && dropped < c.trim_max_rows;
       it->Next()) {
    auto h = DecodeHistory(std::string_view(it->value().data(), it->value().size()));
    if (!h.ok()) return common::StateDamaged(h.status().message());
    if (h->modified_time_ms >= c.trim_before_ms) break;
    batch.Delete(it->key());
    std::string index_key = HistoryIndexPrefix(h->key);
    PutBigEndian(index_key, static_cast<uint64_t>(h->id));
    batch.Delete(index_key);
    ++dropped;
  }
  if (!it->status().ok()) return common::StateDamaged(it->status().ToString());
  return absl::OkStatus();
}

absl::StatusOr<std::optional<int64_t>> ConfigStore::OldestHistoryMs() const {
  const auto db = Db();
  if (!db) return absl::UnavailableError("the config store is reopening after a write failure");
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(Verified()));
  it->Seek("H");
  if (!it->Valid() || !it->key().starts_with("H")) {
    DNSD_RETURN_IF_ERROR(FromLevelDb(it->status()));
    return std::optional<int64_t>();
  }
  auto h = DecodeHistory(std::string_view(it->value().data(), it->value().size()));
  if (!h.ok()) return h.status();
  return std::optional<int64_t>(h->modified_time_ms);
}

absl::StatusOr<std::optional<HistoryEntry>> ConfigStore::HistoryById(int64_t nid) const {
  std::string value;
  const auto db = Db();
  if (!db) return absl::UnavailableError("the config store is reopening after a write failure");
  leveldb::Status s = db->Get(Verified(), HistoryRowKey(nid), &value);
  if (s.IsNotFound()) return std::optional<HistoryEntry>();
  DNSD_RETURN_IF_ERROR(ReadFailure(s));
  auto entry = DecodeHistory(value);
  if (!entry.ok()) return entry.status();
  return std::optional<HistoryEntry>(*std::move(entry));
}

absl::StatusOr<std::optional<HistoryEntry>> ConfigStore::PreviousHistory(int64_t nid) const {
  auto current = HistoryById(nid);
  if (!current.ok() || !*current) return current;
  std::string seek = HistoryIndexPrefix((*current)->key);
  const std::string prefix = seek;
  PutBigEndian(seek, static_cast<uint64_t>(nid));
  const auto db = Db();
  if (!db) return absl::UnavailableError("the config store is reopening after a write failure");
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(Verified()));
  it->Seek(seek);
  // Seek lands on row `nid` itself; the row before it in key order is the previous one.
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  if (!it->Valid() || !it->key().starts_with(prefix)) {
    DNSD_RETURN_IF_ERROR(ReadFailure(it->status()));
    return std::optional<HistoryEntry>();
  }
  std::string_view k(it->key().data(), it->key().size());
  const auto prev = static_cast<int64_t>(GetBigEndian(k.substr(prefix.size())));
  if (prev >= nid) return std::optional<HistoryEntry>();
  return HistoryById(prev);
}

std::shared_ptr<const NamespaceMap> ConfigStore::namespaces() const {
  absl::ReaderMutexLock lock(&mu_);
  return namespaces_;
}

bool ConfigStore::NamespaceExists(std::string_view id) const {
  absl::ReaderMutexLock lock(&mu_);
  return namespaces_->contains(std::string(id));
}

}  // namespace dnsd::config

namespace dnsd::config {

absl::Status ConfigStore::RecordApplied(uint64_t index) {
  {
    absl::ReaderMutexLock lock(&mu_);
    if (index <= applied_index_) return absl::OkStatus();
  }
  leveldb::WriteBatch batch;
  std::string applied;
  PutBigEndian(applied, index);
  batch.Put(kAppliedKey, applied);
  DNSD_RETURN_IF_ERROR(WriteState(batch, index));
  absl::MutexLock lock(&mu_);
  applied_index_ = index;
  return absl::OkStatus();
}

absl::Status ConfigStore::WriteState(leveldb::WriteBatch& batch, uint64_t index) {
  std::shared_ptr<leveldb::DB> db = Db();
  if (db) {
    const leveldb::Status s = db->Write(leveldb::WriteOptions(), &batch);
    if (s.ok()) return absl::OkStatus();
    spdlog::error("config store {}: writing log entry {} failed: {}", dir_, index, s.ToString());
    {
      absl::MutexLock lock(&mu_);
      db_.reset();
    }
    // Readers may still hold the old handle for a moment; it closes when the last one lets go.
    db.reset();
  }
  // Reopen: recovery drops a torn record at the tail of LevelDB's write-ahead file, and a new
  // file is started for what comes next.
  if (auto s = OpenDb(); !s.ok()) {
    if (common::IsStorageFailure(s)) return s;
    // The store's own files are damaged: no way to go on from here but a rebuild.
    return common::StateDamaged(s.message());
  }
  std::string value;
  const leveldb::Status s = Db()->Get(leveldb::ReadOptions(), kAppliedKey, &value);
  if (s.ok() && GetBigEndian(value) >= index) return absl::OkStatus();  // the write made it
  if (!s.ok() && !s.IsNotFound()) return StorageFailure(s);
  leveldb::Status retried = Db()->Write(leveldb::WriteOptions(), &batch);
  if (retried.ok()) return absl::OkStatus();
  spdlog::error("config store {}: writing log entry {} failed again: {}", dir_, index,
                retried.ToString());
  absl::MutexLock lock(&mu_);
  db_.reset();
  return StorageFailure(retried);
}

// ---------------------------------------------------------------- Raft snapshots
// Layout (version 1): u8 version, u64 record count, then every LevelDB record of the store as
// two strings (key, value), in key order, the applied index ("A") included.

namespace {
constexpr uint8_t kSnapshotVersion = 1;
}  // namespace

absl::StatusOr<std::string> ConfigStore::Snapshot(bool with_history) const {
  std::shared_ptr<leveldb::DB> db = Db();
  if (!db) return common::StorageFailure("the config store is closed after a write failure");
  std::vector<std::pair<std::string, std::string>> records;
  leveldb::ReadOptions read;
  read.verify_checksums = true;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(read));
  for (it->SeekToFirst(); it->Valid();) {
    if (!with_history && (it->key().starts_with("H") || it->key().starts_with("K"))) {
      // Jump over the whole history range ("H" rows, "K" index keys) instead of reading it.
      it->Seek(it->key().starts_with("H") ? "I" : "L");
      continue;
    }
    records.emplace_back(it->key().ToString(), it->value().ToString());
    it->Next();
  }
  if (!it->status().ok()) return ReadFailure(it->status());
  common::ByteWriter w;
  w.PutU8(kSnapshotVersion);
  w.PutU64(records.size());
  for (const auto& [key, value] : records) {
    w.PutString(key);
    w.PutString(value);
  }
  return w.Take();
}

absl::Status ConfigStore::Restore(std::string_view snapshot) {
  // Everything is decoded and checked before the store changes.
  common::ByteReader r(snapshot);
  uint8_t version;
  uint64_t count;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kSnapshotVersion) return absl::DataLossError("unknown config snapshot version");
  DNSD_RETURN_IF_ERROR(r.GetU64(count));
  std::vector<std::pair<std::string, std::string>> records;
  for (uint64_t i = 0; i < count; ++i) {
    std::string key, value;
    DNSD_RETURN_IF_ERROR(r.GetString(key));
    DNSD_RETURN_IF_ERROR(r.GetString(value));
    bool valid = false;
    if (key == kAppliedKey) {
      valid = value.size() == 8;
    } else if (key == kSequenceKey) {
      valid = value.size() == 16;
    } else if (key.starts_with("C")) {
      valid = DecodeItem(value).ok();
    } else if (key.starts_with("N")) {
      valid = DecodeNamespace(value).ok();
    } else {
      valid = key.starts_with("H") || key.starts_with("K");
    }
    if (!valid) return absl::DataLossError("a config snapshot record does not decode");
    records.emplace_back(std::move(key), std::move(value));
  }
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after the config snapshot");

  std::shared_ptr<leveldb::DB> db = Db();
  if (!db) return common::StorageFailure("the config store is closed after a write failure");
  std::map<ConfigKey, std::string> old_md5;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& item : items_.Slice(0, items_.size())) old_md5[item->key] = item->md5;
  }
  // One synced batch: the old records go, the snapshot's come, atomically.
  leveldb::WriteBatch batch;
  {
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(Verified()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(it->key());
    if (!it->status().ok()) return ReadFailure(it->status());
  }
  for (const auto& [key, value] : records) batch.Put(key, value);
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (const leveldb::Status s = db->Write(sync, &batch); !s.ok()) {
    spdlog::error("config store {}: restoring a snapshot failed: {}", dir_, s.ToString());
    return StorageFailure(s);
  }
  {
    absl::MutexLock lock(&mu_);
    items_.Clear();
    by_key_.clear();
    applied_index_ = 0;
  }
  DNSD_RETURN_IF_ERROR(Load());
  // Listeners hear about every config whose content the snapshot changed.
  std::vector<ConfigChange> changes;
  {
    absl::ReaderMutexLock lock(&mu_);
    for (const auto& item : items_.Slice(0, items_.size())) {
      const ConfigKey& key = item->key;
      auto old = old_md5.find(key);
      if (old == old_md5.end() || old->second != item->md5) changes.push_back({key, item->md5});
      if (old != old_md5.end()) old_md5.erase(old);
    }
  }
  for (const auto& [key, md5] : old_md5) changes.push_back({key, ""});
  for (const auto& change : changes) {
    for (const auto& listener : listeners_) listener(change);
  }
  return absl::OkStatus();
}

absl::Status ConfigStore::Sync() {
  std::shared_ptr<leveldb::DB> db = Db();
  if (!db) return common::StorageFailure("the config store is closed after a write failure");
  leveldb::WriteBatch batch;
  std::string applied;
  PutBigEndian(applied, applied_index());
  batch.Put(kAppliedKey, applied);
  leveldb::WriteOptions sync;
  sync.sync = true;
  if (const leveldb::Status s = db->Write(sync, &batch); !s.ok()) return StorageFailure(s);
  return absl::OkStatus();
}

}  // namespace dnsd::config
