// Layout (version 1): "dnsdsnap", u8 version, u64 the config store's applied index, string
// registry part (Registry::DurableSnapshot), string config part (ConfigStore::Snapshot).
#include "node/state_snapshot.h"

#include "common/byte_codec.h"
#include "common/status_macros.h"

namespace dnsd::node {
namespace {

constexpr std::string_view kMagic = "dnsdsnap";
constexpr uint8_t kVersion = 1;

}  // namespace

absl::StatusOr<std::string> TakeStateSnapshot(const registry::Registry& registry,
                                              config::ConfigStore& config_store) {
  // Everything applied so far reaches the disk before Raft drops the entries behind it.
  DNSD_RETURN_IF_ERROR(config_store.Sync());
  auto config_part = config_store.Snapshot();
  if (!config_part.ok()) return config_part.status();
  common::ByteWriter w;
  for (char c : kMagic) w.PutU8(static_cast<uint8_t>(c));
  w.PutU8(kVersion);
  w.PutU64(config_store.applied_index());
  w.PutString(registry.DurableSnapshot());
  w.PutString(*config_part);
  return w.Take();
}

absl::Status RestoreStateSnapshot(registry::Registry& registry, config::ConfigStore& config_store,
                                  std::string_view snapshot, int64_t now_ms) {
  if (!snapshot.starts_with(kMagic)) return absl::DataLossError("not a dnsd state snapshot");
  common::ByteReader r(snapshot.substr(kMagic.size()));
  uint8_t version;
  uint64_t config_applied;
  std::string registry_part, config_part;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kVersion) return absl::DataLossError("unknown state snapshot version");
  DNSD_RETURN_IF_ERROR(r.GetU64(config_applied));
  DNSD_RETURN_IF_ERROR(r.GetString(registry_part));
  DNSD_RETURN_IF_ERROR(r.GetString(config_part));
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after the state snapshot");
  if (config_store.applied_index() < config_applied) {
    DNSD_RETURN_IF_ERROR(config_store.Restore(config_part));
  }
  return registry.RestoreDurable(registry_part, now_ms);
}

}  // namespace dnsd::node
