#include "dnsd/daemon_config.h"

#include <toml++/toml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "common/strings.h"

namespace dnsd {
namespace {

using Setter =
    std::function<absl::Status(const toml::node&, const std::string& key, DaemonConfig&)>;

Setter String(std::string DaemonConfig::*field) {
  return [field](const toml::node& node, const std::string& key, DaemonConfig& c) {
    const auto v = node.value<std::string>();
    if (!node.is_string() || !v)
      return absl::InvalidArgumentError(common::StrCat(key, " must be a string"));
    c.*field = *v;
    return absl::OkStatus();
  };
}

template <typename T>
Setter Integer(T DaemonConfig::*field, int64_t min, int64_t max) {
  return [=](const toml::node& node, const std::string& key, DaemonConfig& c) {
    if (!node.is_integer())
      return absl::InvalidArgumentError(common::StrCat(key, " must be an integer"));
    const int64_t v = *node.value<int64_t>();
    if (v < min || v > max) {
      return absl::InvalidArgumentError(
          common::StrCat(key, " = ", v, " is out of range [", min, ", ", max, "]"));
    }
    c.*field = static_cast<T>(v);
    return absl::OkStatus();
  };
}

const std::map<std::string, std::map<std::string, Setter>>& Schema() {
  static const auto* schema = new std::map<std::string, std::map<std::string, Setter>>{
      {"server",
       {{"data_dir", String(&DaemonConfig::data_dir)},
        {"log_level", String(&DaemonConfig::log_level)},
        {"advertise_ip", String(&DaemonConfig::advertise_ip)}}},
      {"http",
       {{"address", String(&DaemonConfig::http_address)},
        {"port", Integer(&DaemonConfig::http_port, 0, 65535)},
        {"threads", Integer(&DaemonConfig::http_threads, 0, 256)},
        {"max_body_bytes", Integer(&DaemonConfig::http_max_body_bytes, 1024, int64_t{1} << 30)}}},
      {"naming",
       {{"heartbeat_interval_ms", Integer(&DaemonConfig::heartbeat_interval_ms, 100, 3'600'000)},
        {"heartbeat_timeout_ms", Integer(&DaemonConfig::heartbeat_timeout_ms, 100, 3'600'000)},
        {"ip_delete_timeout_ms", Integer(&DaemonConfig::ip_delete_timeout_ms, 100, 3'600'000)},
        {"empty_service_ttl_ms", Integer(&DaemonConfig::empty_service_ttl_ms, 0, 86'400'000)},
        {"expiry_check_interval_ms",
         Integer(&DaemonConfig::expiry_check_interval_ms, 10, 60'000)}}},
  };
  return *schema;
}

}  // namespace

absl::Status ApplyConfigToml(std::string_view text, std::string_view file_name,
                             DaemonConfig& config) {
  toml::table root;
  try {
    root = toml::parse(text, file_name);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return absl::InvalidArgumentError(
        common::StrCat(file_name, ":", where.line, ":", where.column, ": ", e.description()));
  }
  const auto& schema = Schema();
  for (const auto& [section_key, section_node] : root) {
    const std::string section(section_key.str());
    auto section_schema = schema.find(section);
    if (section_schema == schema.end()) {
      return absl::InvalidArgumentError(
          common::StrCat(file_name, ": unknown section [", section, "]"));
    }
    const toml::table* table = section_node.as_table();
    if (table == nullptr) {
      return absl::InvalidArgumentError(
          common::StrCat(file_name, ": ", section, " must be a table"));
    }
    for (const auto& [key, node] : *table) {
      const std::string full = common::StrCat(section, ".", key.str());
      auto setter = section_schema->second.find(std::string(key.str()));
      if (setter == section_schema->second.end()) {
        return absl::InvalidArgumentError(
            common::StrCat(file_name, ":", node.source().begin.line, ": unknown key '", full, "'"));
      }
      if (auto s = setter->second(node, full, config); !s.ok()) {
        return absl::InvalidArgumentError(
            common::StrCat(file_name, ":", node.source().begin.line, ": ", s.message()));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LoadConfigFile(const std::string& path, DaemonConfig& config) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(common::StrCat("cannot read config file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return ApplyConfigToml(text.str(), path, config);
}

absl::Status ValidateConfig(const DaemonConfig& c) {
  if (c.heartbeat_timeout_ms < c.heartbeat_interval_ms ||
      c.ip_delete_timeout_ms < c.heartbeat_interval_ms) {
    return absl::InvalidArgumentError(
        "naming.heartbeat_timeout_ms and naming.ip_delete_timeout_ms must not be shorter than "
        "naming.heartbeat_interval_ms");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("server.data_dir must not be empty");
  return absl::OkStatus();
}

}  // namespace dnsd
