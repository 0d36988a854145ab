// Registry is the naming state of one node: services and their instances.
//
// Threading: any number of readers call Find/List on any thread without locks
// (they read immutable snapshots). Writers on any thread are serialised by one writer lock;
// each change publishes a new ServiceView and then calls the change listeners, still under
// the writer lock: listeners must be short and must not block or call back into the registry.
// (The DNS zone builds a service's answer set there on purpose, so a change is answered in
// DNS before the write that caused it is acknowledged; everything slower should enqueue.)
//
// Time never comes from a clock here: every call that depends on time takes `now_ms`.
//
// Ephemeral data (instances kept alive by heartbeats or by their connection) is changed by
// direct calls. Durable data (persistent instances, service definitions) is
// changed only by Apply(Command), which the log driver calls in log order.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/byte_codec.h"
#include "registry/command.h"
#include "registry/naming_model.h"
#include "registry/service_index.h"
#include "registry/service_order.h"
#include "registry/service_view.h"

namespace dnsd::registry {

struct RegistryOptions {
  HeartbeatPolicy heartbeat_defaults;
  // An empty service that was never defined through the service API is dropped after this.
  int64_t empty_service_ttl_ms = 60'000;
};

struct BeatResult {
  bool found = false;  // false: unknown instance and no beat body (Nacos code 20404)
  int64_t interval_ms = 5000;
};

struct CommandResult {
  std::vector<std::string> updated;  // batch metadata: the instances touched
};

// Called with the new view, or nullptr when the service was removed.
using ChangeListener =
    std::function<void(const ServiceKey&, const std::shared_ptr<const ServiceView>&)>;

class Registry {
 public:
  explicit Registry(RegistryOptions options);

  // ---- Readers (lock-free, any thread) ----
  std::shared_ptr<const ServiceView> Find(const ServiceKey& key) const { return index_.Find(key); }
  // Services of a namespace, optionally of one group, sorted by (group, name).
  std::vector<std::shared_ptr<const ServiceView>> List(std::string_view namespace_id,
                                                       std::optional<std::string_view> group) const;
  // Every service of every namespace, sorted by key.
  std::vector<std::shared_ptr<const ServiceView>> ListAll() const;
  // One page of the names of a namespace's services (of one group, when given), in order, and
  // how many there are: O(log n + page) (registry/service_order.h).
  ServiceOrder::Page ListPage(std::string_view namespace_id, std::optional<std::string_view> group,
                              size_t offset, size_t limit) const {
    return order_.Range(namespace_id, group, offset, limit);
  }
  int64_t service_count() const { return service_count_.load(std::memory_order_relaxed); }
  int64_t instance_count() const { return instance_count_.load(std::memory_order_relaxed); }
  // Bumped by every published change (a view's revision).
  uint64_t revision() const {
    WriterLock lock(this);
    return revision_;
  }

  // ---- Ephemeral writes ----
  // `owner` is the client that published the instance: empty for the instance's own ip:port
  // client (HTTP), a connection id for gRPC. Heartbeat-driven instances expire without beats;
  // others live until removed.
  absl::Status RegisterEphemeral(const ServiceKey& key, Instance instance, std::string_view owner,
                                 bool heartbeat_driven, int64_t now_ms);
  absl::Status DeregisterEphemeral(const ServiceKey& key, const InstanceAddress& address,
                                   int64_t now_ms);
  // Removes the instance only if `owner` published it (a gRPC connection releasing what it
  // registered must not remove an instance another client has registered since).
  absl::Status DeregisterOwned(const ServiceKey& key, const InstanceAddress& address,
                               std::string_view owner, int64_t now_ms);
  absl::Status UpdateEphemeral(const ServiceKey& key, const InstanceAddress& address,
                               const InstancePatch& patch, int64_t now_ms);
  absl::StatusOr<CommandResult> BatchMetadataEphemeral(const ServiceKey& key,
                                                       const std::vector<InstanceAddress>& targets,
                                                       const Metadata& metadata, bool remove_keys);
  // A heartbeat. `body`, when given, re-registers an unknown instance (Nacos 2.x behaviour)
  // for the HTTP client `ip:port#true`.
  BeatResult Beat(const ServiceKey& key, const InstanceAddress& address, const Instance* body,
                  int64_t now_ms);
  // Marks instances without recent beats unhealthy, removes dead ones, drops empty services.
  // Only local clients' instances expire here: a remote client's owner decides. Background
  // work: it takes the writer lock for a few services at a time and steps aside between
  // those holds while other writers wait (see WriterLock).
  void Tick(int64_t now_ms);

