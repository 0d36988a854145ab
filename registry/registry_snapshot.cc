// The registry's durable part as a snapshot for Raft log compaction: every service that is
// durable (defined through the service API, or of the persistent kind) with its definition,
// and every persistent instance. Ephemeral instances are not in it: they belong to their
// clients and live in memory only.
//
// Layout (version 2): u8 version, u32 service count, then per service a string holding an
// encoded kCreateService Command (registry/command.h: the key and the whole meta, stored flag
// and creation time included), u32 instance count and that many instance records
// (PutInstanceRecord). Version 1, still read: u32 record count, then each record a string
// holding a Command, kCreateService or kRegisterInstance; every instance repeated its service's
// key and every field of every command kind, ~310 bytes an instance against ~60 now, which a
// restart at a million instances read, decompressed and decoded.
#include <algorithm>
#include <optional>
#include <tuple>

#include "absl/container/flat_hash_set.h"
#include "common/byte_codec.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "registry/registry.h"

namespace dnsd::registry {
namespace {

constexpr uint8_t kSnapshotVersion = 2;
constexpr uint8_t kCommandRecordsVersion = 1;

bool IsDurableService(const ServiceMeta& meta) { return meta.stored || !meta.ephemeral; }

}  // namespace

std::string Registry::DurableSnapshot() const {
  common::ByteWriter w;
  DurableSnapshotInto(w);
  return w.Take();
}

void Registry::DurableSnapshotInto(common::ByteWriter& w) const {
  EncodeDurableInto(*CaptureDurable(), w);
}

struct Registry::DurableCapture {
  struct Service {
    std::shared_ptr<const ServiceKey> key;
    std::shared_ptr<const ServiceMeta> meta;
    int64_t empty_since_ms = 0;
    size_t first = 0;  // its persistent instances: persistent[first, end)
    size_t end = 0;
  };
  std::vector<Service> services;  // in key order
  std::vector<std::shared_ptr<const Instance>> persistent;
};

std::shared_ptr<const Registry::DurableCapture> Registry::CaptureDurable() const {
  // Only pointers are collected under the writer lock: encoding a million instances under it
  // kept every writer, ephemeral registrations and beats included, waiting for it.
  auto capture = std::make_shared<DurableCapture>();
  {
    WriterLock lock(this);
    capture->persistent.reserve(last_snapshot_instances_);
    for (const auto& [key, state] : services_) {
      if (!IsDurableService(state.meta())) continue;
      DurableCapture::Service& service = capture->services.emplace_back();
      service.key = key;
      service.meta = state.meta_;
      service.empty_since_ms = state.empty_since_ms;
      service.first = capture->persistent.size();
      for (const Slot& slot : state.instances.items()) {
        if (!slot.instance->ephemeral) capture->persistent.push_back(slot.instance);
      }
      service.end = capture->persistent.size();
    }
    last_snapshot_instances_ = capture->persistent.size();
  }
  // In key order, so that replicas with the same state write the same bytes.
  std::sort(capture->services.begin(), capture->services.end(), [](const auto& a, const auto& b) {
    return std::tie(a.key->namespace_id, a.key->group, a.key->name) <
           std::tie(b.key->namespace_id, b.key->group, b.key->name);
  });
  return capture;
}

void Registry::EncodeDurableInto(const DurableCapture& capture, common::ByteWriter& w) const {
  const size_t start = w.size();
  w.PutU8(kSnapshotVersion);
  w.PutU32(static_cast<uint32_t>(capture.services.size()));
  for (const DurableCapture::Service& entry : capture.services) {
    Command service;
    service.type = CommandType::kCreateService;
    service.service = *entry.key;
    service.meta = *entry.meta;
    service.timestamp_ms = entry.empty_since_ms;
    w.PutString(EncodeCommand(service));
    w.PutU32(static_cast<uint32_t>(entry.end - entry.first));
    for (size_t i = entry.first; i < entry.end; ++i) PutInstanceRecord(w, *capture.persistent[i]);
  }
  last_snapshot_bytes_.store(w.size() - start);
}

absl::Status Registry::RestoreDurable(std::string_view snapshot, int64_t now_ms) {
  // Two passes over the bytes: the first decodes and checks every record before anything
  // changes, the second decodes again and applies. Holding every decoded command between the
  // two instead cost ~1.8 KB per instance at the peak (a Command carries every field of every
  // kind), 177 MB at 100,000 instances, which the heap kept afterwards.
  // Hands `fn` every record as a command: a service's, then each of its instances'.
  auto for_each_record = [&](auto&& fn) -> absl::Status {
    common::ByteReader r(snapshot);
    uint8_t version;
    uint32_t count;
    DNSD_RETURN_IF_ERROR(r.GetU8(version));
    if (version != kSnapshotVersion && version != kCommandRecordsVersion) {
      return absl::DataLossError("unknown registry snapshot version");
    }
    DNSD_RETURN_IF_ERROR(r.GetU32(count));
    std::string_view bytes;
    Command instance;  // reused: a Command is large, and most records are instances
    instance.type = CommandType::kRegisterInstance;
    for (uint32_t i = 0; i < count; ++i) {
      DNSD_RETURN_IF_ERROR(r.GetStringView(bytes));
      auto command = DecodeCommand(bytes);
      if (!command.ok()) return command.status();
      if (version == kCommandRecordsVersion) {
        DNSD_RETURN_IF_ERROR(fn(*command));
        continue;
      }
      if (command->type != CommandType::kCreateService) {
        return absl::DataLossError("a registry snapshot service record is not a service");
      }
      DNSD_RETURN_IF_ERROR(fn(*command));
      uint32_t instances;
      DNSD_RETURN_IF_ERROR(r.GetU32(instances));
      instance.service = command->service;
      for (uint32_t j = 0; j < instances; ++j) {
        DNSD_RETURN_IF_ERROR(GetInstanceRecord(r, instance.instance));
        DNSD_RETURN_IF_ERROR(fn(instance));
      }
    }
    if (!r.AtEnd()) return absl::DataLossError("trailing bytes after the registry snapshot");
    return absl::OkStatus();
  };
  absl::flat_hash_set<ServiceKey> in_snapshot;
  std::optional<ServiceKey> last_service;
  DNSD_RETURN_IF_ERROR(for_each_record([&](const Command& command) -> absl::Status {
    const bool is_service = command.type == CommandType::kCreateService;
    const bool is_instance =
        command.type == CommandType::kRegisterInstance && !command.instance.ephemeral;
    if (!is_service && !is_instance) {
      return absl::DataLossError(
          "a registry snapshot record is neither a service nor a "
          "persistent instance");
    }
    if (is_instance && !(last_service && *last_service == command.service)) {
      return absl::DataLossError("a registry snapshot instance is not under its service");
    }
    if (!last_service || !(*last_service == command.service)) {
      last_service = command.service;
      in_snapshot.insert(command.service);
    }
    return absl::OkStatus();
  }));

  WriterLock lock(this);
  services_.reserve(services_.size() + in_snapshot.size());
  // The index changes in one batch (each part copied once, not once per service); listeners
  // hear of every service after it, in order.
  std::vector<std::pair<ServiceKey, std::shared_ptr<const ServiceView>>> changed;
  index_.BeginBatch();
  deferred_ = &changed;
  // Forget the durable state this node had; ephemeral instances stay.
  absl::flat_hash_set<ServiceKey> touched = in_snapshot;
  for (auto& [key, state] : services_) {
    if (!IsDurableService(state.meta())) continue;
    touched.insert(*key);
    auto& items = state.instances.items();
    const size_t before = items.size();
    std::erase_if(items, [](const Slot& slot) { return !slot.instance->ephemeral; });
    instance_count_.fetch_sub(static_cast<int64_t>(before - items.size()));
    state.meta_ = DefaultMeta(state.meta().ephemeral);
  }
  // Checked above: a failure now could only be the bytes changing under us.
  const absl::Status applied = for_each_record([&](Command& c) -> absl::Status {
    bool created = false;
    ServiceState& state = StateFor(c.service, &created);
    if (created) service_count_.fetch_add(1);
    if (c.type == CommandType::kCreateService) {
      state.set_meta(c.meta);
      state.empty_since_ms = c.timestamp_ms;
      return absl::OkStatus();
    }
    auto [slot, inserted] = state.instances.FindOrInsert(c.instance.address);
    if (inserted) instance_count_.fetch_add(1);
    slot->owner.clear();
    slot->heartbeat_driven = 0;
    HeartbeatPolicy policy = options_.heartbeat_defaults;
    ParseHeartbeatPolicy(c.instance.metadata, options_.heartbeat_defaults, policy).IgnoreError();
    slot->SetPolicy(policy);
    slot->last_beat_ms = now_ms;
    slot->instance = std::make_shared<const Instance>(std::move(c.instance));
    state.empty_since_ms = 0;
    return absl::OkStatus();
  });
  for (const ServiceKey& key : touched) {
    auto it = services_.find(key);
    if (it == services_.end()) continue;
    // A durable service the snapshot does not know, with nothing left in it, is gone.
    if (!in_snapshot.contains(key) && it->second.instances.empty()) {
      RemoveServiceLocked(key);
    } else {
      PublishLocked(key, it->second);
    }
  }
  index_.EndBatch();
  deferred_ = nullptr;
  // The next snapshot holds about as much: its buffer is sized from this one.
  last_snapshot_bytes_.store(snapshot.size());
  for (const auto& [key, view] : changed) {
    for (const auto& listener : listeners_) listener(key, view);
  }
  return applied;
}

}  // namespace dnsd::registry
