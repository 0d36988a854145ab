// DaemonConfig is everything `dnsd` reads at start-up: embedded defaults, then the TOML file
// (if any), then command-line flags. Loading is strict: an unknown key or a value of the
// wrong type or range is an error whose message names the key, so a typo never silently
// falls back to a default. Plain data; not shared across threads after start-up.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd {

struct DaemonConfig {
  // [server]
  std::string data_dir = "./data";
  std::string log_level = "info";
  std::string advertise_ip = "127.0.0.1";  // the address peers and /cluster/nodes report
  // Writes are refused (503) while the data directory has less free space than this, which
  // keeps room for applying what the log already holds and for LevelDB's compactions.
  int64_t min_free_bytes = 32 << 20;
  // [http]
  // HTTP, gRPC and peer listen address. Empty: 127.0.0.1 for a single node, the advertised
  // address for a cluster member (its peers must reach it). A non-loopback address needs auth
  // on (a single node) or `insecure` (ResolveListenAddress).
  std::string http_address;
  bool insecure = false;
  int http_port = 8848;
  int http_threads = 0;  // 0: one per core
  // Room for a config of config_max_content_bytes even when every byte is %-encoded.
  int64_t http_max_body_bytes = 32 << 20;
  // Slow or idle clients: the request line and headers must arrive within header_timeout_ms
  // of the first byte, the body within body_timeout_ms of the headers; a keep-alive connection
  // with no request is closed after idle_timeout_ms.
  int64_t http_header_timeout_ms = 10'000;
  int64_t http_body_timeout_ms = 30'000;
  int64_t http_idle_timeout_ms = 60'000;
  int http_max_connections = 0;  // 0: derived from the descriptor limit
  // [auth] Nacos auth (auth/authenticator.h). The token secret is base64 (as Nacos's
  // token.secret.key) of at least 32 bytes, given inline or, better, in a file only dnsd reads.
  // [tls] TLS for the HTTP, gRPC and peer ports (common/tls.h), on when cert_file is set, per
  // port by http/grpc/peer. ca_file is the cluster's CA: members present certificates it
  // signed to each other's peer ports (mutual TLS), and a cluster with TLS on its peer port
  // needs it. Certificates are read again on SIGHUP.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  bool tls_http = true;
  bool tls_grpc = true;
  bool tls_peer = true;
  bool auth_enabled = false;
  std::string auth_token_secret;
  std::string auth_token_secret_file;
  int64_t auth_token_ttl_s = 18'000;
  int http_max_connections_per_client = 256;
  // [naming]
  int64_t heartbeat_interval_ms = 5000;
  int64_t heartbeat_timeout_ms = 15000;
  int64_t ip_delete_timeout_ms = 30000;
  int64_t empty_service_ttl_ms = 60000;
  int64_t expiry_check_interval_ms = 1000;
  // Memory for host lists encoded once per service revision and reused by list queries.
  int64_t list_cache_bytes = 12 << 20;
  // [grpc]
  bool grpc_enabled = true;
  int grpc_port_offset = 1000;  // the gRPC port is the HTTP port + this (what SDKs assume)
  int grpc_port = -1;           // set: this port instead (0 picks a free one)
  int64_t grpc_max_inbound_bytes = 10 << 20;
  int64_t grpc_push_merge_ms = 50;
  int64_t grpc_push_ack_timeout_ms = 5000;
  int grpc_push_max_retries = 3;
  int64_t grpc_detection_idle_ms = 20'000;
  int64_t grpc_detection_timeout_ms = 5000;
  int64_t grpc_keepalive_time_ms = 6 * 60 * 1000;
  int64_t grpc_keepalive_timeout_ms = 20'000;
  int grpc_max_connections = 0;  // 0: a quarter of the descriptor budget
  // [config]
  int64_t config_max_content_bytes = 10 << 20;
  // Config history is kept this long (Nacos: nacos.config.retention.days, 30); 0 keeps it for
  // ever. history_retention_ms, when set, wins (finer, for tests).
  int64_t config_history_retention_days = 30;
  int64_t config_history_retention_ms = 0;
  // [dns]
  bool dns_enabled = true;
  std::string dns_address = "127.0.0.1";
  int dns_port = 53;
  int dns_workers = 0;  // 0: one per core
  std::string dns_zone = "nacos.internal.";
  int64_t dns_ttl = 5;
  int64_t dns_negative_ttl = 5;
  int64_t dns_addr_ttl = 3600;
  bool dns_bare_names = false;
  bool dns_minimal_responses = false;
  bool dns_cookies = true;          // answer DNS Cookies (RFC 7873/9018)
  std::string dns_compat_suffix;    // e.g. "nacos."; empty: off
  std::string dns_zones = "zones";  // a zone file or a directory of *.zone files
  int dns_tcp_idle_timeout_ms = 10'000;
  int dns_tcp_message_timeout_ms = 5'000;
  int dns_tcp_max_connections = 1024;
  int dns_tcp_max_per_client = 64;
  // Response rate limiting of UDP answers per client prefix (dnsd/rate_limiter.h).
  int64_t dns_rrl_responses_per_second = 500;  // 0: off
  int64_t dns_rrl_slip = 1;
  int64_t dns_rrl_ipv4_prefix = 24;
  int64_t dns_rrl_ipv6_prefix = 56;
  std::vector<std::string> dns_rrl_exempt = {"127.0.0.0/8", "::1/128"};
  std::vector<std::string> dns_forward_allow = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                                "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
  // [forward]
  bool forward_enabled = true;
  std::vector<std::string> forward_upstreams;  // empty: the nameservers of /etc/resolv.conf
  std::string forward_resolv_conf = "/etc/resolv.conf";
  int64_t forward_timeout_ms = 1500;
  int64_t cache_max_entries = 100'000;
  // Nacos 1.x UDP pushes to clients whose list queries carry udpPort (api/udp_push.h).
  bool udp_push_enabled = true;
  int64_t udp_push_retry_ms = 1000;
  int64_t udp_push_max_retries = 3;
  int64_t udp_push_target_idle_ms = 30'000;
  // Server health checks of persistent instances (health/health_checker.h). The switch
  // healthCheckEnabled starts from `health_check`; checkTimes from health_check_times.
  bool health_check = true;
  int64_t health_check_interval_ms = 5000;
  int64_t health_check_timeout_ms = 2000;
  int64_t health_check_times = 3;
  int64_t health_check_max_in_flight = 256;
  int64_t cache_min_ttl = 0;
  int64_t cache_max_ttl = 86'400;
  int64_t cache_negative_max_ttl = 3600;
  int64_t stale_max_s = 86'400;  // serve-stale window after expiry (RFC 8767)

