// The Nacos config data model: namespace (tenant) -> group -> dataId -> one config, plus the
// history rows every change leaves behind, and the namespaces that naming shares.
//
// Tenants are stored normalised: every spelling of the default namespace ("", "public" in
// any case) becomes "" (Nacos 2.x's config default), and the namespace table keys the
// default as "public" (naming's default). DefaultNamespaceId/TenantOfNamespace convert.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace dnsd::config {

inline constexpr std::string_view kDefaultGroup = "DEFAULT_GROUP";
inline constexpr std::string_view kDefaultNamespaceId = "public";
inline constexpr size_t kMaxTenantLength = 128;
inline constexpr size_t kMaxKeyPartLength = 256;

struct ConfigKey {
  std::string tenant;  // normalised: "" is the default namespace
  std::string group;
  std::string data_id;

  friend bool operator==(const ConfigKey&, const ConfigKey&) = default;
  friend auto operator<=>(const ConfigKey&, const ConfigKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ConfigKey& k) {
    return H::combine(std::move(h), k.tenant, k.group, k.data_id);
  }
  // Nacos's groupKey: dataId+group[+tenant], '+' and '%' escaped inside each part.
  std::string GroupKey() const;
};

// One config as stored. `id` is assigned at first insert and kept across updates.
struct ConfigItem {
  int64_t id = 0;
  ConfigKey key;
  std::string content;
  std::string md5;
  std::string type = "text";
  std::string app_name;
  std::string tags;  // config_tags, comma separated as given
  std::string description;
  std::string use;
  std::string effect;
  std::string schema;
  std::string encrypted_data_key;
  std::string create_user;
  std::string create_ip;
  std::string src_user;  // last writer
  std::string src_ip;
  int64_t create_time_ms = 0;
  int64_t modify_time_ms = 0;
};

// A history row. As in Nacos, an insert records the new content, an update records the
// content it replaced, and a delete records the content it removed; the row's time is the
// time of the operation.
struct HistoryEntry {
  int64_t id = 0;  // "nid": increases with every change in the whole store
  int64_t config_id = 0;
  ConfigKey key;
  std::string app_name;
  std::string content;
  std::string md5;
  std::string src_ip;
  std::string src_user;
  char op_type = 'I';  // 'I' insert, 'U' update, 'D' delete
  std::string encrypted_data_key;
  int64_t created_time_ms = 0;
  int64_t modified_time_ms = 0;
};

struct NamespaceInfo {
  std::string id;  // "public" for the default namespace
  std::string name;
  std::string description;
  friend bool operator==(const NamespaceInfo&, const NamespaceInfo&) = default;
};

// "" for blank and any spelling of "public"; otherwise the trimmed value.
std::string NormalizeTenant(std::string_view tenant);
// The namespace-table id of a normalised tenant, and back.
std::string NamespaceIdOfTenant(std::string_view tenant);
std::string TenantOfNamespaceId(std::string_view namespace_id);

// The key a client names: parts trimmed, a blank group is DEFAULT_GROUP, the tenant
// normalised. Not validated: see ValidateKey.
ConfigKey MakeConfigKey(std::string_view data_id, std::string_view group, std::string_view tenant);
// ValidateKeyPart for dataId and group, ValidateTenant for the tenant; the message names the
// part that is wrong.
absl::Status ValidateKey(const ConfigKey& key);
// Content must not be blank (as Nacos requires) and at most max_bytes long.
absl::Status ValidateContent(std::string_view content, int64_t max_bytes);

// dataId / group: letters, digits and "_-.:", non-empty, at most kMaxKeyPartLength.
absl::Status ValidateKeyPart(std::string_view field, std::string_view value);
// tenant: at most kMaxTenantLength of the same characters.
absl::Status ValidateTenant(std::string_view tenant);
// Config types Nacos knows; anything else is stored as "text".
std::string NormalizeConfigType(std::string_view type);

}  // namespace dnsd::config
