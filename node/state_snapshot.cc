// Layout (version 2): "dnsdsnap", u8 version, u64 the config store's applied index, string
// registry part (Registry::DurableSnapshot), string auth part (AuthStore::Snapshot), u8 whether
// the config store follows, and if so string config part (ConfigStore::Snapshot). Version 1,
// from before auth, has no auth part and is still read.
#include "node/state_snapshot.h"

#include <optional>

#include "absl/functional/function_ref.h"
#include "common/byte_codec.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "node/durable_state.h"

namespace dnsd::node {
namespace {

constexpr std::string_view kMagic = "dnsdsnap";
constexpr uint8_t kVersion = 2;
constexpr uint8_t kVersionBeforeAuth = 1;

// Views into the snapshot being decoded, or into the strings of the one being encoded: a
// registry part is hundreds of MB at a million instances, not worth a copy.
struct Parts {
  uint64_t config_applied = 0;
  std::string_view registry;
  std::string_view auth;
  bool has_config = false;
  std::string_view config;
};

constexpr size_t kFraming = 64;  // magic, version, index, lengths, flag

// The layout, in one place. `put_registry` writes the registry part as a length-prefixed
// string (in place, when it is taken from the registry); `registry_bytes` sizes the buffer
// so that it is allocated once instead of doubling (each doubling holds both buffers).
std::string Encode(uint64_t config_applied, size_t registry_bytes,
                   absl::FunctionRef<void(common::ByteWriter&)> put_registry, std::string_view auth,
                   const std::string_view* config) {
  common::ByteWriter w;
  w.Reserve(registry_bytes + auth.size() + (config != nullptr ? config->size() : 0) + kFraming);
  for (char c : kMagic) w.PutU8(static_cast<uint8_t>(c));
  w.PutU8(kVersion);
  w.PutU64(config_applied);
  put_registry(w);
  w.PutString(auth);
  w.PutBool(config != nullptr);
  if (config != nullptr) w.PutString(*config);
  return w.Take();
}

std::string Encode(const Parts& parts) {
  return Encode(
      parts.config_applied, parts.registry.size(),
      [&](common::ByteWriter& w) { w.PutString(parts.registry); }, parts.auth,
      parts.has_config ? &parts.config : nullptr);
}

absl::StatusOr<Parts> Decode(std::string_view snapshot) {
  if (!snapshot.starts_with(kMagic)) return absl::DataLossError("not a dnsd state snapshot");
  common::ByteReader r(snapshot.substr(kMagic.size()));
  Parts parts;
  uint8_t version;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kVersion && version != kVersionBeforeAuth) {
    return absl::DataLossError("unknown state snapshot version");
  }
  DNSD_RETURN_IF_ERROR(r.GetU64(parts.config_applied));
  DNSD_RETURN_IF_ERROR(r.GetStringView(parts.registry));
  if (version >= kVersion) DNSD_RETURN_IF_ERROR(r.GetStringView(parts.auth));
  DNSD_RETURN_IF_ERROR(r.GetBool(parts.has_config));
  if (parts.has_config) DNSD_RETURN_IF_ERROR(r.GetStringView(parts.config));
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after the state snapshot");
  return parts;
}

}  // namespace

absl::StatusOr<std::string> TakeStateSnapshot(const StateMachines& machines,
                                              SnapshotConfigs configs) {
  auto encoder = CaptureStateSnapshot(machines, configs);
  if (!encoder.ok()) return encoder.status();
  return (*encoder)();
}

absl::StatusOr<StateSnapshotEncoder> CaptureStateSnapshot(const StateMachines& machines,
                                                          SnapshotConfigs configs) {
  config::ConfigStore& config_store = machines.config;
  // Everything applied so far reaches the disk before Raft drops the entries behind it: the
  // store itself is the config part of this node's snapshot.
  DNSD_RETURN_IF_ERROR(config_store.Sync());
  std::optional<std::string> config;
  if (configs == SnapshotConfigs::kCurrent) {
    auto part = config_store.Snapshot(/*with_history=*/false);
    if (!part.ok()) return part.status();
    config = *std::move(part);
  }
  const registry::Registry& registry = machines.registry;
  return StateSnapshotEncoder([&registry, config_applied = config_store.applied_index(),
                               auth = machines.auth.Snapshot(), config = std::move(config),
                               frozen = registry.CaptureDurable()]() {
    // The registry part is written in place, into a buffer sized from the last one: built
    // apart, copied in and grown by doubling, a million instances' ~65 MB part held
    // ~320 MB at the peak of each compaction.
    const size_t registry_hint = registry.last_snapshot_bytes();
    const std::string_view config_view = config ? std::string_view(*config) : "";
    return absl::StatusOr<std::string>(Encode(
        config_applied, registry_hint + registry_hint / 8,
        [&](common::ByteWriter& w) {
          const size_t at = w.BeginString();
          registry.EncodeDurableInto(*frozen, w);
          w.EndString(at);
        },
        auth, config ? &config_view : nullptr));
  });
}

absl::StatusOr<std::string> ExpandStateSnapshot(config::ConfigStore& config_store,
                                                std::string_view snapshot) {
  auto parts = Decode(snapshot);
  if (!parts.ok()) return parts.status();
  if (parts->has_config) return std::string(snapshot);
  auto config_part = config_store.Snapshot(/*with_history=*/true);
  if (!config_part.ok()) return config_part.status();
  // The store may be ahead of the snapshot's index: the receiver's store then skips the
  // config entries it already holds, while its registry applies the tail from the index.
  parts->config_applied = config_store.applied_index();
  parts->has_config = true;
  parts->config = *config_part;
  return Encode(*parts);
}

absl::Status RestoreStateSnapshot(const StateMachines& machines, std::string_view snapshot,
                                  int64_t now_ms) {
  config::ConfigStore& config_store = machines.config;
  auto parts = Decode(snapshot);
  if (!parts.ok()) return parts.status();
  if (config_store.applied_index() < parts->config_applied) {
    if (!parts->has_config) {
      return absl::DataLossError(common::StrCat(
          "this node's config store is older than its Raft snapshot (it was rebuilt or "
          "replaced): ",
          kRejoinAdvice));
    }
    DNSD_RETURN_IF_ERROR(config_store.Restore(parts->config));
  }
  DNSD_RETURN_IF_ERROR(machines.auth.Restore(parts->auth));
  return machines.registry.RestoreDurable(parts->registry, now_ms);
}

}  // namespace dnsd::node
