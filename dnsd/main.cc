// dnsd: a DNS-first naming server that speaks Nacos. This file wires the modules together:
// configuration, the durable log and its driver, the registry, the HTTP API, timers and
// signals. Everything else lives in the modules.
#include <event2/event.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "agent/agent_cli.h"
#include "api/auth_http_api.h"
#include "api/config_http_api.h"
#include "api/grpc_auth.h"
#include "api/grpc_server.h"
#include "api/http_server.h"
#include "api/naming_http_api.h"
#include "api/udp_push.h"
#include "auth/authenticator.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/fd_limit.h"
#include "common/logging.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "config/config_store.h"
#include "console/console.h"
#include "dnsd/cluster_config.h"
#include "dnsd/cluster_naming.h"
#include "dnsd/daemon_config.h"
#include "dnsd/dns_front_end.h"
#include "dnsd/dns_lookup_http.h"
#include "dnsd/dns_overview_http.h"
#include "dnsd/dns_server.h"
#include "dnsd/history_retention.h"
#include "dnsd/query_pipeline.h"
#include "dnsd/registry_zone.h"
#include "dnsd/static_zones.h"
#include "dnsd/tls_setup.h"
#include "health/health_checker.h"
#include "node/durable_state.h"
#include "node/log_entries.h"
#include "node/proposer.h"
#include "node/raft_cluster.h"
#include "node/state_snapshot.h"
#include "registry/registry.h"
#include "spdlog/fmt/ranges.h"
#include "spdlog/spdlog.h"

namespace {

constexpr int kStartupError = 2;
// A state machine's files turned out damaged while running (see raft::RaftNodeOptions::fatal).
constexpr int kStateFailure = 3;

int Fail(std::string_view message) {
  std::cerr << "dnsd: " << message << std::endl;
  return kStartupError;
}

int Fail(const absl::Status& status) { return Fail(dnsd::common::ToStd(status.message())); }

// `dnsd agent`: the command line checked, the process becomes dnsd-agent (next to this
// executable) with the same arguments. See agent/main.cc for why it is a program of its own.
int ExecAgent(char** argv) {
  std::error_code error;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return Fail("cannot find this executable: " + error.message());
  const std::string agent = (self.parent_path() / "dnsd-agent").string();
  argv[0] = const_cast<char*>(agent.c_str());
  execv(agent.c_str(), argv);
  return Fail(dnsd::common::StrCat("cannot run ", agent, ": ", std::strerror(errno)));
}

}  // namespace

