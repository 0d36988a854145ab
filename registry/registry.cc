#include "registry/registry.h"

#include <algorithm>
#include <limits>

#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/strings.h"

namespace dnsd::registry {
namespace {

std::string KindMismatchMessage(const ServiceKey& key, bool service_ephemeral) {
  return service_ephemeral
             ? common::StrCat("Current service ", key.GroupedName(),
                              " is ephemeral service, can't register persistent instance.")
             : common::StrCat("Current service ", key.GroupedName(),
                              " is persistent service, can't register ephemeral instance.");
}

std::string UpdatedKey(const Instance& instance) {
  return common::StrCat(instance.ip(), ":", instance.port(), ":unknown:", instance.cluster(), ":",
                        instance.ephemeral ? "ephemeral" : "persist");
}

bool SameInstance(const Instance& a, const Instance& b) {
  return a.address == b.address && a.instance_id == b.instance_id && a.weight == b.weight &&
         a.healthy == b.healthy && a.enabled == b.enabled && a.ephemeral == b.ephemeral &&
         a.metadata == b.metadata;
}

void ApplyPatch(const InstancePatch& patch, Instance& instance) {
  if (patch.weight) instance.weight = *patch.weight;
  if (patch.enabled) instance.enabled = *patch.enabled;
  if (patch.healthy) {
    instance.healthy = *patch.healthy;
    instance.health_cause = patch.health_cause;
  }
  if (patch.metadata) instance.metadata = *patch.metadata;
}

}  // namespace

std::vector<Registry::Slot>::iterator Registry::SlotList::LowerBound(
    const InstanceAddress& address) {
  return std::lower_bound(
      items_.begin(), items_.end(), address,
      [](const Slot& slot, const InstanceAddress& a) { return slot.instance->address < a; });
}

Registry::Slot* Registry::SlotList::Find(const InstanceAddress& address) {
  auto it = LowerBound(address);
  return it != items_.end() && it->instance->address == address ? &*it : nullptr;
}

int64_t Registry::BeatIntervalOf(const Instance& instance) const {
  HeartbeatPolicy policy = options_.heartbeat_defaults;
  // Registration validated the metadata; data from before that check falls back to the default.
  if (!ParseHeartbeatPolicy(instance.metadata, options_.heartbeat_defaults, policy).ok()) {
    return options_.heartbeat_defaults.interval_ms;
  }
  return policy.interval_ms;
}

void Registry::Slot::SetPolicy(const HeartbeatPolicy& policy) {
  auto saturated = [](int64_t ms) {
    return static_cast<int32_t>(std::clamp<int64_t>(ms, 0, std::numeric_limits<int32_t>::max()));
  };
  timeout_ms = static_cast<uint32_t>(saturated(policy.timeout_ms));
  delete_timeout_ms = saturated(policy.delete_timeout_ms);
}

std::pair<Registry::Slot*, bool> Registry::SlotList::FindOrInsert(const InstanceAddress& address) {
  auto it = LowerBound(address);
  if (it != items_.end() && it->instance->address == address) return {&*it, false};
  if (items_.size() == items_.capacity()) {
    // Grow by an eighth rather than doubling: a service's instances are mostly few and
    // long-lived, and doubling left a third of these slots empty on average (~50 MB
    // at a million instances). Still amortised O(1) per insert.
    const size_t at = static_cast<size_t>(it - items_.begin());
    items_.reserve(items_.size() + items_.size() / 8 + 1);
    it = items_.begin() + static_cast<ptrdiff_t>(at);
  }
  it = items_.insert(it, Slot{});
  return {&*it, true};
}

Registry::Registry(RegistryOptions options) : options_(options) {}

std::vector<std::shared_ptr<const ServiceView>> Registry::List(
    std::string_view namespace_id, std::optional<std::string_view> group) const {
  const ServiceOrder::Page page = order_.Range(namespace_id, group, 0, SIZE_MAX);
  std::vector<std::shared_ptr<const ServiceView>> out;
  out.reserve(page.keys.size());
  for (const auto& key : page.keys) {
    if (auto view = index_.Find(*key)) out.push_back(std::move(view));
  }
  return out;
}

std::vector<std::shared_ptr<const ServiceView>> Registry::ListAll() const {
  std::vector<std::shared_ptr<const ServiceView>> out;
  index_.ForEach([&](const std::shared_ptr<const ServiceView>& view) { out.push_back(view); });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a->key() < b->key(); });
  return out;
}

