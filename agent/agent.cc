#include "agent/agent.h"

#include <event2/event.h>

#include <csignal>
#include <iostream>

#include "agent/nacos_client.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "common/strings.h"
#include "dnsd/dns_front_end.h"
#include "registry/registry.h"
#include "spdlog/spdlog.h"

namespace dnsd::agent {
namespace {

constexpr int kStartupError = 2;

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

}  // namespace

int RunAgent(const DaemonConfig& config, const AgentConfig& agent) {
  auto fail = [](std::string_view message) {
    std::cerr << "dnsd agent: " << message << std::endl;
    return kStartupError;
  };
  if (agent.servers.empty()) return fail("no server to follow (--server host:port[,...])");
  common::SystemClock clock;
  common::MetricsRegistry metrics;
  registry::Registry registry{registry::RegistryOptions{}};
  dns::RegistryZone zone(dns::RegistryZoneOptionsFrom(config), metrics);
  registry.AddListener([&](const registry::ServiceKey& key,
                           const std::shared_ptr<const registry::ServiceView>& view) {
    zone.OnServiceChanged(key, view);
  });
  auto loop = common::EventLoop::Create();
  if (!loop.ok()) return fail(common::ToStd(loop.status().message()));
  auto dns = dns::DnsFrontEnd::Create(config, zone, clock, metrics, /*connection_budget=*/1024);
  if (!dns.ok()) return fail(common::ToStd(dns.status().message()));

  NacosClientOptions client_options;
  client_options.servers = agent.servers;
  client_options.namespace_id = agent.namespace_id;
  client_options.on_service = [&](const ServiceUpdate& update) {
    std::vector<registry::Registry::Publication> publications;
    publications.reserve(update.hosts.size());
    for (const auto& host : update.hosts) {
      auto instance = std::make_shared<registry::Instance>(host);
      instance->ephemeral = true;  // a copy here, whatever it is on the server
      publications.push_back({update.key, std::move(instance), false});
    }
    registry.ReplaceClient(ClientIdOf(update.key), std::move(publications), clock.NowMs());
  };
  NacosClient client(client_options);
  for (const auto& service : agent.services) client.Subscribe(KeyOf(service, agent.namespace_id));
  metrics.AddGauge("dnsd_agent_registry_connected", "1 while connected to a server",
                   [&] { return client.connected() ? 1.0 : 0.0; });

  auto on_signal = [](evutil_socket_t sig, short, void* arg) {
    spdlog::info("received signal {}, shutting down", sig);
    static_cast<common::EventLoop*>(arg)->Stop();
  };
  common::EventPtr sigterm(evsignal_new((*loop)->base(), SIGTERM, on_signal, loop->get()));
  common::EventPtr sigint(evsignal_new((*loop)->base(), SIGINT, on_signal, loop->get()));
  event_add(sigterm.get(), nullptr);
  event_add(sigint.get(), nullptr);
  (*loop)->RunEvery(1000, [&] { registry.Tick(clock.NowMs()); });

  client.Start();
  (*dns)->Start();
  spdlog::info("dnsd agent following {} service(s) from {}", agent.services.size(),
               agent.servers.size());
  // Tests and scripts read this line to learn the port when they asked for port 0.
  std::cout << "dnsd agent ready dns=" << (*dns)->port() << std::endl;
  (*loop)->Run();
  (*dns)->Stop();
  client.Stop();
  spdlog::info("dnsd agent stopped");
  return 0;
}

}  // namespace dnsd::agent