  // ---- Clients (what Distro replicates) ----
  // Every ephemeral instance belongs to one client: the `owner` it was registered with (HTTP:
  // "ip:port#true"; gRPC: the connection id). A client is local (its owner is this node: it
  // is written through the calls above and expired by Tick here) or remote (a copy of another
  // node's client, written only by ReplaceClient).
  struct Publication {
    ServiceKey service;
    std::shared_ptr<const Instance> instance;
    bool heartbeat_driven = false;
  };
  // Called, under the writer lock, with the id of a local client whose publications changed
  // (registered, removed, updated, turned unhealthy, expired). Set before writers start; it
  // must only note the id. ReplaceClient and SetClientLocal do not call it.
  using ClientListener = std::function<void(const std::string& client_id)>;
  void SetClientListener(ClientListener listener) { client_listener_ = std::move(listener); }
  // The client's instances, sorted by (service, address); empty for an unknown client.
  std::vector<Publication> ClientPublications(std::string_view client_id) const;
  // Makes a remote client's publications exactly `publications` (its owner's copy); an empty
  // list removes the client. A publication the registry refuses (a persistent service of
  // that name here) is skipped and counted in the result. The client is remote afterwards.
  struct ReplaceResult {
    int changed = 0;  // instances added, changed or removed
    int refused = 0;
  };
  ReplaceResult ReplaceClient(const std::string& client_id, std::vector<Publication> publications,
                              int64_t now_ms);
  // Ownership moved to (local = true) or away from this node. A client that becomes local
  // starts a fresh heartbeat period (its beats now come here).
  void SetClientLocal(std::string_view client_id, bool local, int64_t now_ms);
  bool IsClientLocal(std::string_view client_id) const;
  // Ids of every client with at least one instance, sorted.
  std::vector<std::string> ClientIds() const;

  // ---- Durable state machine ----
  // The checks Apply would make, without changing anything; lets the API reject a command
  // before it is written to the log.
  absl::Status Precheck(const Command& command) const;
  absl::StatusOr<CommandResult> Apply(const Command& command);
  // The durable part (durable services' definitions and persistent instances) as bytes, for
  // a Raft snapshot: the state at one moment (taken on the thread that calls Apply, the state
  // after the last applied entry). The writer lock is held only while pointers are collected.
  std::string DurableSnapshot() const;
  // The same appended to `w` (a snapshot's registry part written in place: at a million
  // instances it is ~65 MB, not worth building apart and copying).
  void DurableSnapshotInto(common::ByteWriter& w) const;
  // The same in two steps, so that the encoding (a second at a million instances) can run on
  // another thread while the registry goes on changing: CaptureDurable freezes the durable
  // part (pointers: instances are immutable, metas copy-on-write) under the writer lock;
  // EncodeDurableInto writes what was captured, on any thread, while this registry lives.
  struct DurableCapture;
  std::shared_ptr<const DurableCapture> CaptureDurable() const;
  void EncodeDurableInto(const DurableCapture& capture, common::ByteWriter& w) const;
  // The size of the last durable snapshot taken or restored, to reserve the next one's buffer
  // at once rather than doubling it (each doubling holds the old and the new buffer).
  size_t last_snapshot_bytes() const { return last_snapshot_bytes_.load(); }
  // Replaces the durable part with a snapshot's; ephemeral instances stay. A snapshot that
  // does not decode is kDataLoss and changes nothing. (registry_snapshot.cc)
  absl::Status RestoreDurable(std::string_view snapshot, int64_t now_ms);