// ---------------------------------------------------------------- publication

const std::shared_ptr<ServiceMeta>& Registry::DefaultMeta(bool ephemeral) {
  static const auto* const metas = [] {
    auto* both = new std::shared_ptr<ServiceMeta>[2] {
      std::make_shared<ServiceMeta>(), std::make_shared<ServiceMeta>()
    };
    both[0]->ephemeral = false;
    return both;
  }();
  return metas[ephemeral ? 1 : 0];
}

Registry::ServiceState& Registry::StateFor(const ServiceKey& key, bool* created) {
  auto it = services_.find(key);
  if (created != nullptr) *created = it == services_.end();
  if (it != services_.end()) return it->second;
  auto shared = std::make_shared<const ServiceKey>(key);
  ServiceState& state = services_.try_emplace(shared).first->second;
  state.key_ref = std::move(shared);
  return state;
}

void Registry::PublishLocked(const ServiceKey& key, ServiceState& state) {
  if (!state.ordered) {
    // A new service: into the ordered index.
    order_.Insert(state.key_ref);
    state.ordered = true;
  }
  std::vector<std::shared_ptr<const Instance>> instances;
  instances.reserve(state.instances.size());
  for (const Slot& slot : state.instances.items()) instances.push_back(slot.instance);
  auto view = std::make_shared<const ServiceView>(state.key_ref, state.meta_, std::move(instances),
                                                  ++revision_);
  index_.Publish(view);
  if (deferred_ != nullptr) {
    deferred_->emplace_back(key, std::move(view));
    return;
  }
  for (const auto& listener : listeners_) listener(key, view);
}

void Registry::RemoveServiceLocked(const ServiceKey& key) {
  auto it = services_.find(key);
  if (it == services_.end()) return;
  instance_count_.fetch_sub(static_cast<int64_t>(it->second.instances.size()));
  if (it->second.ordered) order_.Erase(key);
  services_.erase(it);
  service_count_.fetch_sub(1);
  index_.Remove(key);
  if (deferred_ != nullptr) {
    deferred_->emplace_back(key, nullptr);
    return;
  }
  for (const auto& listener : listeners_) listener(key, nullptr);
}

// ---------------------------------------------------------------- instances

absl::Status Registry::CheckKindLocked(const ServiceKey& key, bool ephemeral) const {
  auto it = services_.find(key);
  if (it != services_.end() && it->second.meta().ephemeral != ephemeral) {
    return absl::InvalidArgumentError(KindMismatchMessage(key, it->second.meta().ephemeral));
  }
  return absl::OkStatus();
}

absl::Status Registry::RegisterLocked(const ServiceKey& key, Instance instance,
                                      std::string_view owner, bool heartbeat_driven,
                                      int64_t now_ms) {
  DNSD_RETURN_IF_ERROR(ValidateServiceKey(key));
  DNSD_RETURN_IF_ERROR(ValidateInstance(instance));
  DNSD_RETURN_IF_ERROR(CheckKindLocked(key, instance.ephemeral));
  HeartbeatPolicy policy;
  DNSD_RETURN_IF_ERROR(
      ParseHeartbeatPolicy(instance.metadata, options_.heartbeat_defaults, policy));
  // A default id is derived on output rather than stored: 64 bytes per instance.
  if (!instance.instance_id.empty() &&
      instance.instance_id == DefaultInstanceId(instance.address, key))
    instance.instance_id.clear();

  bool created = false;
  ServiceState& state = StateFor(key, &created);
  if (created) {
    // A service made by a registration: the default meta of its kind, shared until changed
    // (one fewer allocation a service). Its creation time is not kept; only services created
    // through the service API record one.
    state.meta_ = DefaultMeta(instance.ephemeral);
    service_count_.fetch_add(1);
  }
  auto [slot_ptr, inserted] = state.instances.FindOrInsert(instance.address);
  if (inserted) instance_count_.fetch_add(1);
  Slot& slot = *slot_ptr;
  const bool unchanged = !inserted && SameInstance(*slot.instance, instance) &&
                         slot.owner == owner && (slot.heartbeat_driven != 0) == heartbeat_driven;
  if (inserted || slot.owner != owner) {
    // The address changes hands: the previous client no longer publishes it.
    if (!inserted && !slot.owner.empty()) {
      IndexRemoveLocked(slot.owner, key, instance.address);
      ClientChangedLocked(slot.owner);
    }
    if (!owner.empty())
      IndexAddLocked(std::string(owner), state, key, instance.address,
                     /*local_if_new=*/!replacing_);
  }
  slot.owner = std::string(owner);
  slot.heartbeat_driven = heartbeat_driven ? 1 : 0;
  slot.SetPolicy(policy);
  slot.last_beat_ms = now_ms;
  if (unchanged) return absl::OkStatus();  // a repeated registration only refreshes liveness
  slot.instance = std::make_shared<const Instance>(std::move(instance));
  state.empty_since_ms = 0;
  PublishLocked(key, state);
  if (!slot_ptr->owner.empty()) ClientChangedLocked(slot_ptr->owner);
  return absl::OkStatus();
}

