// Layout (version 1): u8 version, u8 type, i64 timestamp, service key (3 strings), instance,
// patch (presence flags + values), require_existing, service meta, targets, metadata,
// remove_keys, healthy. Strings are u32 length + bytes; maps are u32
// count + key/value strings. Every field is always present so decoding needs no type table.
// Version 2 appends: the instance's health cause (u8), the command's health cause (u8), and
// the meta's clusters (u32 count, then each: name, checker type u8, path, headers, expected
// code u32, check port u32, use_instance_port, metadata). Version 1 entries still decode
// (written before clusters existed: no clusters, causes as registered/manual).
#include "registry/command.h"

#include "common/byte_codec.h"
#include "common/status_macros.h"

namespace dnsd::registry {
namespace {

constexpr uint8_t kVersion = 2;
constexpr uint8_t kVersionWithoutClusters = 1;
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

absl::Status GetAtom(ByteReader& r, common::Atom& atom) {
  std::string text;
  DNSD_RETURN_IF_ERROR(r.GetString(text));
  atom = text;
  return absl::OkStatus();
}

absl::Status GetAddress(ByteReader& r, InstanceAddress& a) {
  uint32_t port;
  DNSD_RETURN_IF_ERROR(r.GetString(a.ip));
  DNSD_RETURN_IF_ERROR(r.GetU32(port));
  a.port = static_cast<int>(port);
  return GetAtom(r, a.cluster);
}

void PutClusters(ByteWriter& w, const std::map<std::string, ClusterMeta>& clusters) {
  w.PutU32(static_cast<uint32_t>(clusters.size()));
  for (const auto& [name, c] : clusters) {
    w.PutString(name);
    w.PutU8(static_cast<uint8_t>(c.checker.type));
    w.PutString(c.checker.path);
    w.PutString(c.checker.headers);
    w.PutU32(static_cast<uint32_t>(c.checker.expected_code));
    w.PutU32(static_cast<uint32_t>(c.check_port));
    w.PutBool(c.use_instance_port);
    PutMetadata(w, c.metadata);
  }
}

absl::Status GetCause(ByteReader& r, HealthCause& cause) {
  uint8_t value;
  DNSD_RETURN_IF_ERROR(r.GetU8(value));
  if (value > kMaxHealthCause) return absl::DataLossError("unknown health cause");
  cause = static_cast<HealthCause>(value);
  return absl::OkStatus();
}

absl::Status GetClusters(ByteReader& r, std::map<std::string, ClusterMeta>& clusters) {
  uint32_t n;
  DNSD_RETURN_IF_ERROR(r.GetU32(n));
  if (n > kMaxCount) return absl::DataLossError("cluster count too large");
  for (uint32_t i = 0; i < n; ++i) {
    std::string name;
    ClusterMeta c;
    uint8_t type;
    uint32_t code, port;
    DNSD_RETURN_IF_ERROR(r.GetString(name));
    DNSD_RETURN_IF_ERROR(r.GetU8(type));
    if (type > static_cast<uint8_t>(HealthCheckType::kNone)) {
      return absl::DataLossError("unknown health check type");
    }
    c.checker.type = static_cast<HealthCheckType>(type);
    DNSD_RETURN_IF_ERROR(r.GetString(c.checker.path));
    DNSD_RETURN_IF_ERROR(r.GetString(c.checker.headers));
    DNSD_RETURN_IF_ERROR(r.GetU32(code));
    DNSD_RETURN_IF_ERROR(r.GetU32(port));
    c.checker.expected_code = static_cast<int>(code);
    c.check_port = static_cast<int>(port);
    DNSD_RETURN_IF_ERROR(r.GetBool(c.use_instance_port));
    DNSD_RETURN_IF_ERROR(GetMetadata(r, c.metadata));
    clusters.emplace(std::move(name), std::move(c));
  }
  return absl::OkStatus();
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
  w.PutU8(static_cast<uint8_t>(c.instance.health_cause));
  w.PutU8(static_cast<uint8_t>(c.health_cause));
  PutClusters(w, c.meta.clusters);
  return w.Take();
}

void PutInstanceRecord(ByteWriter& w, const Instance& instance) {
  PutAddress(w, instance.address);
  w.PutString(instance.instance_id);
  w.PutDouble(instance.weight);
  w.PutBool(instance.healthy);
  w.PutBool(instance.enabled);
  w.PutU8(static_cast<uint8_t>(instance.health_cause));
  PutMetadata(w, instance.metadata);
}

absl::Status GetInstanceRecord(ByteReader& r, Instance& instance) {
  DNSD_RETURN_IF_ERROR(GetAddress(r, instance.address));
  DNSD_RETURN_IF_ERROR(GetAtom(r, instance.instance_id));
  DNSD_RETURN_IF_ERROR(r.GetDouble(instance.weight));
  DNSD_RETURN_IF_ERROR(r.GetBool(instance.healthy));
  DNSD_RETURN_IF_ERROR(r.GetBool(instance.enabled));
  DNSD_RETURN_IF_ERROR(GetCause(r, instance.health_cause));
  instance.ephemeral = false;
  instance.metadata.clear();
  return GetMetadata(r, instance.metadata);
}

absl::StatusOr<Command> DecodeCommand(std::string_view bytes) {
  ByteReader r(bytes);
  Command c;
  uint8_t version, type;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kVersion && version != kVersionWithoutClusters) {
    return absl::DataLossError("unknown naming command version");
  }
  DNSD_RETURN_IF_ERROR(r.GetU8(type));
  if (type < 1 || type > static_cast<uint8_t>(CommandType::kUpdateCluster)) {
    return absl::DataLossError("unknown naming command type");
  }
  c.type = static_cast<CommandType>(type);
  DNSD_RETURN_IF_ERROR(r.GetI64(c.timestamp_ms));
  DNSD_RETURN_IF_ERROR(r.GetString(c.service.namespace_id));
  DNSD_RETURN_IF_ERROR(r.GetString(c.service.group));
  DNSD_RETURN_IF_ERROR(r.GetString(c.service.name));
  DNSD_RETURN_IF_ERROR(GetAddress(r, c.instance.address));
  DNSD_RETURN_IF_ERROR(GetAtom(r, c.instance.instance_id));
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
  if (version == kVersionWithoutClusters) {
    c.health_cause = HealthCause::kManual;
  } else {
    DNSD_RETURN_IF_ERROR(GetCause(r, c.instance.health_cause));
    DNSD_RETURN_IF_ERROR(GetCause(r, c.health_cause));
    DNSD_RETURN_IF_ERROR(GetClusters(r, c.meta.clusters));
  }
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after naming command");
  return c;
}

}  // namespace dnsd::registry
