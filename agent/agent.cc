#include "agent/agent.h"

#include <event2/event.h>
#include <json/json.h>
#include <malloc.h>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <tuple>

#include "agent/nacos_client.h"
#include "agent/query_waiter.h"
#include "agent/service_follower.h"
#include "agent/snapshot.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/files.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "dnsd/dns_front_end.h"
#include "registry/registry.h"
#include "spdlog/spdlog.h"

namespace dnsd::agent {
namespace {

constexpr int kStartupError = 2;
constexpr int64_t kTickMs = 250;
constexpr int64_t kSnapshotEveryMs = 1000;
constexpr size_t kMaxParkedQueries = 10'000;

registry::ServiceKey KeyOf(const std::string& text, const std::string& namespace_id) {
  registry::ServiceKey key{namespace_id, std::string(registry::kDefaultGroup), text};
  if (const size_t at = text.find(registry::kGroupSeparator); at != std::string::npos) {
    key.group = text.substr(0, at);
    key.name = text.substr(at + registry::kGroupSeparator.size());
  }
  return key;
}

// The agent's registry holds each followed service as one remote client (the server's copy):
// a new list replaces the old one at once, and nothing here ever expires it.
std::string ClientIdOf(const registry::ServiceKey& key) {
  return common::StrCat("agent:", key.namespace_id, "#", key.GroupedName());
}

std::string StatusJson(const ServiceFollower& follower, const NacosClient& client,
                       bool snapshot_loaded) {
  Json::Value root(Json::objectValue);
  root["ready"] = follower.Ready();
  root["connected"] = client.connected();
  root["server"] = client.server();
  root["snapshotLoaded"] = snapshot_loaded;
  Json::Value services(Json::arrayValue);
  for (const auto& s : follower.Status()) {
    Json::Value v(Json::objectValue);
    v["namespace"] = s.key.namespace_id;
    v["group"] = s.key.group;
    v["name"] = s.key.name;
    v["state"] = s.state;
    v["instances"] = static_cast<Json::UInt64>(s.instances);
    v["ageMs"] = Json::Int64{s.age_ms};
    v["idleMs"] = Json::Int64{s.idle_ms};
    v["pinned"] = s.pinned;
    v["emptyListHeld"] = s.empty_held;
    services.append(std::move(v));
  }
  root["services"] = std::move(services);
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "  ";
  return Json::writeString(builder, root);
}

}  // namespace

int RunAgent(const DaemonConfig& config, const AgentConfig& agent) {
  auto fail = [](std::string_view message) {
    std::cerr << "dnsd agent: " << message << std::endl;
    return kStartupError;
  };
  if (agent.servers.empty()) return fail("no server to follow (--server host:port[,...])");
  common::SystemClock clock;
  common::MetricsRegistry metrics;
  // An empty service goes at the next tick: the follower, not the registry, knows whether it
  // is followed (a lingering entry would hide a dropped service from the next query's miss).
  registry::RegistryOptions registry_options;
  registry_options.empty_service_ttl_ms = 0;
  registry::Registry registry{registry_options};
  dns::RegistryZoneOptions zone_options = dns::RegistryZoneOptionsFrom(config);
  zone_options.default_namespace = agent.namespace_id;  // names without .ns are the agent's
  dns::RegistryZone zone(zone_options, metrics);
  auto host_resolver = dns::HostResolver::Create(metrics);
  if (!host_resolver.ok()) return fail(common::ToStd(host_resolver.status().message()));
  zone.SetHostResolver(host_resolver->get());
  registry.AddListener([&](const registry::ServiceKey& key,
                           const std::shared_ptr<const registry::ServiceView>& view) {
    zone.OnServiceChanged(key, view);
  });

  // The client and the follower call each other: the client is made once the follower is.
  std::unique_ptr<NacosClient> client;
  QueryWaiter waiter(config.agent_wait_ms, kMaxParkedQueries, metrics);
  FollowerOptions follower_options;
  follower_options.namespace_id = agent.namespace_id;
  for (const auto& service : agent.services) {
    follower_options.pinned.push_back(KeyOf(service, agent.namespace_id));
  }
  follower_options.max_stale_ms = config.agent_max_stale_ms;
  follower_options.stale_ttl = static_cast<uint32_t>(config.agent_stale_ttl);
  follower_options.idle_unsubscribe_ms = config.agent_idle_unsubscribe_ms;
  follower_options.push_empty_grace_ms = config.agent_push_empty_grace_ms;
  follower_options.fresh_hysteresis_ms = config.agent_fresh_hysteresis_ms;
  follower_options.max_services = static_cast<size_t>(config.agent_max_services);
  ServiceFollower::Hooks hooks;
  hooks.subscribe = [&](const registry::ServiceKey& key) { client->Subscribe(key); };
  hooks.unsubscribe = [&](const registry::ServiceKey& key) { client->Unsubscribe(key); };
  hooks.publish = [&](const registry::ServiceKey& key, const HostList& hosts) {
    std::vector<registry::Registry::Publication> publications;
    publications.reserve(hosts.size());
    for (const auto& host : hosts) publications.push_back({key, host, false});
    registry.ReplaceClient(ClientIdOf(key), std::move(publications), clock.NowMs());
  };
  hooks.data_arrived = [&] { waiter.Wake(); };
  hooks.check_exists = [&](const registry::ServiceKey& key) { client->CheckExists(key); };
  ServiceFollower follower(follower_options, clock, hooks, metrics);
  zone.SetFollower(&follower, metrics);

  NacosClientOptions client_options;
  client_options.servers = agent.servers;
  client_options.namespace_id = agent.namespace_id;
  client_options.username = config.agent_username;
  client_options.password = config.agent_password;
  client_options.http_port_offset = static_cast<int>(config.agent_http_port_offset);
  for (const auto& [path, out, what] :
       {std::tuple{config.agent_password_file, &client_options.password, "agent.password_file"},
        std::tuple{config.agent_tls_ca_file, &client_options.tls_ca_pem, "agent.tls_ca_file"}}) {
    if (path.empty()) continue;
    auto text = common::ReadFileToString(path, what);
    if (!text.ok()) return fail(common::ToStd(text.status().message()));
    *out = *std::move(text);
    // A password file's last line break is not part of the password.
    if (out == &client_options.password) *out = std::string(common::Trim(*out));
  }
  client_options.on_service = [&](const ServiceUpdate& update) { follower.OnList(update); };
  client_options.on_connection = [&](bool connected, const std::string&) {
    follower.OnConnection(connected);
  };
  client_options.on_subscription_failed = [&](const registry::ServiceKey& key) {
    follower.OnSubscriptionFailed(key);
  };
  client_options.on_existence = [&](const registry::ServiceKey& key, bool exists) {
    follower.OnExistence(key, exists);
  };
  client = std::make_unique<NacosClient>(client_options);

  // The snapshot: what was followed last time, answered (stale) until the servers confirm it.
  const std::string snapshot_path =
      config.agent_snapshot.empty() ? config.data_dir + "/agent-snapshot" : config.agent_snapshot;
  {
    std::error_code ec;
    const auto dir = std::filesystem::path(snapshot_path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return fail(common::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  }
  common::Counter& snapshot_damaged = metrics.GetCounter(
      "dnsd_agent_snapshot_damaged_total", "Snapshots refused at start as damaged (moved aside)");
  common::Counter& snapshot_writes =
      metrics.GetCounter("dnsd_agent_snapshot_writes_total", "Snapshots written");
  common::Counter& snapshot_write_failures = metrics.GetCounter(
      "dnsd_agent_snapshot_write_failures_total", "Snapshot writes that failed (disk full, ...)");
  bool snapshot_loaded = false;
  if (auto loaded = ReadSnapshot(snapshot_path); loaded.ok()) {
    if (loaded->namespace_id == agent.namespace_id) {
      follower.Restore(loaded->services);
      snapshot_loaded = !loaded->services.empty();
      spdlog::info("agent: loaded {} service(s) from {} written {} ms ago", loaded->services.size(),
                   snapshot_path, clock.NowMs() - loaded->written_ms);
    } else {
      spdlog::warn("agent: {} is of namespace {}, not {}; not used", snapshot_path,
                   loaded->namespace_id, agent.namespace_id);
    }
  } else if (!absl::IsNotFound(loaded.status())) {
    snapshot_damaged.Inc();
    const std::string aside = common::StrCat(snapshot_path, ".damaged-", clock.NowMs());
    std::error_code ec;
    std::filesystem::rename(snapshot_path, aside, ec);
    spdlog::error("agent: {}; starting without it (moved to {})",
                  common::ToStd(loaded.status().message()), aside);
  }
  auto save = [&] {
    Snapshot snapshot{agent.namespace_id, clock.NowMs(), follower.Saved()};
    if (auto s = WriteSnapshot(snapshot_path, snapshot); !s.ok()) {
      snapshot_write_failures.Inc();
      spdlog::error("agent: snapshot not written: {}", common::ToStd(s.message()));
      return false;
    }
    snapshot_writes.Inc();
    return true;
  };

  auto loop = common::EventLoop::Create();
  if (!loop.ok()) return fail(common::ToStd(loop.status().message()));
  auto dns = dns::DnsFrontEnd::Create(config, zone, clock, metrics, /*connection_budget=*/1024);
  if (!dns.ok()) return fail(common::ToStd(dns.status().message()));
  waiter.SetPipeline(&(*dns)->pipeline());
  (*dns)->SetWaiter(&waiter);

  metrics.AddGauge("dnsd_agent_registry_connected", "1 while connected to a server",
                   [&] { return client->connected() ? 1.0 : 0.0; });
  metrics.AddGauge("dnsd_agent_ready", "1 once ready (a server's data, or a snapshot)",
                   [&] { return follower.Ready() ? 1.0 : 0.0; });
  metrics.AddGauge("dnsd_agent_parked_queries", "Queries waiting for a new service's first list",
                   [&] { return static_cast<double>(waiter.parked()); });
  for (int state = 0; state < ServiceFollower::kStateCount; ++state) {
    metrics.AddGauge(
        "dnsd_agent_services", "Followed services by freshness state",
        [&follower, state] { return static_cast<double>(follower.Summarize().by_state[state]); },
        common::StrCat("state=\"", ServiceFollower::kStateNames[state], "\""));
  }
  metrics.AddGaugeFamily(
      "dnsd_agent_snapshot_age_seconds",
      "Per followed service: seconds since its data was last known current (0 while fresh)", [&] {
        common::MetricsRegistry::LabelledValues values;
        for (const auto& s : follower.Status()) {
          values.emplace_back(
              common::StrCat("namespace=\"",
                             common::MetricsRegistry::EscapeLabelValue(s.key.namespace_id),
                             "\",group=\"", common::MetricsRegistry::EscapeLabelValue(s.key.group),
                             "\",service=\"", common::MetricsRegistry::EscapeLabelValue(s.key.name),
                             "\",state=\"", s.state, "\""),
              static_cast<double>(s.age_ms) / 1000.0);
        }
        return values;
      });
  metrics.AddGauge("dnsd_agent_oldest_data_age_seconds",
                   "Age of the oldest data answered (since it was last known current)", [&] {
                     return static_cast<double>(follower.Summarize().oldest_age_ms) / 1000.0;
                   });
  metrics.AddCounterFn("dnsd_agent_pushes_total", "Service pushes applied and acknowledged",
                       [&] { return static_cast<double>(client->stats().pushes.load()); });
  metrics.AddCounterFn("dnsd_agent_connects_total", "Connections established to servers",
                       [&] { return static_cast<double>(client->stats().connects.load()); });
  metrics.AddCounterFn("dnsd_agent_failed_connection_attempts_total",
                       "Connection attempts or connections that failed",
                       [&] { return static_cast<double>(client->stats().failed_attempts.load()); });
  metrics.AddCounterFn("dnsd_agent_bad_messages_total", "Server messages that did not parse",
                       [&] { return static_cast<double>(client->stats().bad_messages.load()); });

  std::unique_ptr<api::HttpServer> http;
  if (config.agent_http_port >= 0) {
    api::HttpServerOptions http_options;
    http_options.address = config.agent_http_address;
    http_options.port = static_cast<int>(config.agent_http_port);
    http_options.threads = 1;
    http_options.max_connections = 64;
    auto created = api::HttpServer::Create(http_options, metrics);
    if (!created.ok()) return fail(common::ToStd(created.status().message()));
    http = std::move(*created);
    http->Route(
        "/ready",
        [&](const api::HttpRequest&, api::Responder& r) {
          const bool ready = follower.Ready();
          r.Send(api::HttpResponse::Text(ready ? 200 : 503, ready ? "ready\n" : "not ready\n"));
        },
        api::kGetMethod);
    http->Route(
        "/health",
        [](const api::HttpRequest&, api::Responder& r) {
          r.Send(api::HttpResponse::Text(200, "ok\n"));
        },
        api::kGetMethod);
    http->Route(
        "/metrics",
        [&](const api::HttpRequest&, api::Responder& r) {
          api::HttpResponse response = api::HttpResponse::Text(200, metrics.RenderPrometheus());
          response.content_type = "text/plain; version=0.0.4";
          r.Send(std::move(response));
        },
        api::kGetMethod);
    auto status = [&](const api::HttpRequest&, api::Responder& r) {
      r.Send(api::HttpResponse::Json(200, StatusJson(follower, *client, snapshot_loaded)));
    };
    http->Route("/status", status, api::kGetMethod);
    http->Route("/", status, api::kGetMethod);
  }

  auto on_signal = [](evutil_socket_t sig, short, void* arg) {
    spdlog::info("received signal {}, shutting down", sig);
    static_cast<common::EventLoop*>(arg)->Stop();
  };
  common::EventPtr sigterm(evsignal_new((*loop)->base(), SIGTERM, on_signal, loop->get()));
  common::EventPtr sigint(evsignal_new((*loop)->base(), SIGINT, on_signal, loop->get()));
  event_add(sigterm.get(), nullptr);
  event_add(sigint.get(), nullptr);
  (*loop)->RunEvery(kTickMs, [&] {
    follower.Tick();
    registry.Tick(clock.NowMs());
  });
  int64_t last_save_ms = 0;
  (*loop)->RunEvery(kTickMs, [&] {
    if (clock.NowMs() - last_save_ms < kSnapshotEveryMs || !follower.TakeDirty()) return;
    last_save_ms = clock.NowMs();
    if (!save()) follower.MarkDirty();  // try again at the next turn
    // Lists replaced and a snapshot encoded leave freed pages in every thread's arena; a
    // sidecar hands them back rather than sitting at its high-water mark.
    malloc_trim(0);
  });

  follower.Start();
  client->Start();
  (*dns)->Start();
  if (auto s = dns::StartHostResolver(**host_resolver, config, (*dns)->port()); !s.ok()) {
    return fail(common::ToStd(s.message()));
  }
  if (http) http->Start();
  spdlog::info("dnsd agent following {} pinned service(s) from {} server(s)", agent.services.size(),
               agent.servers.size());
  // Tests and scripts read this line to learn the ports when they asked for port 0.
  std::cout << "dnsd agent ready dns=" << (*dns)->port() << " http=" << (http ? http->port() : 0)
            << std::endl;
  (*loop)->Run();
  if (http) http->Stop();
  client->Stop();
  (*dns)->Stop();
  (*host_resolver)->Stop();
  save();
  spdlog::info("dnsd agent stopped");
  return 0;
}

}  // namespace dnsd::agent