absl::Status Registry::DeregisterLocked(const ServiceKey& key, const InstanceAddress& address,
                                        bool ephemeral, int64_t now_ms,
                                        std::optional<std::string_view> owner) {
  auto it = services_.find(key);
  if (it == services_.end()) return absl::OkStatus();  // unknown instance is not an error
  ServiceState& state = it->second;
  Slot* slot = state.instances.Find(address);
  if (slot == nullptr || slot->instance->ephemeral != ephemeral) return absl::OkStatus();
  if (owner && slot->owner != *owner) return absl::OkStatus();
  const std::string previous_owner = std::move(slot->owner);
  if (!previous_owner.empty()) IndexRemoveLocked(previous_owner, key, address);
  state.instances.Erase(slot);
  instance_count_.fetch_sub(1);
  if (state.instances.empty()) state.empty_since_ms = now_ms;
  PublishLocked(key, state);
  if (!previous_owner.empty()) ClientChangedLocked(previous_owner);
  return absl::OkStatus();
}

absl::Status Registry::UpdateLocked(const ServiceKey& key, const InstanceAddress& address,
                                    bool ephemeral, const InstancePatch& patch,
                                    bool require_existing) {
  if (patch.weight && !(*patch.weight >= 0.0 && *patch.weight <= 10000.0)) {
    return absl::InvalidArgumentError(
        common::StrCat("weight ", *patch.weight, " is out of range [0, 10000]"));
  }
  auto it = services_.find(key);
  if (it == services_.end()) {
    return absl::InvalidArgumentError(common::StrCat(
        "service not found, namespace: ", key.namespace_id, ", service: ", key.GroupedName()));
  }
  ServiceState& state = it->second;
  Slot* slot = state.instances.Find(address);
  if (slot == nullptr || slot->instance->ephemeral != ephemeral) {
    if (!require_existing) return absl::OkStatus();
    return absl::NotFoundError(common::StrCat("instance not found: ", address.ip, ":", address.port,
                                              " in cluster ", address.cluster));
  }
  Instance updated = *slot->instance;
  ApplyPatch(patch, updated);
  HeartbeatPolicy policy;
  DNSD_RETURN_IF_ERROR(ParseHeartbeatPolicy(updated.metadata, options_.heartbeat_defaults, policy));
  slot->SetPolicy(policy);
  slot->instance = std::make_shared<const Instance>(std::move(updated));
  PublishLocked(key, state);
  if (!slot->owner.empty()) ClientChangedLocked(slot->owner);
  return absl::OkStatus();
}

absl::StatusOr<CommandResult> Registry::BatchMetadataLocked(
    const ServiceKey& key, bool ephemeral, const std::vector<InstanceAddress>& targets,
    const Metadata& metadata, bool remove_keys) {
  auto it = services_.find(key);
  if (it == services_.end()) {
    return absl::InvalidArgumentError(
        common::StrCat("service not found: ", key.namespace_id, "##", key.GroupedName()));
  }
  ServiceState& state = it->second;
  CommandResult result;
  std::vector<std::string> changed_clients;
  for (Slot& slot : state.instances.items()) {
    if (slot.instance->ephemeral != ephemeral) continue;
    if (!targets.empty() &&
        std::find(targets.begin(), targets.end(), slot.instance->address) == targets.end()) {
      continue;
    }
    Instance updated = *slot.instance;
    for (const auto& [k, v] : metadata) {
      if (remove_keys) {
        updated.metadata.erase(k);
      } else {
        updated.metadata[k] = v;
      }
    }
    result.updated.push_back(UpdatedKey(updated));
    slot.instance = std::make_shared<const Instance>(std::move(updated));
    if (!slot.owner.empty()) changed_clients.push_back(slot.owner);
  }
  if (!result.updated.empty()) PublishLocked(key, state);
  for (const auto& client : changed_clients) ClientChangedLocked(client);
  return result;
}