  // Register before writers start.
  void AddListener(ChangeListener listener) { listeners_.push_back(std::move(listener)); }

 private:
  // One per instance, so kept small (48 bytes): the owner interned (a client's instances share
  // it), the heartbeat policy's times in 32 bits (saturated at ~24.8 days; a longer timeout
  // behaves as that).
  struct Slot {
    std::shared_ptr<const Instance> instance;
    common::Atom owner;  // empty: the instance's own ip:port client (HTTP)
    int64_t last_beat_ms = 0;
    // The timeouts the expiry scan reads (saturated to 31 bits); the beat interval is read
    // from the instance's metadata when a beat asks for it, which is rarer than a scan.
    uint32_t timeout_ms : 31 = 15000;
    uint32_t heartbeat_driven : 1 = 0;
    int32_t delete_timeout_ms = 30000;
    void SetPolicy(const HeartbeatPolicy& policy);
  };
  static_assert(sizeof(Slot) <= 40, "a Slot is per instance: keep it small");
  // Instances of one service sorted by address. A sorted vector rather than a node-based map:
  // at 100,000 instances the per-node overhead of std::map is a third of the memory.
  class SlotList {
   public:
    Slot* Find(const InstanceAddress& address);
    // The slot for `address`, inserted empty if absent; the caller sets its instance, with
    // that same address, before the list is used again.
    std::pair<Slot*, bool> FindOrInsert(const InstanceAddress& address);
    void Erase(Slot* slot) { items_.erase(items_.begin() + (slot - items_.data())); }
    std::vector<Slot>& items() { return items_; }
    const std::vector<Slot>& items() const { return items_; }
    bool empty() const { return items_.empty(); }
    size_t size() const { return items_.size(); }

   private:
    std::vector<Slot>::iterator LowerBound(const InstanceAddress& address);
    std::vector<Slot> items_;
  };
  struct ServiceState {
    const ServiceMeta& meta() const { return *meta_; }
    // The meta to change: copied first while a published view (or the shared default) holds
    // it.
    ServiceMeta& mutable_meta() {
      if (meta_.use_count() > 1) meta_ = std::make_shared<ServiceMeta>(*meta_);
      return *meta_;
    }
    // A meta equal to the default of its kind (a snapshot's record of a service made by a
    // registration) shares the default.
    void set_meta(const ServiceMeta& meta) {
      const auto& fallback = DefaultMeta(meta.ephemeral);
      meta_ = meta == *fallback ? fallback : std::make_shared<ServiceMeta>(meta);
    }
    // Services made by a registration share one default meta (of their kind) until changed.
    std::shared_ptr<ServiceMeta> meta_ = DefaultMeta(/*ephemeral=*/true);
    SlotList instances;
    int64_t empty_since_ms = 0;
    // The map's key: shared by the ordered index, the client index and the views.
    std::shared_ptr<const ServiceKey> key_ref;
    bool ordered = false;  // in order_ (from its first publication until removed)
  };
  static const std::shared_ptr<ServiceMeta>& DefaultMeta(bool ephemeral);
  // The heartbeat interval the instance's metadata asks for (or the default).
  int64_t BeatIntervalOf(const Instance& instance) const;
  // Keyed by the shared key (16 bytes a service, not a second copy), looked up by ServiceKey.
  using ServiceMap = absl::flat_hash_map<std::shared_ptr<const ServiceKey>, ServiceState,
                                         SharedServiceKeyHash, SharedServiceKeyEq>;
  // The service's state, made (empty, with its shared key) when absent.
  ServiceState& StateFor(const ServiceKey& key, bool* created = nullptr);