  // [cluster] Members as Nacos lists them ("ip[:port]", port default 8848). Empty, and no
  // conf_file: a single node.
  std::vector<std::string> cluster_members;
  // `dnsd agent` (agent/agent.h): the servers' gRPC ports to follow, the services followed
  // from start ("name" or "group@@name"), their namespace. The flags win over these.
  std::vector<std::string> agent_servers;
  std::vector<std::string> agent_services;
  std::string agent_namespace = "public";
  // Stale rules and lazy following (agent/service_follower.h, dns.md part D).
  int64_t agent_max_stale_ms = 86'400'000;        // 0: stale data never expires
  int64_t agent_stale_ttl = 5;                    // TTL cap of stale answers, seconds
  int64_t agent_idle_unsubscribe_ms = 3'600'000;  // 0: never
  int64_t agent_push_empty_grace_ms = 30'000;     // 0: no push-empty protection
  int64_t agent_wait_ms = 500;                    // a first query's wait for its service
  int64_t agent_fresh_hysteresis_ms = 2'000;      // a new connection's probation
  int64_t agent_max_services = 10'000;
  // Nacos auth and TLS of the servers the agent follows: a user (whose role may read the
  // followed namespace) and its password (inline or in a file, which wins), and the CA that
  // signed the servers' certificates (gRPC and the login then go over TLS).
  std::string agent_username;
  std::string agent_password;
  std::string agent_password_file;
  std::string agent_tls_ca_file;
  // Where the login goes: each server's HTTP port is its gRPC port plus this (Nacos's -1000).
  int64_t agent_http_port_offset = -1000;
  std::string agent_snapshot;                    // "": <data_dir>/agent-snapshot
  std::string agent_http_address = "127.0.0.1";  // readiness, metrics, status
  int64_t agent_http_port = 8849;                // 0: a free port; -1: off
  std::string cluster_conf_file;                 // a Nacos cluster.conf; read when members is empty
  int64_t cluster_peer_port = -1;                // -1: HTTP port + 1001
  int64_t cluster_tick_ms = 100;                 // Raft heartbeat interval
  int64_t cluster_election_ticks = 10;           // election timeout, in ticks: [n, 2n)
  int64_t cluster_propose_timeout_ms = 5000;     // a write's wait for a leader
  int64_t cluster_snapshot_every = 10000;        // applied entries between log compactions
  bool cluster_join = false;                     // join a running cluster (see --join)
  // The key members prove to each other on the peer port (node/peer_auth.h): base64 of at
  // least 32 bytes, the same on every member; inline or in a file only dnsd reads.
  std::string cluster_key;
  std::string cluster_key_file;

  // [distro] Replication of ephemeral instances between the members (distro/README.md).
  int64_t distro_sync_delay_ms = 10;           // changes to one client merged within this
  int64_t distro_verify_interval_ms = 5000;    // owners' summaries to each peer
  int64_t distro_lost_owner_grace_ms = 15000;  // gRPC clients of a member that is down
  int64_t distro_snapshot_timeout_ms = 10000;  // start-up: how long to try the peers
};

// Parses TOML text (the file name is used in messages) over `config`.
absl::Status ApplyConfigToml(std::string_view text, std::string_view file_name,
                             DaemonConfig& config);
absl::Status LoadConfigFile(const std::string& path, DaemonConfig& config);
// Cross-field checks run after flags are applied.
// Fills in the HTTP listen address when none was configured (see http_address) and refuses a
// non-loopback one without `insecure` unless auth is on (and, for a cluster member, a cluster
// key is set): without auth whoever reaches the port can rewrite the registry and every
// config, and without the key whoever reaches a member's peer port can.
absl::Status ResolveListenAddress(DaemonConfig& config, bool clustered);
bool IsLoopbackAddress(std::string_view address);

absl::Status ValidateConfig(const DaemonConfig& config);
// The token secret's bytes: auth.token_secret_file's content or auth.token_secret, base64
// decoded; "" when neither is set. kInvalidArgument for unreadable files or bad base64.
absl::StatusOr<std::string> LoadTokenSecret(const DaemonConfig& config);
inline constexpr size_t kMinClusterKeyBytes = 32;
// The cluster key's bytes (cluster.key_file or cluster.key, base64), "" when unset;
// kInvalidArgument for unreadable files, bad base64 or fewer than 32 bytes.
absl::StatusOr<std::string> LoadClusterKey(const DaemonConfig& config);

}  // namespace dnsd