absl::Status Registry::RegisterEphemeral(const ServiceKey& key, Instance instance,
                                         std::string_view owner, bool heartbeat_driven,
                                         int64_t now_ms) {
  instance.ephemeral = true;
  WriterLock lock(this);
  return RegisterLocked(key, std::move(instance), owner, heartbeat_driven, now_ms);
}

absl::Status Registry::DeregisterEphemeral(const ServiceKey& key, const InstanceAddress& address,
                                           int64_t now_ms) {
  WriterLock lock(this);
  return DeregisterLocked(key, address, /*ephemeral=*/true, now_ms);
}

absl::Status Registry::DeregisterOwned(const ServiceKey& key, const InstanceAddress& address,
                                       std::string_view owner, int64_t now_ms) {
  WriterLock lock(this);
  return DeregisterLocked(key, address, /*ephemeral=*/true, now_ms, owner);
}

absl::Status Registry::UpdateEphemeral(const ServiceKey& key, const InstanceAddress& address,
                                       const InstancePatch& patch, int64_t) {
  WriterLock lock(this);
  return UpdateLocked(key, address, /*ephemeral=*/true, patch, /*require_existing=*/true);
}

absl::StatusOr<CommandResult> Registry::BatchMetadataEphemeral(
    const ServiceKey& key, const std::vector<InstanceAddress>& targets, const Metadata& metadata,
    bool remove_keys) {
  WriterLock lock(this);
  return BatchMetadataLocked(key, /*ephemeral=*/true, targets, metadata, remove_keys);
}

BeatResult Registry::Beat(const ServiceKey& key, const InstanceAddress& address,
                          const Instance* body, int64_t now_ms) {
  WriterLock lock(this);
  BeatResult result;
  result.interval_ms = options_.heartbeat_defaults.interval_ms;
  auto it = services_.find(key);
  if (it != services_.end()) {
    Slot* slot = it->second.instances.Find(address);
    if (slot != nullptr && slot->instance->ephemeral) {
      Slot& s = *slot;
      s.last_beat_ms = now_ms;
      result.found = true;
      result.interval_ms = BeatIntervalOf(*s.instance);
      if (!s.instance->healthy) {
        Instance revived = *s.instance;
        revived.healthy = true;
        revived.health_cause = HealthCause::kBeat;
        s.instance = std::make_shared<const Instance>(std::move(revived));
        PublishLocked(key, it->second);
        if (!s.owner.empty()) ClientChangedLocked(s.owner);
      }
      return result;
    }
  }
  if (body == nullptr) return result;
  Instance instance = *body;
  instance.ephemeral = true;
  const InstanceAddress registered = instance.address;
  const std::string owner = HttpClientId(registered);
  if (RegisterLocked(key, std::move(instance), owner, /*heartbeat_driven=*/true, now_ms).ok()) {
    result.found = true;
    result.interval_ms = BeatIntervalOf(*StateFor(key).instances.Find(registered)->instance);
  }
  return result;
}

void Registry::Tick(int64_t now_ms) {
  // Services in key order, a few at a time under the writer lock: at most kScanPerHold looked
  // at and at most kChangesPerHold changed (a change publishes a view and tells the listeners:
  // the DNS zone, pushes, health checks) per hold, so that with a million instances, or with
  // all of them expiring at once, a registration or a beat waits for one short hold, not for
  // the scan. Services added behind the scan are seen at the next tick.
  constexpr size_t kScanPerHold = 256;
  constexpr size_t kChangesPerHold = 16;
  std::shared_ptr<const ServiceKey> resume;
  for (;;) {
    StepAsideForWriters();
    const auto batch = order_.After(resume.get(), kScanPerHold);
    if (batch.empty()) return;
    absl::MutexLock lock(&mu_);
    std::vector<ServiceKey> empty_expired;
    size_t changes = 0;
    size_t done = 0;
    while (done < batch.size() && changes + empty_expired.size() < kChangesPerHold) {
      const ServiceKey& key = *batch[done++];
      auto it = services_.find(key);
      if (it != services_.end() && TickServiceLocked(key, it->second, now_ms, empty_expired)) {
        ++changes;
      }
    }
    resume = batch[done - 1];
    for (const auto& key : empty_expired) RemoveServiceLocked(key);
  }
}