  absl::Status CheckLocked(const Command& command) const;
  absl::Status CheckKindLocked(const ServiceKey& key, bool ephemeral) const;
  absl::Status RegisterLocked(const ServiceKey& key, Instance instance, std::string_view owner,
                              bool heartbeat_driven, int64_t now_ms);
  absl::Status DeregisterLocked(const ServiceKey& key, const InstanceAddress& address,
                                bool ephemeral, int64_t now_ms,
                                std::optional<std::string_view> owner = std::nullopt);
  absl::Status UpdateLocked(const ServiceKey& key, const InstanceAddress& address, bool ephemeral,
                            const InstancePatch& patch, bool require_existing);
  absl::StatusOr<CommandResult> BatchMetadataLocked(const ServiceKey& key, bool ephemeral,
                                                    const std::vector<InstanceAddress>& targets,
                                                    const Metadata& metadata, bool remove_keys);
  void PublishLocked(const ServiceKey& key, ServiceState& state);
  // Set by RestoreDurable while its index changes are batched: publications and removals are
  // collected here and told to the listeners after the batch, when readers (the health checker
  // reading on its own thread, say) find what they are told of.
  std::vector<std::pair<ServiceKey, std::shared_ptr<const ServiceView>>>* deferred_ = nullptr;
  // Tick's work for one service: expiry, unhealthy marks, an empty implicit service noted.
  // True when it changed the service (published a new view).
  bool TickServiceLocked(const ServiceKey& key, ServiceState& state, int64_t now_ms,
                         std::vector<ServiceKey>& empty_expired);
  void RemoveServiceLocked(const ServiceKey& key);
  // The client index: which (service, address) slots each client owns.
  // Compact, because there is one per ephemeral instance: the service key is shared with the
  // service's state, and most clients publish one instance (no separate allocation).
  struct PublicationRef {
    std::shared_ptr<const ServiceKey> service;
    InstanceAddress address;
    bool Is(const ServiceKey& key, const InstanceAddress& at) const {
      return address == at && *service == key;
    }
  };
  struct ClientEntry {
    bool local = true;
    absl::InlinedVector<PublicationRef, 1> publications;
  };
  void IndexAddLocked(const std::string& owner, ServiceState& state, const ServiceKey& key,
                      const InstanceAddress& address, bool local_if_new);
  void IndexRemoveLocked(const std::string& owner, const ServiceKey& key,
                         const InstanceAddress& address);
  void ClientChangedLocked(const std::string& owner);
  bool IsLocalLocked(const std::string& owner) const;

  const RegistryOptions options_;
  std::vector<ChangeListener> listeners_;
  ClientListener client_listener_;
  // Set while ReplaceClient writes: the writes are a remote owner's, not local changes.
  bool replacing_ = false;

  // The writer lock as every writer but Tick takes it: counted in writers_waiting_ while it
  // waits. absl::Mutex (like most mutexes) lets a thread that has just unlocked take the lock
  // again before a woken waiter runs, so Tick, going from one batch to the next, could keep a
  // registration waiting for the whole scan; it checks the count between batches instead.
  class WriterLock {
   public:
    explicit WriterLock(const Registry* registry) : mu_(registry->mu_) {
      registry->writers_waiting_.fetch_add(1, std::memory_order_relaxed);
      mu_.Lock();
      registry->writers_waiting_.fetch_sub(1, std::memory_order_relaxed);
    }
    ~WriterLock() { mu_.Unlock(); }
    WriterLock(const WriterLock&) = delete;
    WriterLock& operator=(const WriterLock&) = delete;

   private:
    absl::Mutex& mu_;
  };
  // Tick between two batches: waits (briefly, bounded) while writers wait for the lock.
  void StepAsideForWriters() const;

  mutable absl::Mutex mu_;  // the writer lock (spins briefly before blocking: sections are short)
  mutable std::atomic<int> writers_waiting_{0};
  ServiceMap services_;
  absl::flat_hash_map<std::string, ClientEntry> clients_;  // ephemeral instances' owners
  uint64_t revision_ = 0;

  ServiceIndex index_;
  ServiceOrder order_;
  std::atomic<int64_t> service_count_{0};
  mutable std::atomic<size_t> last_snapshot_bytes_{0};
  mutable size_t last_snapshot_instances_ = 0;  // under mu_: sizes the next snapshot's list
  std::atomic<int64_t> instance_count_{0};
};

}  // namespace dnsd::registry
