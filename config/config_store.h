// ConfigStore is the config center's state machine: configs, their history and the
// namespaces (shared with naming), kept in LevelDB with the index of the last applied log
// entry written in the same atomic batch as the state it produced. Apply(index, command) is
// the one entry point Raft's apply (raft::RaftNode) calls; given the same
// sequence of commands every replica reaches the same state and returns the same results,
// because everything Apply needs (time, client address, ids) is in the command or the state.
//
// Entries at or below the stored applied index are skipped, so after a crash the driver can
// replay the whole log and only the tail the state had not absorbed yet is applied. State
// writes are not fsynced: the log they come from is, and replay covers the difference. Every
// log entry advances the applied index, config or not (RecordApplied), so a store that is
// ahead of its log shows that the log lost acknowledged entries.
//
// Damage is never served: the database is opened with paranoid checks and every record is
// read with its checksum verified at open; a failure is kDataLoss and the caller rebuilds the
// store from the log. A write that fails (ENOSPC, EIO) closes and reopens the database, so
// LevelDB's write-ahead file never gets good records behind a torn one, and Apply reports
// kUnavailable with the state unchanged; the caller retries the same entry.
//
// Threading: one writer (the thread that calls Apply, serialised by the driver). Readers on
// any thread: current configs are served from memory under a reader lock; history and
// search read LevelDB or the in-memory index without blocking the writer for long.
// Change listeners run on the writer thread after the change is stored; they must be short.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/ranked_list.h"
#include "config/config_command.h"
#include "config/config_model.h"

namespace leveldb {
class DB;
class Env;
class WriteBatch;
}  // namespace leveldb

namespace dnsd::config {

// A config whose md5 changed: published (md5 is the new one) or removed (md5 is "").
struct ConfigChange {
  ConfigKey key;
  std::string md5;
};
using ConfigChangeListener = std::function<void(const ConfigChange&)>;
using NamespaceMap = std::map<std::string, NamespaceInfo>;

struct SearchQuery {
  std::string tenant;  // normalised
  std::string data_id;
  std::string group;
  std::string app_name;
  std::string tags;                // comma separated; a config matches when it has any of them
  bool blur = false;               // blur: '*' in data_id/group matches any run of characters
  std::vector<std::string> types;  // blur only; empty matches every type
  int page_no = 1;
  int page_size = 100;
};

template <typename T>
struct Page {
  int64_t total_count = 0;
  int page_no = 1;
  int pages_available = 0;
  std::vector<T> items;
};

struct ConfigStoreOptions {
  // nullptr: the real file system. Tests pass a fault-injecting Env.
  leveldb::Env* env = nullptr;
};

class ConfigStore {
 public:
  // kDataLoss when the files are damaged (rebuild from the log), kUnavailable for I/O errors.
  static absl::StatusOr<std::unique_ptr<ConfigStore>> Open(const std::string& dir,
                                                           const ConfigStoreOptions& options = {});
  ~ConfigStore();

  // ---- State machine (writer thread) ----
  uint64_t applied_index() const;
  // The checks Apply would make that do not depend on log order (namespace rules), so the
  // API can reject a command before it is written to the log.
  absl::Status Precheck(const ConfigCommand& command) const;
  // Applies the command at log position `index` and returns its result. A command whose
  // result is an error (kAborted for a CAS mismatch, namespace rules) changes nothing but the
  // applied index. An I/O failure of the state itself is returned as kUnavailable with the
  // state unchanged (common::IsStorageFailure), and the same entry must be applied again.
  absl::Status Apply(uint64_t index, const ConfigCommand& command);
  // Records that log entry `index`, which belongs to another state machine, was applied.
  absl::Status RecordApplied(uint64_t index);
  // Register before the driver starts applying new entries.
  void AddListener(ConfigChangeListener listener) { listeners_.push_back(std::move(listener)); }

  // ---- Raft snapshots (writer thread) ----
  // Every record of the store (configs, history, namespaces, the applied index) as bytes;
  // without history, only the configs, namespaces and counters (what a single node keeps to
  // rebuild a damaged store: cheap to take at every compaction, history grows with every write).
  absl::StatusOr<std::string> Snapshot(bool with_history = true) const;
  // Replaces the whole store with a snapshot's records in one synced write and tells the
  // listeners about every config that changed. A snapshot that does not decode is kDataLoss
  // and changes nothing.
  absl::Status Restore(std::string_view snapshot);
  // Makes every state written so far durable (state writes are not fsynced one by one): Raft
  // calls it before dropping the log entries that produced the state.
  absl::Status Sync();