int main(int argc, char** argv) {
  // A fixed mmap threshold: glibc's default one rises to the largest block freed so far (up to
  // 32 MiB), after which the big transient buffers (a snapshot file's bytes, a full answer set
  // being rebuilt) come from the arenas and leave them fragmented at their high-water mark.
  // Mapped, they go back to the system on free (a million instances: RSS 523 -> 472 MB).
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  CLI::App app{"dnsd: DNS-first naming server that speaks Nacos"};
  std::string config_path;
  std::string data_dir, log_level, http_address, advertise_ip, dns_address, zones, cluster_conf;
  int http_port = -1, http_threads = -1, dns_port = -1, dns_workers = -1, grpc_port = -1;
  app.add_option("-c,--config", config_path, "TOML configuration file (see dnsd.example.toml)");
  app.add_option("--data-dir", data_dir, "directory for durable data (default ./data)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off");
  app.add_option("--http-address", http_address,
                 "HTTP, gRPC and peer listen address (default 127.0.0.1; a cluster member's "
                 "advertised address)");
  bool insecure = false;
  app.add_flag("--insecure", insecure,
               "allow a non-loopback listen address although dnsd does not authenticate clients");
  app.add_option("--http-port", http_port, "HTTP port (default 8848; 0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--http-threads", http_threads, "HTTP worker threads (0: one per core)")
      ->check(CLI::Range(0, 256));
  app.add_option("--advertise-ip", advertise_ip, "address this node reports to clients and peers");
  app.add_option("--dns-address", dns_address, "DNS listen address (default 127.0.0.1)");
  app.add_option("--dns-port", dns_port, "DNS port, UDP and TCP (default 53; 0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--dns-workers", dns_workers, "DNS worker threads (0: one per core)")
      ->check(CLI::Range(0, 256));
  app.add_option("--grpc-port", grpc_port,
                 "gRPC port (default: HTTP port + 1000, as Nacos SDKs assume; 0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--cluster-conf", cluster_conf,
                 "Nacos cluster.conf listing the cluster's members (ip[:port] per line)");
  std::string cluster_key_file;
  app.add_option("--cluster-key-file", cluster_key_file,
                 "file with the cluster key (base64, >= 32 bytes, the same on every member) that "
                 "members prove to each other on the peer port (cluster.key_file)");
  bool join = false;
  app.add_flag("--join", join,
               "join a running cluster: wait to be added (POST /dnsd/v1/cluster/members on a "
               "member) instead of counting the listed members as the first voters");
  app.add_option("--zones", zones, "zone file or directory of *.zone files (default ./zones)");
  std::string auth_mode;
  app.add_option("--auth", auth_mode,
                 "Nacos auth (users, roles, tokens) on every HTTP and gRPC API: on or off "
                 "(auth.enabled; on needs auth.token_secret)")
      ->check(CLI::IsMember({"on", "off", "true", "false"}));
  std::string health_check;
  app.add_option(
         "--health-check", health_check,
         "check persistent instances' health from the server: on or off (naming.health_check)")
      ->check(CLI::IsMember({"on", "off", "true", "false"}));
  CLI::App* repair = app.add_subcommand(
      "repair", "salvage a data directory that dnsd refuses to start from (keeps copies)");
  std::string repair_dir = "./data";
  repair->add_option("--data-dir", repair_dir, "the data directory to repair (default ./data)");
  CLI::App* agent_command = app.add_subcommand(
      "agent", "run as a DNS-F sidecar: follow a dnsd or Nacos cluster over gRPC and answer DNS");
  agent_command->fallthrough();  // --config, --dns-port, --zones, ... apply to the agent too
  dnsd::agent::AgentFlags agent_flags;
  dnsd::agent::AddAgentOptions(*agent_command, agent_flags);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kStartupError;
  }

  if (repair->parsed()) {
    auto status = dnsd::node::RepairDataDir(repair_dir, std::cout);
    if (!status.ok()) return Fail(status);
    return 0;
  }

  dnsd::DaemonConfig config;
  if (!config_path.empty()) {
    if (auto s = dnsd::LoadConfigFile(config_path, config); !s.ok()) return Fail(s);
  }
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (!log_level.empty()) config.log_level = log_level;
  if (!http_address.empty()) config.http_address = http_address;
  if (!advertise_ip.empty()) config.advertise_ip = advertise_ip;
  if (http_port >= 0) config.http_port = http_port;
  if (http_threads >= 0) config.http_threads = http_threads;
  if (!dns_address.empty()) config.dns_address = dns_address;
  if (dns_port >= 0) config.dns_port = dns_port;
  if (grpc_port >= 0) config.grpc_port = grpc_port;
  if (dns_workers >= 0) config.dns_workers = dns_workers;
  if (!zones.empty()) config.dns_zones = zones;
  if (join) config.cluster_join = true;
  if (!cluster_key_file.empty()) config.cluster_key_file = cluster_key_file;
  if (insecure) config.insecure = true;
  if (!auth_mode.empty()) config.auth_enabled = auth_mode == "on" || auth_mode == "true";
  if (!health_check.empty()) config.health_check = health_check == "on" || health_check == "true";
  if (!cluster_conf.empty()) {
    config.cluster_conf_file = cluster_conf;
    config.cluster_members.clear();  // the flag wins over the file's list
  }
  if (auto s = dnsd::ValidateConfig(config); !s.ok()) return Fail(s);
  if (auto s = dnsd::common::SetupLogging(config.log_level); !s.ok()) {
    return Fail(std::string("server.log_level: ") + std::string(s.message()));
  }
  signal(SIGPIPE, SIG_IGN);
  if (agent_command->parsed()) return ExecAgent(argv);
  // Descriptors: the soft limit goes up to the hard one; connection caps stay below it with
  // room for the log, the stores, zone files and the forwarder's sockets.
  const int64_t fd_limit = dnsd::common::RaiseFileLimit();
  constexpr int64_t kReservedDescriptors = 128;
  const int64_t connection_budget = std::max<int64_t>(fd_limit - kReservedDescriptors, 64);
  // A configured connection cap, or 0 for this share of the budget.
  auto cap_or_share = [&](int configured, int64_t share_divisor) {
    return configured > 0
               ? configured
               : static_cast<int>(std::min<int64_t>(connection_budget / share_divisor, 10'000'000));
  };

  auto membership = dnsd::ResolveMembership(config);
  if (!membership.ok()) return Fail(membership.status());
  const bool clustered = !membership->single_node();
  if (auto s = dnsd::ResolveListenAddress(config, clustered); !s.ok()) return Fail(s);

  dnsd::auth::AuthOptions auth_options;
  auth_options.enabled = config.auth_enabled;
  auth_options.token_ttl_s = config.auth_token_ttl_s;
  {
    auto secret = dnsd::LoadTokenSecret(config);
    if (!secret.ok()) return Fail(secret.status());
    auth_options.token_secret = *std::move(secret);
  }
  if (auto s = dnsd::auth::ValidateAuthOptions(auth_options); !s.ok()) return Fail(s);

  auto tls = dnsd::MakeServerTls(config, clustered);
  if (!tls.ok()) return Fail(tls.status());

  std::error_code ec;
  std::filesystem::create_directories(config.data_dir, ec);
  if (ec) return Fail("cannot create data dir " + config.data_dir + ": " + ec.message());

  dnsd::common::SystemClock clock;
  dnsd::common::MetricsRegistry metrics;

  dnsd::registry::RegistryOptions registry_options;
  registry_options.heartbeat_defaults = {config.heartbeat_interval_ms, config.heartbeat_timeout_ms,
                                         config.ip_delete_timeout_ms};
  registry_options.empty_service_ttl_ms = config.empty_service_ttl_ms;
  dnsd::registry::Registry registry(registry_options);
  dnsd::registry::ServiceView::SetMemoBudget(config.list_cache_bytes);
  metrics.AddGauge("dnsd_registry_list_cache_bytes",
                   "Bytes of host lists kept encoded for list queries",
                   [] { return static_cast<double>(dnsd::registry::ServiceView::memo_bytes()); });
  metrics.AddGauge("dnsd_registry_services", "Services in the registry",
                   [&] { return static_cast<double>(registry.service_count()); });
  metrics.AddGauge("dnsd_registry_instances", "Instances in the registry",
                   [&] { return static_cast<double>(registry.instance_count()); });

  // DNS answer sets are built by the registry writer, so the zone listens before replay.
  dnsd::dns::RegistryZone registry_zone(dnsd::dns::RegistryZoneOptionsFrom(config), metrics);
  // Instances registered with a host name answer A/AAAA with its addresses.
  auto host_resolver = dnsd::dns::HostResolver::Create(metrics);
  if (!host_resolver.ok()) return Fail(host_resolver.status());
  registry_zone.SetHostResolver(host_resolver->get());
  dnsd::common::Counter& service_changes = metrics.GetCounter(
      "dnsd_registry_service_changes_total",
      "Changes of a service's instances or metadata (registrations, updates, removals)");
  registry.AddListener([&](const dnsd::registry::ServiceKey& key,
                           const std::shared_ptr<const dnsd::registry::ServiceView>& view) {
    service_changes.Inc();
    registry_zone.OnServiceChanged(key, view);
  });
  // Until DNS serves, the names the snapshot and log bring are indexed in one batch.
  registry_zone.BeginBulk();

  // The durable state and the one door for writes to it: Raft, a group of one on a single
  // node (same code path, no peers) or the cluster's.
  std::unique_ptr<dnsd::node::RaftCluster> raft_cluster;
  std::unique_ptr<dnsd::ClusterNaming> cluster_naming;  // Distro: ephemeral instances
  std::unique_ptr<dnsd::config::ConfigStore> config_store_owner;
  dnsd::auth::AuthStore auth_store;  // users, roles, permissions: replicated, in memory
  auto machines = [&] {
    return dnsd::node::StateMachines{registry, *config_store_owner, auth_store};
  };
  auto apply = [&](uint64_t index, std::string_view entry) {
    return dnsd::node::ApplyLogEntry(machines(), index, entry);
  };
  auto state = clustered ? dnsd::node::OpenClusterState(config.data_dir)
                         : dnsd::node::OpenStandaloneState(config.data_dir);
  if (!state.ok()) return Fail(state.status());
  config_store_owner = std::move(state->config);
  const std::string config_moved_to = state->config_moved_to;
  if (!clustered) {
    // A data directory from before Raft: its log becomes the new log's first snapshot.
    if (auto s = dnsd::node::MigrateLegacyLog(config.data_dir, registry, *config_store_owner);
        !s.ok()) {
      return Fail(s);
    }
  }
  dnsd::node::RaftClusterOptions cluster_options;
  cluster_options.membership = *membership;
  cluster_options.standalone = !clustered;
  cluster_options.raft_dir = state->raft_dir;
  cluster_options.peer_listen_address = config.http_address;
  cluster_options.peer_port = static_cast<int>(config.cluster_peer_port);
  cluster_options.tick_ms = static_cast<int>(config.cluster_tick_ms);
  cluster_options.election_ticks = static_cast<int>(config.cluster_election_ticks);
  cluster_options.propose_timeout_ms = static_cast<int>(config.cluster_propose_timeout_ms);
  cluster_options.compact_every = static_cast<uint64_t>(config.cluster_snapshot_every);
  cluster_options.join = config.cluster_join;
  cluster_options.min_free_bytes = static_cast<uint64_t>(config.min_free_bytes);
  {
    auto key = dnsd::LoadClusterKey(config);
    if (!key.ok()) return Fail(key.status());
    cluster_options.cluster_key = *std::move(key);
    cluster_options.peer_tls = tls->peer;
    cluster_options.peer_tls_client = tls->peer_client;
    if (clustered && cluster_options.cluster_key.empty()) {
      spdlog::warn(
          "cluster.key is not set: the peer port accepts calls from anyone who reaches "
          "it (fine on loopback; set a key on a network)");
    }
  }
  cluster_options.fatal = [](const absl::Status& s) {
    // Crash-only: the restart rebuilds the damaged state from the snapshot and the log.
    spdlog::critical("stopping: {}; the next start rebuilds the state from the log",
                     dnsd::common::ToStd(s.message()));
    spdlog::shutdown();
    std::_Exit(kStateFailure);
  };
  cluster_options.take_snapshot = [&, clustered] {
    // A single node's snapshot carries its configs: no peer could supply them when the store
    // is damaged and rebuilt. Not the history, which grows with every write.
    return dnsd::node::CaptureStateSnapshot(
        machines(),
        clustered ? dnsd::node::SnapshotConfigs::kNone : dnsd::node::SnapshotConfigs::kCurrent);
  };
  cluster_options.expand_snapshot = [&](const std::string& snapshot) {
    return dnsd::node::ExpandStateSnapshot(*config_store_owner, snapshot);
  };
  cluster_options.restore = [&](const std::string& snapshot) {
    return dnsd::node::RestoreStateSnapshot(machines(), snapshot, clock.NowMs());
  };
  if (clustered) {
    dnsd::distro::DistroOptions distro_options;
    distro_options.sync_delay_ms = config.distro_sync_delay_ms;
    distro_options.verify_interval_ms = config.distro_verify_interval_ms;
    distro_options.lost_owner_grace_ms = config.distro_lost_owner_grace_ms;
    cluster_naming = std::make_unique<dnsd::ClusterNaming>(*membership, registry, clock,
                                                           distro_options, metrics);
    cluster_naming->AddPeerMethods(cluster_options.peer_methods);
  }
  auto created = dnsd::node::RaftCluster::Create(cluster_options, apply, metrics);
  if (!created.ok()) {
    return Fail(clustered ? created.status()
                          : dnsd::node::WithRepairHint(created.status(), config.data_dir));
  }
  raft_cluster = std::move(*created);
  if (auto s = dnsd::node::CheckClusterState(*config_store_owner, state->raft_dir,
                                             raft_cluster->raft_status().last_index, !clustered);
      !s.ok()) {
    return Fail(s);
  }
  dnsd::node::Proposer* proposer = raft_cluster.get();
  if (clustered) {
    spdlog::info("cluster member {} of {} (Raft id {})", membership->self_member().address(),
                 membership->members.size(), membership->self_member().raft_id());
  }
  auto raft_gauge = [&](const char* name, const char* help, auto field) {
    metrics.AddGauge(
        name, help, [&, field] { return static_cast<double>(field(raft_cluster->raft_status())); });
  };
  using RaftStatus = dnsd::raft::RaftStatus;
  raft_gauge("dnsd_raft_applied_index", "Last log index applied to the state machines",
             [](const RaftStatus& s) { return s.applied; });
  raft_gauge("dnsd_raft_commit_index", "Last log index known committed",
             [](const RaftStatus& s) { return s.commit; });
  raft_gauge("dnsd_raft_snapshot_index", "Last log index covered by this node's snapshot",
             [](const RaftStatus& s) { return s.snapshot_index; });
  raft_gauge("dnsd_raft_snapshots_restored_total",
             "Snapshots received from a leader and restored (catching up past its compacted log)",
             [](const RaftStatus& s) { return s.snapshots_restored; });
  raft_gauge("dnsd_raft_snapshot_in_progress",
             "1 while this node encodes and writes a snapshot of its state (log compaction)",
             [](const RaftStatus& s) { return s.compacting ? 1 : 0; });
  raft_gauge("dnsd_raft_snapshots_taken_total", "Snapshots this node took and cut its log at",
             [](const RaftStatus& s) { return s.snapshots_taken; });
  raft_gauge("dnsd_raft_snapshot_failures_total",
             "Snapshots this node could not take (the log stays whole; retried a second later)",
             [](const RaftStatus& s) { return s.snapshot_failures; });
  raft_gauge("dnsd_raft_term", "Current Raft term", [](const RaftStatus& s) { return s.term; });
  raft_gauge("dnsd_raft_is_leader", "1 on the Raft leader",
             [](const RaftStatus& s) { return s.role == dnsd::raft::Role::kLeader ? 1 : 0; });
  raft_gauge("dnsd_storage_stalled", "1 while applying waits for the data disk to accept writes",
             [](const RaftStatus& s) { return s.stalled ? 1 : 0; });
  raft_gauge("dnsd_storage_stalls_total",
             "Times applying a logged write had to wait for the data disk",
             [](const RaftStatus& s) { return s.storage_stalls; });
  raft_gauge("dnsd_storage_log_unwritable", "1 while the Raft log cannot be written",
             [](const RaftStatus& s) { return s.log_unwritable ? 1 : 0; });
  raft_gauge("dnsd_storage_log_write_failures_total", "Writes of the Raft log that failed",
             [](const RaftStatus& s) { return s.log_write_failures; });
  raft_gauge("dnsd_storage_low_space_refusals_total",
             "Writes refused because the data disk had less than server.min_free_bytes",
             [](const RaftStatus& s) { return s.low_space_refusals; });
  if (clustered) {
    metrics.AddGauge("dnsd_cluster_members_up",
                     "Cluster members this node can reach (itself included)", [&] {
                       double up = 0;
                       for (const auto& m : raft_cluster->members()) {
                         up += m.state == dnsd::node::MemberState::kUp ? 1 : 0;
                       }
                       return up;
                     });
  }
  auto* config_store = &config_store_owner;
  metrics.AddGauge("dnsd_storage_config_rebuilds",
                   "1 when this start found the config store damaged and rebuilt it from the log",
                   [rebuilt = !config_moved_to.empty()] { return rebuilt ? 1.0 : 0.0; });

  dnsd::api::HttpServerOptions http_options;
  http_options.address = config.http_address;
  http_options.port = config.http_port;
  http_options.threads = config.http_threads > 0
                             ? config.http_threads
                             : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  http_options.max_body_bytes = static_cast<size_t>(config.http_max_body_bytes);
  http_options.header_timeout_ms = config.http_header_timeout_ms;
  http_options.body_timeout_ms = config.http_body_timeout_ms;
  http_options.idle_timeout_ms = config.http_idle_timeout_ms;
  http_options.max_connections = cap_or_share(config.http_max_connections, 2);
  http_options.max_connections_per_client = config.http_max_connections_per_client;
  http_options.tls = tls->http;
  auto http = dnsd::api::HttpServer::Create(http_options, metrics);
  if (!http.ok()) return Fail(http.status());

  auto main_loop = dnsd::common::EventLoop::Create();
  if (!main_loop.ok()) return Fail(main_loop.status());
  dnsd::api::NodeIdentity identity;
  identity.ip = config.advertise_ip;
  identity.http_port = (*http)->port();
  identity.raft_port = identity.http_port - 1000;
  if (clustered) {
    identity.members = [&] {
      std::vector<dnsd::api::ClusterMemberView> out;
      const auto status = raft_cluster->raft_status();
      const std::string leader = raft_cluster->AddressOf(status.leader);
      for (const auto& m : raft_cluster->members()) {
        dnsd::api::ClusterMemberView view;
        view.ip = m.member.ip;
        view.http_port = m.member.http_port;
        view.state = dnsd::node::MemberStateName(m.state);
        view.self = m.self;
        view.last_refresh_ms = m.last_contact_ms;
        view.raft_term = status.term;
        view.raft_leader = leader;
        view.raft_membership = m.raft_membership;
        if (m.self) {
          view.raft_role = dnsd::raft::RoleName(status.role);
          view.raft_applied = status.applied;
          view.raft_commit = status.commit;
        } else if (const auto distro = cluster_naming->ReplicationTowards(m.member.address())) {
          view.distro_pending = static_cast<int64_t>(distro->pending);
          view.distro_lag_ms = distro->lag_ms;
          view.distro_in_ring = distro->in_ring;
        }
        out.push_back(std::move(view));
      }
      return out;
    };
    identity.change_membership = [&](std::string_view op, const std::string& address,
                                     std::function<void(absl::Status)> done) {
      using Change = dnsd::node::RaftCluster::MembershipChange;
      const Change change = op == "add"       ? Change::kAddLearner
                            : op == "promote" ? Change::kPromote
                                              : Change::kRemove;
      raft_cluster->ChangeMembership(change, address, std::move(done));
    };
    identity.ready = [&] { return cluster_naming->ready(); };
  }
  // Nacos auth: every request of a connection passes the guard before its route.
  dnsd::auth::Authenticator authenticator(auth_options, auth_store, clock, metrics);
  dnsd::api::AuthHttpApi auth_api(authenticator, *proposer);
  auth_api.RegisterRoutes(**http);
  dnsd::console::RegisterConsoleRoutes(**http);
  dnsd::dns::DnsLookupHttp dns_lookup;  // the console's DNS page asks the DNS port through it
  dns_lookup.RegisterRoutes(**http);
  dnsd::dns::DnsOverviewHttp dns_overview(registry_zone);  // zones, forwarder, names per service
  dns_overview.RegisterRoutes(**http);
  (*http)->SetGuard([&](dnsd::api::HttpRequest& request) { return auth_api.Guard(request); });
  dnsd::api::NamingHttpApi naming_api(registry, **config_store, *proposer, clock, metrics,
                                      identity);
  if (cluster_naming) naming_api.SetEphemeralRouting(cluster_naming->Routing());
  naming_api.RegisterRoutes(**http);
  dnsd::api::ConfigApiOptions config_api_options;
  config_api_options.max_content_bytes = config.config_max_content_bytes;
  dnsd::api::ConfigHttpApi config_api(**config_store, registry, *proposer, **main_loop, clock,
                                      metrics, config_api_options);
  config_api.RegisterRoutes(**http);
  const int64_t retention_ms = config.config_history_retention_ms > 0
                                   ? config.config_history_retention_ms
                                   : config.config_history_retention_days * 86'400'000;
  dnsd::HistoryRetention history_retention(
      **config_store, *proposer, **main_loop, clock,
      [&] { return raft_cluster->raft_status().role == dnsd::raft::Role::kLeader; }, retention_ms,
      metrics);
  history_retention.Start();

  // Nacos 1.x UDP pushes: the pusher listens to the registry like the gRPC server below.
  std::unique_ptr<dnsd::api::UdpPusher> udp_pusher;
  if (config.udp_push_enabled) {
    dnsd::api::UdpPushOptions push_options;
    push_options.bind_address = config.http_address;
    push_options.retry_ms = config.udp_push_retry_ms;
    push_options.max_retries = static_cast<int>(config.udp_push_max_retries);
    push_options.target_idle_ms = config.udp_push_target_idle_ms;
    auto created = dnsd::api::UdpPusher::Create(push_options, registry, clock, metrics);
    if (!created.ok()) return Fail(created.status());
    udp_pusher = std::move(*created);
    registry.AddListener(
        [pusher = udp_pusher.get()](const dnsd::registry::ServiceKey& key,
                                    const std::shared_ptr<const dnsd::registry::ServiceView>&) {
          pusher->OnServiceChanged(key);
        });
    naming_api.SetUdpPusher(udp_pusher.get());
    udp_pusher->Start();
  }

  // Server health checks of persistent instances; a flip is written through the proposer.
  naming_api.switches()
      .Set("healthCheckEnabled", config.health_check ? "true" : "false")
      .IgnoreError();
  naming_api.switches().Set("checkTimes", std::to_string(config.health_check_times)).IgnoreError();
  dnsd::health::HealthCheckOptions health_options;
  health_options.interval_ms = config.health_check_interval_ms;
  health_options.timeout_ms = config.health_check_timeout_ms;
  health_options.check_times = static_cast<int>(config.health_check_times);
  health_options.max_in_flight = static_cast<size_t>(config.health_check_max_in_flight);
  dnsd::health::HealthCheckHooks health_hooks;
  health_hooks.report = [proposer](const dnsd::registry::Command& command,
                                   std::function<void(absl::Status)> done) {
    proposer->Propose(dnsd::node::NamingLogEntry(command), std::move(done));
  };
  if (cluster_naming) {
    health_hooks.responsible = [&](const dnsd::registry::ServiceKey& key) {
      return cluster_naming->ChecksHealthOf(key);
    };
  }
  health_hooks.enabled = [&] { return naming_api.switches().Bool("healthCheckEnabled"); };
  health_hooks.check_times = [&] {
    return static_cast<int>(naming_api.switches().Int("checkTimes"));
  };
  auto health_checker = dnsd::health::HealthChecker::Create(health_options, registry, clock,
                                                            metrics, std::move(health_hooks));
  if (!health_checker.ok()) return Fail(health_checker.status());
  registry.AddListener([checker = health_checker->get()](
                           const dnsd::registry::ServiceKey& key,
                           const std::shared_ptr<const dnsd::registry::ServiceView>& view) {
    checker->OnServiceChanged(key, view);
  });

  // The gRPC server listens to the registry and the config store: created before either
  // is written by clients.
  std::unique_ptr<dnsd::api::GrpcServer> grpc;
  if (config.grpc_enabled) {
    dnsd::api::GrpcServerOptions grpc_options;
    grpc_options.address = config.http_address;
    grpc_options.port =
        config.grpc_port >= 0 ? config.grpc_port : (*http)->port() + config.grpc_port_offset;
    if (grpc_options.port < 0 || grpc_options.port > 65535) {
      return Fail(dnsd::common::StrCat("gRPC port ", grpc_options.port,
                                       " (HTTP port + grpc.port_offset) is out of range"));
    }
    grpc_options.max_inbound_bytes = config.grpc_max_inbound_bytes;
    grpc_options.push_merge_ms = config.grpc_push_merge_ms;
    grpc_options.push_ack_timeout_ms = config.grpc_push_ack_timeout_ms;
    grpc_options.push_max_retries = config.grpc_push_max_retries;
    grpc_options.detection_idle_ms = config.grpc_detection_idle_ms;
    grpc_options.detection_timeout_ms = config.grpc_detection_timeout_ms;
    grpc_options.keepalive_time_ms = config.grpc_keepalive_time_ms;
    grpc_options.keepalive_timeout_ms = config.grpc_keepalive_timeout_ms;
    grpc_options.max_config_content_bytes = config.config_max_content_bytes;
    grpc_options.max_connections = cap_or_share(config.grpc_max_connections, 4);
    grpc_options.server_ip = config.advertise_ip;
    grpc_options.tls = tls->grpc;
    auto created = dnsd::api::GrpcServer::Create(grpc_options, registry, **config_store, *proposer,
                                                 clock, metrics);
    if (!created.ok()) return Fail(created.status());
    grpc = std::move(*created);
    grpc->SetAuthorizer(dnsd::api::MakeGrpcAuthorizer(authenticator));
    naming_api.SetGrpcServer(grpc.get());
  }

  auto dns =
      dnsd::dns::DnsFrontEnd::Create(config, registry_zone, clock, metrics, connection_budget);
  if (!dns.ok()) return Fail(dns.status());
  dns_overview.SetFrontEnd(dns->get());

  (*main_loop)->RunEvery(config.expiry_check_interval_ms, [&] { registry.Tick(clock.NowMs()); });
  // Long polls are answered within this much of the end of their hold time.
  (*main_loop)->RunEvery(100, [&] { config_api.ExpireListeners(); });
  // Registry and DNS snapshots are replaced all the time; hand the freed pages back to the
  // system instead of keeping a fragmented heap at its high-water mark. Only once the registry
  // has been quiet for a whole period: malloc_trim holds each arena's lock while it walks it
  // (~100 ms at a million instances), and while changes flow the DNS workers free the answers
  // they replace into the writers' arenas, so a trim then stalled answers (a mass expiry's
  // slowest DNS answer went from ~55 ms to 130-220 ms). Quiet, DNS frees nothing of theirs.
  (*main_loop)
      ->RunEvery(10'000, [&registry, seen = ~uint64_t{0}, trimmed = ~uint64_t{0}]() mutable {
        const uint64_t now = registry.revision();
        if (now == seen && now != trimmed) {
          malloc_trim(0);
          trimmed = now;
        }
        seen = now;
      });
  auto on_signal = [](evutil_socket_t sig, short, void* arg) {
    spdlog::info("received signal {}, shutting down", sig);
    static_cast<dnsd::common::EventLoop*>(arg)->Stop();
  };
  dnsd::common::EventPtr sigterm(
      evsignal_new((*main_loop)->base(), SIGTERM, on_signal, main_loop->get()));
  dnsd::common::EventPtr sigint(
      evsignal_new((*main_loop)->base(), SIGINT, on_signal, main_loop->get()));
  event_add(sigterm.get(), nullptr);
  event_add(sigint.get(), nullptr);
  std::function<void()> on_sighup = [&] {
    spdlog::info("SIGHUP: reloading zone files and TLS certificates");
    (*dns)->ReloadZones();
    tls->Reload();
  };
  dnsd::common::EventPtr sighup(evsignal_new(
      (*main_loop)->base(), SIGHUP,
      [](evutil_socket_t, short, void* arg) { (*static_cast<std::function<void()>*>(arg))(); },
      &on_sighup));
  event_add(sighup.get(), nullptr);

  {
    if (clustered) {
      if (auto s = raft_cluster->Listen(); !s.ok()) return Fail(s);
    }
    raft_cluster->Start();
    // Serve once the entries this node knew committed are applied again (the registry's
    // persistent part lives in memory and is rebuilt from them).
    // (A single node commits its whole log again as it takes the lead.)
    const uint64_t committed =
        clustered ? raft_cluster->raft_status().commit : raft_cluster->raft_status().last_index;
    while (raft_cluster->raft_status().applied < committed) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (clustered) {
      spdlog::info("Raft: applied up to committed entry {}; peer port {}", committed,
                   raft_cluster->peer_port());
      // Ephemeral instances: the other members' copies are loaded before this node serves.
      cluster_naming->Start(*raft_cluster, **http, config.distro_snapshot_timeout_ms);
    } else {
      spdlog::info("applied the log up to entry {} from {}{}", committed, config.data_dir,
                   config_moved_to.empty() ? "" : " (config store rebuilt)");
    }
  }
  // Loading the snapshot and replaying the log freed far more than the state keeps (decoded
  // records, read buffers); hand the freed pages back before serving, or they stay in RSS.
  registry_zone.EndBulk();
  malloc_trim(0);
  (*http)->Start();
  (*dns)->Start();
  dns_lookup.Start(dnsd::dns::LocalDnsAddress(config), (*dns)->port());
  if (auto s = dnsd::dns::StartHostResolver(**host_resolver, config, (*dns)->port()); !s.ok()) {
    return Fail(s);
  }
  (*health_checker)->Start();
  spdlog::info("dnsd listening: http {}:{} ({} threads), data {}", config.http_address,
               (*http)->port(), http_options.threads, config.data_dir);
  if (authenticator.enabled() && !auth_store.HasAdmin()) {
    spdlog::warn(
        "auth is on and there is no admin yet: set its password once with POST "
        "/nacos/v1/auth/users/admin (password=...)");
  }
  spdlog::info("auth {}", authenticator.enabled() ? "on: every API needs a token" : "off");
  spdlog::info("TLS: HTTP {}, gRPC {}, peer {}", tls->http ? "on" : "off", tls->grpc ? "on" : "off",
               tls->peer ? "on (mutual)" : "off");
  spdlog::info("descriptor limit {}: at most {} HTTP connections ({} per client)", fd_limit,
               http_options.max_connections, http_options.max_connections_per_client);
  // Tests and scripts read this line to learn the ports when they asked for port 0.
  std::cout << "dnsd ready http=" << (*http)->port() << " dns=" << (*dns)->port()
            << " grpc=" << (grpc ? grpc->port() : 0) << std::endl;

  (*main_loop)->Run();

  (*dns)->Stop();
  (*host_resolver)->Stop();
  // gRPC clients are told to reconnect elsewhere and their connections released while the
  // registry, the driver and the HTTP loops are still running.
  if (grpc) grpc->Shutdown();
  // Parked long polls get their (empty) answers before the HTTP loops stop; give the loops a
  // moment to write them out.
  config_api.ReleaseListeners();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  (*http)->Stop();
  dns_lookup.Stop();
  if (udp_pusher) udp_pusher->Stop();
  (*health_checker)->Stop();
  if (cluster_naming) cluster_naming->Stop();
  if (raft_cluster) raft_cluster->Stop();
  spdlog::info("dnsd stopped");
  return 0;
}