void Registry::StepAsideForWriters() const {
  // Bounded, so that writers arriving without a pause cannot hold expiry off for good.
  constexpr int kMaxPauses = 20;
  for (int i = 0; i < kMaxPauses && writers_waiting_.load(std::memory_order_relaxed) > 0; ++i) {
    absl::SleepFor(absl::Microseconds(50));
  }
}

bool Registry::TickServiceLocked(const ServiceKey& key, ServiceState& state, int64_t now_ms,
                                 std::vector<ServiceKey>& empty_expired) {
  bool changed = false;
  std::vector<std::string> changed_clients;
  // A remote client's instances expire on its owner, which sends the result. The times are
  // compared first: the owner's lookup is a hash probe per instance, a scan's main cost when
  // nothing is due.
  auto expires = [&](const Slot& slot) {
    return slot.heartbeat_driven && IsLocalLocked(slot.owner);
  };
  const size_t removed = std::erase_if(state.instances.items(), [&](const Slot& slot) {
    if (now_ms - slot.last_beat_ms <= slot.delete_timeout_ms || !expires(slot)) return false;
    if (!slot.owner.empty()) {
      IndexRemoveLocked(slot.owner, key, slot.instance->address);
      changed_clients.push_back(slot.owner);
    }
    return true;
  });
  if (removed > 0) {
    instance_count_.fetch_sub(static_cast<int64_t>(removed));
    changed = true;
  }
  for (Slot& slot : state.instances.items()) {
    if (now_ms - slot.last_beat_ms > slot.timeout_ms && slot.instance->healthy && expires(slot)) {
      Instance stale = *slot.instance;
      stale.healthy = false;
      stale.health_cause = HealthCause::kBeatMissed;
      slot.instance = std::make_shared<const Instance>(std::move(stale));
      changed = true;
      if (!slot.owner.empty()) changed_clients.push_back(slot.owner);
    }
  }
  if (changed && state.instances.empty()) state.empty_since_ms = now_ms;
  if (changed) PublishLocked(key, state);
  for (const auto& client : changed_clients) ClientChangedLocked(client);
  if (state.instances.empty() && !state.meta().stored && state.empty_since_ms != 0 &&
      now_ms - state.empty_since_ms >= options_.empty_service_ttl_ms) {
    empty_expired.push_back(key);
  }
  return changed;
}

// ---------------------------------------------------------------- clients

void Registry::IndexAddLocked(const std::string& owner, ServiceState& state, const ServiceKey& key,
                              const InstanceAddress& address, bool local_if_new) {
  auto [it, created] = clients_.try_emplace(owner);
  if (created) it->second.local = local_if_new;
  auto& refs = it->second.publications;
  for (const auto& ref : refs) {
    if (ref.Is(key, address)) return;
  }
  refs.push_back(PublicationRef{state.key_ref, address});
}

void Registry::IndexRemoveLocked(const std::string& owner, const ServiceKey& key,
                                 const InstanceAddress& address) {
  auto it = clients_.find(owner);
  if (it == clients_.end()) return;
  auto& refs = it->second.publications;
  for (size_t i = 0; i < refs.size(); ++i) {
    if (!refs[i].Is(key, address)) continue;
    if (i + 1 != refs.size()) refs[i] = std::move(refs.back());
    refs.pop_back();
    break;
  }
  if (refs.empty()) clients_.erase(it);
}

bool Registry::IsLocalLocked(const std::string& owner) const {
  if (owner.empty()) return true;
  auto it = clients_.find(owner);
  return it == clients_.end() || it->second.local;
}

void Registry::ClientChangedLocked(const std::string& owner) {
  if (!client_listener_ || replacing_) return;
  // Written here through the API: this node's write, even of a client it held as a copy (a
  // request forwarded to it, or served here because the owner was unreachable).
  if (auto it = clients_.find(owner); it != clients_.end()) it->second.local = true;
  client_listener_(owner);
}

