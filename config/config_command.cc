// Layout (version 1): u8 version, u8 type, i64 timestamp, src_ip, src_user, key (tenant,
// group, dataId), item attributes (content, type, app_name, tags, description, use, effect,
// schema, encrypted_data_key), bool has_cas, cas_md5, namespace (id, name, description).
// Strings are u32 length + bytes (common/byte_codec.h). Every field is always present; a
// kTrimHistory command adds i64 trim_before_ms and u32 trim_max_rows at the end.
#include "config/config_command.h"

#include "common/byte_codec.h"
#include "common/status_macros.h"

namespace dnsd::config {
namespace {

constexpr uint8_t kVersion = 1;

}  // namespace

std::string EncodeConfigCommand(const ConfigCommand& c) {
  common::ByteWriter w;
  w.PutU8(kVersion);
  w.PutU8(static_cast<uint8_t>(c.type));
  w.PutI64(c.timestamp_ms);
  w.PutString(c.src_ip);
  w.PutString(c.src_user);
  w.PutString(c.key.tenant);
  w.PutString(c.key.group);
  w.PutString(c.key.data_id);
  const ConfigItem& i = c.item;
  for (const std::string* s : {&i.content, &i.type, &i.app_name, &i.tags, &i.description, &i.use,
                               &i.effect, &i.schema, &i.encrypted_data_key}) {
    w.PutString(*s);
  }
  w.PutBool(c.has_cas);
  w.PutString(c.cas_md5);
  w.PutString(c.namespace_info.id);
  w.PutString(c.namespace_info.name);
  w.PutString(c.namespace_info.description);
  if (c.type == ConfigCommandType::kTrimHistory) {
    w.PutI64(c.trim_before_ms);
    w.PutU32(c.trim_max_rows);
  }
  return w.Take();
}

absl::StatusOr<ConfigCommand> DecodeConfigCommand(std::string_view bytes) {
  common::ByteReader r(bytes);
  uint8_t version, type;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kVersion) return absl::DataLossError("unknown config command version");
  DNSD_RETURN_IF_ERROR(r.GetU8(type));
  if (type < static_cast<uint8_t>(ConfigCommandType::kPublish) ||
      type > static_cast<uint8_t>(ConfigCommandType::kTrimHistory)) {
    return absl::DataLossError("unknown config command type");
  }
  ConfigCommand c;
  c.type = static_cast<ConfigCommandType>(type);
  DNSD_RETURN_IF_ERROR(r.GetI64(c.timestamp_ms));
  DNSD_RETURN_IF_ERROR(r.GetString(c.src_ip));
  DNSD_RETURN_IF_ERROR(r.GetString(c.src_user));
  DNSD_RETURN_IF_ERROR(r.GetString(c.key.tenant));
  DNSD_RETURN_IF_ERROR(r.GetString(c.key.group));
  DNSD_RETURN_IF_ERROR(r.GetString(c.key.data_id));
  ConfigItem& i = c.item;
  for (std::string* s : {&i.content, &i.type, &i.app_name, &i.tags, &i.description, &i.use,
                         &i.effect, &i.schema, &i.encrypted_data_key}) {
    DNSD_RETURN_IF_ERROR(r.GetString(*s));
  }
  DNSD_RETURN_IF_ERROR(r.GetBool(c.has_cas));
  DNSD_RETURN_IF_ERROR(r.GetString(c.cas_md5));
  DNSD_RETURN_IF_ERROR(r.GetString(c.namespace_info.id));
  DNSD_RETURN_IF_ERROR(r.GetString(c.namespace_info.name));
  DNSD_RETURN_IF_ERROR(r.GetString(c.namespace_info.description));
  if (c.type == ConfigCommandType::kTrimHistory) {
    DNSD_RETURN_IF_ERROR(r.GetI64(c.trim_before_ms));
    DNSD_RETURN_IF_ERROR(r.GetU32(c.trim_max_rows));
  }
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after config command");
  return c;
}

}  // namespace dnsd::config
