#include "dnsd/daemon_config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "common/crypto.h"
#include "common/files.h"
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

Setter Bool(bool DaemonConfig::*field) {
  return [field](const toml::node& node, const std::string& key, DaemonConfig& c) {
    if (!node.is_boolean())
      return absl::InvalidArgumentError(common::StrCat(key, " must be true or false"));
    c.*field = *node.value<bool>();
    return absl::OkStatus();
  };
}

Setter StringList(std::vector<std::string> DaemonConfig::*field) {
  return [field](const toml::node& node, const std::string& key, DaemonConfig& c) {
    const toml::array* array = node.as_array();
    if (array == nullptr)
      return absl::InvalidArgumentError(common::StrCat(key, " must be an array of strings"));
    std::vector<std::string> values;
    for (const auto& item : *array) {
      if (!item.is_string())
        return absl::InvalidArgumentError(common::StrCat(key, " must be an array of strings"));
      values.push_back(*item.value<std::string>());
    }
    c.*field = std::move(values);
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
        {"advertise_ip", String(&DaemonConfig::advertise_ip)},
        {"min_free_bytes", Integer(&DaemonConfig::min_free_bytes, 0, int64_t{1} << 50)},
        {"insecure", Bool(&DaemonConfig::insecure)}}},
      {"http",
       {{"address", String(&DaemonConfig::http_address)},
        {"port", Integer(&DaemonConfig::http_port, 0, 65535)},
        {"threads", Integer(&DaemonConfig::http_threads, 0, 256)},
        {"max_body_bytes", Integer(&DaemonConfig::http_max_body_bytes, 1024, int64_t{1} << 30)},
        {"header_timeout_ms", Integer(&DaemonConfig::http_header_timeout_ms, 10, 3'600'000)},
        {"body_timeout_ms", Integer(&DaemonConfig::http_body_timeout_ms, 10, 3'600'000)},
        {"idle_timeout_ms", Integer(&DaemonConfig::http_idle_timeout_ms, 10, 86'400'000)},
        {"max_connections", Integer(&DaemonConfig::http_max_connections, 0, 10'000'000)},
        {"max_connections_per_client",
         Integer(&DaemonConfig::http_max_connections_per_client, 1, 10'000'000)}}},
      {"naming",
       {{"heartbeat_interval_ms", Integer(&DaemonConfig::heartbeat_interval_ms, 100, 3'600'000)},
        {"heartbeat_timeout_ms", Integer(&DaemonConfig::heartbeat_timeout_ms, 100, 3'600'000)},
        {"ip_delete_timeout_ms", Integer(&DaemonConfig::ip_delete_timeout_ms, 100, 3'600'000)},
        {"empty_service_ttl_ms", Integer(&DaemonConfig::empty_service_ttl_ms, 0, 86'400'000)},
        {"expiry_check_interval_ms", Integer(&DaemonConfig::expiry_check_interval_ms, 10, 60'000)},
        {"list_cache_bytes", Integer(&DaemonConfig::list_cache_bytes, 0, int64_t{1} << 40)},
        {"udp_push", Bool(&DaemonConfig::udp_push_enabled)},
        {"udp_push_retry_ms", Integer(&DaemonConfig::udp_push_retry_ms, 10, 600'000)},
        {"udp_push_max_retries", Integer(&DaemonConfig::udp_push_max_retries, 0, 100)},
        {"udp_push_target_idle_ms",
         Integer(&DaemonConfig::udp_push_target_idle_ms, 1000, 86'400'000)},
        {"health_check", Bool(&DaemonConfig::health_check)},
        {"health_check_interval_ms",
         Integer(&DaemonConfig::health_check_interval_ms, 50, 3'600'000)},
        {"health_check_timeout_ms", Integer(&DaemonConfig::health_check_timeout_ms, 10, 60'000)},
        {"health_check_times", Integer(&DaemonConfig::health_check_times, 1, 100)},
        {"health_check_max_in_flight",
         Integer(&DaemonConfig::health_check_max_in_flight, 1, 100'000)}}},
      {"grpc",
       {{"enabled", Bool(&DaemonConfig::grpc_enabled)},
        {"port_offset", Integer(&DaemonConfig::grpc_port_offset, -65535, 65535)},
        {"port", Integer(&DaemonConfig::grpc_port, 0, 65535)},
        {"max_inbound_bytes",
         Integer(&DaemonConfig::grpc_max_inbound_bytes, 1024, int64_t{1} << 30)},
        {"push_merge_ms", Integer(&DaemonConfig::grpc_push_merge_ms, 0, 60'000)},
        {"push_ack_timeout_ms", Integer(&DaemonConfig::grpc_push_ack_timeout_ms, 10, 600'000)},
        {"push_max_retries", Integer(&DaemonConfig::grpc_push_max_retries, 0, 100)},
        {"detection_idle_ms", Integer(&DaemonConfig::grpc_detection_idle_ms, 100, 86'400'000)},
        {"detection_timeout_ms", Integer(&DaemonConfig::grpc_detection_timeout_ms, 100, 600'000)},
        {"keepalive_time_ms", Integer(&DaemonConfig::grpc_keepalive_time_ms, 100, 86'400'000)},
        {"keepalive_timeout_ms", Integer(&DaemonConfig::grpc_keepalive_timeout_ms, 100, 600'000)},
        {"max_connections", Integer(&DaemonConfig::grpc_max_connections, 0, 10'000'000)}}},
      {"config",
       {{"max_content_bytes",
         Integer(&DaemonConfig::config_max_content_bytes, 1, int64_t{1} << 30)},
        {"history_retention_days",
         Integer(&DaemonConfig::config_history_retention_days, 0, 36'500)},
        {"history_retention_ms",
         Integer(&DaemonConfig::config_history_retention_ms, 0, int64_t{1} << 50)}}},
      {"dns",
       {{"enabled", Bool(&DaemonConfig::dns_enabled)},
        {"address", String(&DaemonConfig::dns_address)},
        {"port", Integer(&DaemonConfig::dns_port, 0, 65535)},
        {"workers", Integer(&DaemonConfig::dns_workers, 0, 256)},
        {"zone", String(&DaemonConfig::dns_zone)},
        {"ttl", Integer(&DaemonConfig::dns_ttl, 0, 2'147'483'647)},
        {"negative_ttl", Integer(&DaemonConfig::dns_negative_ttl, 0, 86'400)},
        {"addr_ttl", Integer(&DaemonConfig::dns_addr_ttl, 0, 2'147'483'647)},
        {"bare_names", Bool(&DaemonConfig::dns_bare_names)},
        {"minimal_responses", Bool(&DaemonConfig::dns_minimal_responses)},
        {"cookies", Bool(&DaemonConfig::dns_cookies)},
        {"compat_suffix", String(&DaemonConfig::dns_compat_suffix)},
        {"zones", String(&DaemonConfig::dns_zones)},
        {"tcp_idle_timeout_ms", Integer(&DaemonConfig::dns_tcp_idle_timeout_ms, 100, 3'600'000)},
        {"tcp_message_timeout_ms",
         Integer(&DaemonConfig::dns_tcp_message_timeout_ms, 100, 3'600'000)},
        {"tcp_max_connections", Integer(&DaemonConfig::dns_tcp_max_connections, 1, 1'000'000)},
        {"tcp_max_per_client", Integer(&DaemonConfig::dns_tcp_max_per_client, 1, 1'000'000)},
        {"forward_allow", StringList(&DaemonConfig::dns_forward_allow)},
        {"rrl_responses_per_second",
         Integer(&DaemonConfig::dns_rrl_responses_per_second, 0, 10'000'000)},
        {"rrl_slip", Integer(&DaemonConfig::dns_rrl_slip, 0, 100)},
        {"rrl_ipv4_prefix", Integer(&DaemonConfig::dns_rrl_ipv4_prefix, 8, 32)},
        {"rrl_ipv6_prefix", Integer(&DaemonConfig::dns_rrl_ipv6_prefix, 16, 128)},
        {"rrl_exempt", StringList(&DaemonConfig::dns_rrl_exempt)}}},
      {"tls",
       {{"cert_file", String(&DaemonConfig::tls_cert_file)},
        {"key_file", String(&DaemonConfig::tls_key_file)},
        {"ca_file", String(&DaemonConfig::tls_ca_file)},
        {"http", Bool(&DaemonConfig::tls_http)},
        {"grpc", Bool(&DaemonConfig::tls_grpc)},
        {"peer", Bool(&DaemonConfig::tls_peer)}}},
      {"auth",
       {{"enabled", Bool(&DaemonConfig::auth_enabled)},
        {"token_secret", String(&DaemonConfig::auth_token_secret)},
        {"token_secret_file", String(&DaemonConfig::auth_token_secret_file)},
        {"token_ttl_s", Integer(&DaemonConfig::auth_token_ttl_s, 60, 365 * 86'400)}}},
      {"forward",
       {{"enabled", Bool(&DaemonConfig::forward_enabled)},
        {"upstreams", StringList(&DaemonConfig::forward_upstreams)},
        {"resolv_conf", String(&DaemonConfig::forward_resolv_conf)},
        {"timeout_ms", Integer(&DaemonConfig::forward_timeout_ms, 10, 60'000)},
        {"cache_max_entries", Integer(&DaemonConfig::cache_max_entries, 0, 100'000'000)},
        {"cache_min_ttl", Integer(&DaemonConfig::cache_min_ttl, 0, 86'400)},
        {"cache_max_ttl", Integer(&DaemonConfig::cache_max_ttl, 0, 2'147'483'647)},
        {"cache_negative_max_ttl", Integer(&DaemonConfig::cache_negative_max_ttl, 0, 86'400)},
        {"stale_max_s", Integer(&DaemonConfig::stale_max_s, 0, 604'800)}}},
      {"agent",
       {{"servers", StringList(&DaemonConfig::agent_servers)},
        {"services", StringList(&DaemonConfig::agent_services)},
        {"namespace", String(&DaemonConfig::agent_namespace)},
        {"max_stale_ms", Integer(&DaemonConfig::agent_max_stale_ms, 0, int64_t{1} << 50)},
        {"stale_ttl", Integer(&DaemonConfig::agent_stale_ttl, 0, 86'400)},
        {"idle_unsubscribe_ms",
         Integer(&DaemonConfig::agent_idle_unsubscribe_ms, 0, int64_t{1} << 50)},
        {"push_empty_grace_ms",
         Integer(&DaemonConfig::agent_push_empty_grace_ms, 0, int64_t{1} << 40)},
        {"wait_ms", Integer(&DaemonConfig::agent_wait_ms, 1, 60'000)},
        {"fresh_hysteresis_ms", Integer(&DaemonConfig::agent_fresh_hysteresis_ms, 0, 600'000)},
        {"max_services", Integer(&DaemonConfig::agent_max_services, 1, 10'000'000)},
        {"snapshot", String(&DaemonConfig::agent_snapshot)},
        {"username", String(&DaemonConfig::agent_username)},
        {"password", String(&DaemonConfig::agent_password)},
        {"password_file", String(&DaemonConfig::agent_password_file)},
        {"tls_ca_file", String(&DaemonConfig::agent_tls_ca_file)},
        {"http_port_offset", Integer(&DaemonConfig::agent_http_port_offset, -65535, 65535)},
        {"http_address", String(&DaemonConfig::agent_http_address)},
        {"http_port", Integer(&DaemonConfig::agent_http_port, -1, 65535)}}},
      {"cluster",
       {{"members", StringList(&DaemonConfig::cluster_members)},
        {"conf_file", String(&DaemonConfig::cluster_conf_file)},
        {"peer_port", Integer(&DaemonConfig::cluster_peer_port, -1, 65535)},
        {"tick_ms", Integer(&DaemonConfig::cluster_tick_ms, 10, 10'000)},
        {"election_ticks", Integer(&DaemonConfig::cluster_election_ticks, 3, 1000)},
        {"propose_timeout_ms", Integer(&DaemonConfig::cluster_propose_timeout_ms, 100, 600'000)},
        {"snapshot_every", Integer(&DaemonConfig::cluster_snapshot_every, 0, 100'000'000)},
        {"join", Bool(&DaemonConfig::cluster_join)},
        {"key", String(&DaemonConfig::cluster_key)},
        {"key_file", String(&DaemonConfig::cluster_key_file)}}},
      {"distro",
       {{"sync_delay_ms", Integer(&DaemonConfig::distro_sync_delay_ms, 0, 60'000)},
        {"verify_interval_ms", Integer(&DaemonConfig::distro_verify_interval_ms, 100, 3'600'000)},
        {"lost_owner_grace_ms", Integer(&DaemonConfig::distro_lost_owner_grace_ms, 0, 86'400'000)},
        {"snapshot_timeout_ms", Integer(&DaemonConfig::distro_snapshot_timeout_ms, 0, 3'600'000)}}},
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

bool IsLoopbackAddress(std::string_view address) {
  if (address == "localhost" || address == "::1" || address == "[::1]") return true;
  in_addr v4{};
  const std::string text(address);
  return inet_pton(AF_INET, text.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

absl::Status ResolveListenAddress(DaemonConfig& config, bool clustered) {
  if (config.http_address.empty()) {
    config.http_address = clustered ? config.advertise_ip : "127.0.0.1";
  }
  if (IsLoopbackAddress(config.http_address) || config.insecure) return absl::OkStatus();
  if (!config.auth_enabled) {
    return absl::FailedPreconditionError(common::StrCat(
        "http.address ", config.http_address,
        " is reachable from other machines and auth is off: anyone who reaches it could change "
        "every service and config. Turn auth on (auth.enabled, --auth on), listen on a loopback "
        "address, or pass --insecure (server.insecure = true) on a trusted network"));
  }
  if (clustered && config.cluster_key.empty() && config.cluster_key_file.empty()) {
    return absl::FailedPreconditionError(common::StrCat(
        "http.address ", config.http_address,
        " is reachable from other machines and cluster.key is not set: anyone who reaches the "
        "peer port could write to the cluster. Set cluster.key (or cluster.key_file) on every "
        "member, or pass --insecure (server.insecure = true) on a trusted network"));
  }
  return absl::OkStatus();
}

namespace {

// A secret given inline or in a file (which wins), base64; "" when neither is set.
absl::StatusOr<std::string> LoadSecret(const std::string& inline_value, const std::string& file,
                                       std::string_view key_name) {
  std::string text = inline_value;
  if (!file.empty()) {
    auto content = common::ReadFileToString(file, common::StrCat(key_name, "_file"));
    if (!content.ok()) return content.status();
    text = *std::move(content);
  }
  const std::string_view trimmed = common::Trim(text);
  if (trimmed.empty()) return std::string();
  auto secret = common::Base64Decode(trimmed);
  if (!secret) {
    return absl::InvalidArgumentError(
        common::StrCat(key_name, " is not base64 (e.g. the output of `openssl rand -base64 32`)"));
  }
  return *std::move(secret);
}

}  // namespace

absl::StatusOr<std::string> LoadTokenSecret(const DaemonConfig& config) {
  return LoadSecret(config.auth_token_secret, config.auth_token_secret_file, "auth.token_secret");
}

absl::StatusOr<std::string> LoadClusterKey(const DaemonConfig& config) {
  auto key = LoadSecret(config.cluster_key, config.cluster_key_file, "cluster.key");
  if (key.ok() && !key->empty() && key->size() < kMinClusterKeyBytes) {
    return absl::InvalidArgumentError(common::StrCat(
        "cluster.key is shorter than ", kMinClusterKeyBytes,
        " bytes: use the base64 of at least that many random bytes, the same on every member"));
  }
  return key;
}

absl::Status ValidateConfig(const DaemonConfig& c) {
  if (c.tls_cert_file.empty() != c.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls.cert_file and tls.key_file go together");
  }
  if (c.heartbeat_timeout_ms < c.heartbeat_interval_ms ||
      c.ip_delete_timeout_ms < c.heartbeat_interval_ms) {
    return absl::InvalidArgumentError(
        "naming.heartbeat_timeout_ms and naming.ip_delete_timeout_ms must not be shorter than "
        "naming.heartbeat_interval_ms");
  }
  if (c.data_dir.empty()) return absl::InvalidArgumentError("server.data_dir must not be empty");
  if (c.cache_min_ttl > c.cache_max_ttl) {
    return absl::InvalidArgumentError(
        "forward.cache_min_ttl must not exceed forward.cache_max_ttl");
  }
  return absl::OkStatus();
}

}  // namespace dnsd