std::vector<Registry::Publication> Registry::ClientPublications(std::string_view client_id) const {
  WriterLock lock(this);
  std::vector<Publication> out;
  auto it = clients_.find(std::string(client_id));
  if (it == clients_.end()) return out;
  for (const PublicationRef& ref : it->second.publications) {
    auto service = services_.find(*ref.service);
    if (service == services_.end()) continue;
    auto* slots = const_cast<SlotList*>(&service->second.instances);
    const Slot* slot = slots->Find(ref.address);
    if (slot == nullptr) continue;
    out.push_back(Publication{*ref.service, slot->instance, slot->heartbeat_driven != 0});
  }
  std::sort(out.begin(), out.end(), [](const Publication& a, const Publication& b) {
    if (!(a.service == b.service)) return a.service < b.service;
    return a.instance->address < b.instance->address;
  });
  return out;
}

Registry::ReplaceResult Registry::ReplaceClient(const std::string& client_id,
                                                std::vector<Publication> publications,
                                                int64_t now_ms) {
  WriterLock lock(this);
  replacing_ = true;
  ReplaceResult result;
  std::vector<PublicationRef> before;
  if (auto it = clients_.find(client_id); it != clients_.end()) {
    before.assign(it->second.publications.begin(), it->second.publications.end());
    it->second.local = false;
  }
  std::vector<std::pair<ServiceKey, InstanceAddress>> kept;
  for (Publication& p : publications) {
    if (!p.instance) continue;
    Instance instance = *p.instance;
    instance.ephemeral = true;
    InstanceAddress address = instance.address;
    const uint64_t revision = revision_;
    if (!RegisterLocked(p.service, std::move(instance), client_id, p.heartbeat_driven, now_ms)
             .ok()) {
      ++result.refused;
      continue;
    }
    if (revision_ != revision) ++result.changed;
    kept.emplace_back(p.service, std::move(address));
  }
  std::sort(kept.begin(), kept.end());
  for (const PublicationRef& ref : before) {
    if (std::binary_search(kept.begin(), kept.end(), std::make_pair(*ref.service, ref.address)))
      continue;
    const uint64_t revision = revision_;
    DeregisterLocked(*ref.service, ref.address, /*ephemeral=*/true, now_ms, client_id)
        .IgnoreError();
    if (revision_ != revision) ++result.changed;
  }
  if (auto it = clients_.find(client_id); it != clients_.end()) it->second.local = false;
  replacing_ = false;
  return result;
}

void Registry::SetClientLocal(std::string_view client_id, bool local, int64_t now_ms) {
  WriterLock lock(this);
  auto it = clients_.find(std::string(client_id));
  if (it == clients_.end() || it->second.local == local) return;
  it->second.local = local;
  if (!local) return;
  for (const PublicationRef& ref : it->second.publications) {
    auto service = services_.find(*ref.service);
    if (service == services_.end()) continue;
    if (Slot* slot = service->second.instances.Find(ref.address)) slot->last_beat_ms = now_ms;
  }
}

bool Registry::IsClientLocal(std::string_view client_id) const {
  WriterLock lock(this);
  auto it = clients_.find(std::string(client_id));
  return it == clients_.end() || it->second.local;
}