  // ---- Readers (any thread) ----
  std::shared_ptr<const ConfigItem> Get(const ConfigKey& key) const;
  // The md5 a listener compares against: "" for a missing config.
  std::string Md5Of(const ConfigKey& key) const;
  Page<std::shared_ptr<const ConfigItem>> Search(const SearchQuery& query) const;
  std::vector<std::shared_ptr<const ConfigItem>> ListTenant(std::string_view tenant) const;
  int64_t ConfigCount(std::string_view tenant) const;
  // The keys of the configs with these ids, in any tenant.
  std::vector<ConfigKey> KeysWithIds(const std::vector<int64_t>& ids) const;
  int64_t config_count() const;

  // History of one config, newest first.
  absl::StatusOr<Page<HistoryEntry>> History(const ConfigKey& key, int page_no,
                                             int page_size) const;
  absl::StatusOr<std::optional<HistoryEntry>> HistoryById(int64_t nid) const;
  // The newest history row of the same config older than row `nid`.
  absl::StatusOr<std::optional<HistoryEntry>> PreviousHistory(int64_t nid) const;

  // The modification time of the oldest history row (nullopt: no history), for the
  // retention timer to decide whether a trim is due.
  absl::StatusOr<std::optional<int64_t>> OldestHistoryMs() const;
  std::shared_ptr<const NamespaceMap> namespaces() const;
  bool NamespaceExists(std::string_view id) const;

 private:
  ConfigStore(std::string dir, const ConfigStoreOptions& options);
  absl::Status OpenDb();
  absl::Status Load();
  std::shared_ptr<leveldb::DB> Db() const;
  // Writes the batch that takes the state to log index `index`; after a failed write the
  // database is reopened and the batch counts as written only if the reopened state holds it.
  absl::Status WriteState(leveldb::WriteBatch& batch, uint64_t index);
  absl::Status CheckLocked(const ConfigCommand& command) const;
  // Builds the state changes of `command` into `batch`; fills `change` when an md5 changed.
  absl::Status ApplyPublish(const ConfigCommand& command, leveldb::WriteBatch& batch,
                            std::optional<ConfigChange>& change,
                            std::shared_ptr<const ConfigItem>& new_item);
  absl::Status ApplyTrimHistory(const ConfigCommand& command, leveldb::WriteBatch& batch);
  absl::Status ApplyRemove(const ConfigCommand& command, leveldb::WriteBatch& batch,
                           std::optional<ConfigChange>& change);
  void AddHistory(const ConfigItem& item, char op_type, const ConfigCommand& command,
                  leveldb::WriteBatch& batch);

  const std::string dir_;
  const ConfigStoreOptions options_;
  std::vector<ConfigChangeListener> listeners_;

  mutable absl::Mutex mu_;
  // Replaced when a failed write reopens the database; readers hold their own reference.
  std::shared_ptr<leveldb::DB> db_ ABSL_GUARDED_BY(mu_);
  // Ordered by key with ranks, so that a listing or an unfiltered search costs O(log n +
  // page) and a count O(log n); hashed for the point reads of every get.
  struct ItemOrder {
    static const ConfigKey& Of(const ConfigKey& k) { return k; }
    static const ConfigKey& Of(const std::shared_ptr<const ConfigItem>& item) { return item->key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Of(a) < Of(b);
    }
  };
  common::RankedList<std::shared_ptr<const ConfigItem>, ItemOrder> items_ ABSL_GUARDED_BY(mu_);
  // Ranks [first, end) of the configs of `tenant` (of `group` too, when given).
  std::pair<size_t, size_t> RangeLocked(std::string_view tenant,
                                        std::optional<std::string_view> group) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Adds or replaces (`item`) or removes (null) the config `key` in both indexes.
  void SetItemLocked(const ConfigKey& key, std::shared_ptr<const ConfigItem> item)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::flat_hash_map<ConfigKey, std::shared_ptr<const ConfigItem>> by_key_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const NamespaceMap> namespaces_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_index_ ABSL_GUARDED_BY(mu_) = 0;
  // Writer-only sequences, persisted with every batch.
  int64_t next_config_id_ = 1;
  int64_t next_history_id_ = 1;
};

}  // namespace dnsd::config
