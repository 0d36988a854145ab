#include "config/config_model.h"

#include "common/strings.h"

namespace dnsd::config {
namespace {

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

void AppendEscaped(std::string& out, std::string_view part) {
  for (char c : part) {
    if (c == '+') {
      out += "%2B";
    } else if (c == '%') {
      out += "%25";
    } else {
      out += c;
    }
  }
}

}  // namespace

std::string ConfigKey::GroupKey() const {
  std::string out;
  out.reserve(data_id.size() + group.size() + tenant.size() + 2);
  AppendEscaped(out, data_id);
  out += '+';
  AppendEscaped(out, group);
  if (!tenant.empty()) {
    out += '+';
    AppendEscaped(out, tenant);
  }
  return out;
}

std::string NormalizeTenant(std::string_view tenant) {
  tenant = common::Trim(tenant);
  if (tenant.empty() || common::EqualsIgnoreCase(tenant, kDefaultNamespaceId)) return "";
  return std::string(tenant);
}

std::string NamespaceIdOfTenant(std::string_view tenant) {
  return tenant.empty() ? std::string(kDefaultNamespaceId) : std::string(tenant);
}

std::string TenantOfNamespaceId(std::string_view namespace_id) {
  return NormalizeTenant(namespace_id);
}

absl::Status ValidateKeyPart(std::string_view field, std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(common::StrCat(field, " is empty"));
  if (value.size() > kMaxKeyPartLength) {
    return absl::InvalidArgumentError(
        common::StrCat(field, " is longer than ", kMaxKeyPartLength, " characters"));
  }
  for (char c : value) {
    if (!IsKeyChar(c)) {
      return absl::InvalidArgumentError(
          common::StrCat(field, " '", value, "' may only contain letters, digits and _-.:"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateTenant(std::string_view tenant) {
  if (tenant.size() > kMaxTenantLength) {
    return absl::InvalidArgumentError(
        common::StrCat("tenant is longer than ", kMaxTenantLength, " characters"));
  }
  for (char c : tenant) {
    if (!IsKeyChar(c)) {
      return absl::InvalidArgumentError(
          common::StrCat("tenant '", tenant, "' may only contain letters, digits and _-.:"));
    }
  }
  return absl::OkStatus();
}

ConfigKey MakeConfigKey(std::string_view data_id, std::string_view group, std::string_view tenant) {
  ConfigKey key;
  key.data_id = std::string(common::Trim(data_id));
  key.group = std::string(common::Trim(group));
  if (key.group.empty()) key.group = std::string(kDefaultGroup);
  key.tenant = NormalizeTenant(tenant);
  return key;
}

absl::Status ValidateKey(const ConfigKey& key) {
  if (auto s = ValidateKeyPart("dataId", key.data_id); !s.ok()) return s;
  if (auto s = ValidateKeyPart("group", key.group); !s.ok()) return s;
  return ValidateTenant(key.tenant);
}

absl::Status ValidateContent(std::string_view content, int64_t max_bytes) {
  if (common::Trim(content).empty()) return absl::InvalidArgumentError("content is blank");
  if (static_cast<int64_t>(content.size()) > max_bytes) {
    return absl::InvalidArgumentError(common::StrCat(
        "content is ", content.size(), " bytes, over the limit of ", max_bytes, " bytes"));
  }
  return absl::OkStatus();
}

std::string NormalizeConfigType(std::string_view type) {
  static constexpr std::string_view kKnown[] = {"properties", "xml",  "json", "text",
                                                "html",       "yaml", "toml", "unset"};
  const std::string lower = common::ToLower(common::Trim(type));
  for (auto known : kKnown) {
    if (lower == known) return lower;
  }
  return "text";
}

}  // namespace dnsd::config