std::vector<std::string> Registry::ClientIds() const {
  WriterLock lock(this);
  std::vector<std::string> ids;
  ids.reserve(clients_.size());
  for (const auto& [id, entry] : clients_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// ---------------------------------------------------------------- durable commands

absl::Status Registry::Precheck(const Command& command) const {
  WriterLock lock(this);
  return CheckLocked(command);
}

absl::Status Registry::CheckLocked(const Command& c) const {
  switch (c.type) {
    case CommandType::kRegisterInstance:
      DNSD_RETURN_IF_ERROR(ValidateServiceKey(c.service));
      DNSD_RETURN_IF_ERROR(ValidateInstance(c.instance));
      return CheckKindLocked(c.service, /*ephemeral=*/false);
    case CommandType::kCreateService: {
      DNSD_RETURN_IF_ERROR(ValidateServiceKey(c.service));
      if (services_.contains(c.service)) {
        return absl::AlreadyExistsError(
            common::StrCat("specified service ", c.service.GroupedName(), " already exists!"));
      }
      return absl::OkStatus();
    }
    case CommandType::kUpdateService:
      if (!services_.contains(c.service)) {
        return absl::NotFoundError(
            common::StrCat("service ", c.service.GroupedName(), " is not found!"));
      }
      return absl::OkStatus();
    case CommandType::kDeleteService: {
      auto it = services_.find(c.service);
      if (it == services_.end()) {
        return absl::NotFoundError(
            common::StrCat("specified service ", c.service.GroupedName(), " not exist!"));
      }
      if (!it->second.instances.empty()) {
        return absl::FailedPreconditionError(
            common::StrCat("service ", c.service.GroupedName(),
                           " is not empty, can't be delete. Please unregister instance first"));
      }
      return absl::OkStatus();
    }
    case CommandType::kUpdateCluster: {
      if (!services_.contains(c.service)) {
        return absl::NotFoundError(
            common::StrCat("service ", c.service.GroupedName(), " is not found!"));
      }
      for (const auto& [name, cluster] : c.meta.clusters) {
        DNSD_RETURN_IF_ERROR(ValidateClusterName(name));
      }
      return absl::OkStatus();
    }
    case CommandType::kDeregisterInstance:
    case CommandType::kUpdateInstance:
    case CommandType::kBatchMetadata:
    case CommandType::kSetHealth:
      return absl::OkStatus();  // validated while applying; they touch existing state only
  }
  return absl::InvalidArgumentError("unknown command");
}

absl::StatusOr<CommandResult> Registry::Apply(const Command& c) {
  WriterLock lock(this);
  DNSD_RETURN_IF_ERROR(CheckLocked(c));
  switch (c.type) {
    case CommandType::kRegisterInstance: {
      Instance instance = c.instance;
      instance.ephemeral = false;
      DNSD_RETURN_IF_ERROR(
          RegisterLocked(c.service, std::move(instance), /*owner=*/"", false, c.timestamp_ms));
      return CommandResult{};
    }
    case CommandType::kDeregisterInstance:
      DNSD_RETURN_IF_ERROR(
          DeregisterLocked(c.service, c.instance.address, /*ephemeral=*/false, c.timestamp_ms));
      return CommandResult{};
    case CommandType::kUpdateInstance:
      DNSD_RETURN_IF_ERROR(UpdateLocked(c.service, c.instance.address, /*ephemeral=*/false, c.patch,
                                        c.require_existing));
      return CommandResult{};
    case CommandType::kSetHealth: {
      InstancePatch patch;
      patch.healthy = c.healthy;
      patch.health_cause = c.health_cause;
      DNSD_RETURN_IF_ERROR(UpdateLocked(c.service, c.instance.address, /*ephemeral=*/false, patch,
                                        /*require_existing=*/true));
      return CommandResult{};
    }
    case CommandType::kBatchMetadata:
      return BatchMetadataLocked(c.service, /*ephemeral=*/false, c.targets, c.metadata,
                                 c.remove_keys);
    case CommandType::kCreateService: {
      ServiceState& state = StateFor(c.service);
      state.set_meta(c.meta);
      state.mutable_meta().stored = true;
      state.mutable_meta().created_ms = c.timestamp_ms;
      state.empty_since_ms = c.timestamp_ms;
      service_count_.fetch_add(1);
      PublishLocked(c.service, state);
      return CommandResult{};
    }
    case CommandType::kUpdateService: {
      ServiceState& state = StateFor(c.service);
      ServiceMeta meta = c.meta;
      meta.ephemeral = state.meta().ephemeral;  // the kind of a service never changes
      meta.created_ms = state.meta().created_ms;
      meta.clusters = state.meta().clusters;  // defined through the cluster API only
      meta.stored = true;
      state.set_meta(meta);
      PublishLocked(c.service, state);
      return CommandResult{};
    }
    case CommandType::kDeleteService:
      RemoveServiceLocked(c.service);
      return CommandResult{};
    case CommandType::kUpdateCluster: {
      // A defined cluster makes the service defined, as a service API write does: Nacos keeps
      // cluster definitions in the service's metadata, which then exists.
      ServiceState& state = StateFor(c.service);
      ServiceMeta& meta = state.mutable_meta();
      for (const auto& [name, cluster] : c.meta.clusters) meta.clusters[name] = cluster;
      meta.stored = true;
      PublishLocked(c.service, state);
      return CommandResult{};
    }
  }
  return absl::InvalidArgumentError("unknown command");
}

}  // namespace dnsd::registry
