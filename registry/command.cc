// Layout (version 1): u8 version, u8 type, i64 timestamp, service key (3 strings), instance,
// patch (presence flags + values), require_existing, service meta, targets, metadata,
// remove_keys, healthy. Strings are u32 length + bytes; maps are u32
// count + key/value strings. Every field is always present so decoding needs no type table.
#include "registry/command.h"

#include "common/byte_codec.h"
#include "common/status_macros.h"

namespace dnsd::registry {
namespace {

constexpr uint8_t kVersion = 1;
constexpr uint32_t kMaxCount = 1 << 20;

using common::ByteReader;
using common::ByteWriter;

void PutMetadata(ByteWriter& w, const Metadata& m) {
  w.PutU32(static_cast<uint32_t>(m.size()));
  for (const auto& [k, v] : m) {
    w.PutString(k);
    w.PutString(v);
  }
}

void PutAddress(ByteWriter& w, const InstanceAddress& a) {
  w.PutString(a.ip);
  w.PutU32(static_cast<uint32_t>(a.port));
  w.PutString(a.cluster);
}

absl::Status GetMetadata(ByteReader& r, Metadata& m) {
  uint32_t n;
  DNSD_RETURN_IF_ERROR(r.GetU32(n));
  if (n > kMaxCount) return absl::DataLossError("metadata count too large");
  for (uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    DNSD_RETURN_IF_ERROR(r.GetString(k));
    DNSD_RETURN_IF_ERROR(r.GetString(v));
    m.emplace(std::move(k), std::move(v));
  }
  return absl::OkStatus();
}

absl::Status GetAddress(ByteReader& r, InstanceAddress& a) {
  uint32_t port;
  DNSD_RETURN_IF_ERROR(r.GetString(a.ip));
  DNSD_RETURN_IF_ERROR(r.GetU32(port));
  a.port = static_cast<int>(port);
  return r.GetString(a.cluster);
}

template <typename T, typename PutFn>
void PutOptional(ByteWriter& w, const std::optional<T>& v, PutFn put) {
  w.PutBool(v.has_value());
  if (v) put(*v);
}

}  // namespace

std::string EncodeCommand(const Command& c) {
  ByteWriter w;
  w.PutU8(kVersion);
  w.PutU8(static_cast<uint8_t>(c.type));
  w.PutI64(c.timestamp_ms);
  w.PutString(c.service.namespace_id);
  w.PutString(c.service.group);
  w.PutString(c.service.name);
  PutAddress(w, c.instance.address);
  w.PutString(c.instance.instance_id);
  w.PutDouble(c.instance.weight);
  w.PutBool(c.instance.healthy);
  w.PutBool(c.instance.enabled);
  w.PutBool(c.instance.ephemeral);
  PutMetadata(w, c.instance.metadata);
  PutOptional(w, c.patch.weight, [&](double v) { w.PutDouble(v); });
  PutOptional(w, c.patch.enabled, [&](bool v) { w.PutBool(v); });
  PutOptional(w, c.patch.healthy, [&](bool v) { w.PutBool(v); });
  PutOptional(w, c.patch.metadata, [&](const Metadata& v) { PutMetadata(w, v); });
  w.PutBool(c.require_existing);
  w.PutDouble(c.meta.protect_threshold);
  PutMetadata(w, c.meta.metadata);
  w.PutString(c.meta.selector_json);
  w.PutBool(c.meta.ephemeral);
  w.PutBool(c.meta.stored);
  w.PutI64(c.meta.created_ms);
  w.PutU32(static_cast<uint32_t>(c.targets.size()));
  for (const auto& t : c.targets) PutAddress(w, t);
  PutMetadata(w, c.metadata);
  w.PutBool(c.remove_keys);
  w.PutBool(c.healthy);
  return w.Take();
}

absl::StatusOr<Command> DecodeCommand(std::string_view bytes) {
  ByteReader r(bytes);
  Command c;
  uint8_t version, type;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kVersion) return absl::DataLossError("unknown naming command version");
  DNSD_RETURN_IF_ERROR(r.GetU8(type));
  if (type < 1 || type > static_cast<uint8_t>(CommandType::kSetHealth)) {
    return absl::DataLossError("unknown naming command type");
  }
  c.type = static_cast<CommandType>(type);
  DNSD_RETURN_IF_ERROR(r.GetI64(c.timestamp_ms));
  DNSD_RETURN_IF_ERROR(r.GetString(c.service.namespace_id));
  DNSD_RETURN_IF_ERROR(r.GetString(c.service.group));
  DNSD_RETURN_IF_ERROR(r.GetString(c.service.name));
  DNSD_RETURN_IF_ERROR(GetAddress(r, c.instance.address));
  DNSD_RETURN_IF_ERROR(r.GetString(c.instance.instance_id));
  DNSD_RETURN_IF_ERROR(r.GetDouble(c.instance.weight));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.instance.healthy));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.instance.enabled));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.instance.ephemeral));
  DNSD_RETURN_IF_ERROR(GetMetadata(r, c.instance.metadata));
  bool present;
  DNSD_RETURN_IF_ERROR(r.GetBool(present));
  if (present) DNSD_RETURN_IF_ERROR(r.GetDouble(c.patch.weight.emplace()));
  DNSD_RETURN_IF_ERROR(r.GetBool(present));
  if (present) DNSD_RETURN_IF_ERROR(r.GetBool(c.patch.enabled.emplace()));
  DNSD_RETURN_IF_ERROR(r.GetBool(present));
  if (present) DNSD_RETURN_IF_ERROR(r.GetBool(c.patch.healthy.emplace()));
  DNSD_RETURN_IF_ERROR(r.GetBool(present));
  if (present) DNSD_RETURN_IF_ERROR(GetMetadata(r, c.patch.metadata.emplace()));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.require_existing));
  DNSD_RETURN_IF_ERROR(r.GetDouble(c.meta.protect_threshold));
  DNSD_RETURN_IF_ERROR(GetMetadata(r, c.meta.metadata));
  DNSD_RETURN_IF_ERROR(r.GetString(c.meta.selector_json));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.meta.ephemeral));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.meta.stored));
  DNSD_RETURN_IF_ERROR(r.GetI64(c.meta.created_ms));
  uint32_t targets;
  DNSD_RETURN_IF_ERROR(r.GetU32(targets));
  if (targets > kMaxCount) return absl::DataLossError("target count too large");
  c.targets.resize(targets);
  for (auto& t : c.targets) DNSD_RETURN_IF_ERROR(GetAddress(r, t));
  DNSD_RETURN_IF_ERROR(GetMetadata(r, c.metadata));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.remove_keys));
  DNSD_RETURN_IF_ERROR(r.GetBool(c.healthy));
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after naming command");
  return c;
}

}  // namespace dnsd::registry
