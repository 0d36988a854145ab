#include "dnsd/dns_front_end.h"

#include "spdlog/fmt/ranges.h"
#include "spdlog/spdlog.h"

namespace dnsd::dns {

std::string LocalDnsAddress(const DaemonConfig& config) {
  const std::string& ip = config.dns_address;
  if (ip == "0.0.0.0" || ip.empty()) return "127.0.0.1";
  if (ip == "::") return "::1";
  return ip;
}

absl::Status StartHostResolver(HostResolver& resolver, const DaemonConfig& config, int port) {
  if (port == 0) return absl::OkStatus();
  auto address = common::SocketAddress::FromIp(LocalDnsAddress(config), port);
  if (!address.ok()) return address.status();
  return resolver.Start(*address);
}

RegistryZoneOptions RegistryZoneOptionsFrom(const DaemonConfig& config) {
  RegistryZoneOptions options;
  options.zone = config.dns_zone;
  options.ttl = static_cast<uint32_t>(config.dns_ttl);
  options.negative_ttl = static_cast<uint32_t>(config.dns_negative_ttl);
  options.addr_ttl = static_cast<uint32_t>(config.dns_addr_ttl);
  options.minimal_responses = config.dns_minimal_responses;
  options.bare_names = config.dns_bare_names;
  options.compat_suffix = config.dns_compat_suffix;
  options.ns_address = config.advertise_ip;
  return options;
}

DnsFrontEnd::DnsFrontEnd(const DaemonConfig& config, RegistryZone& zone,
                         common::MetricsRegistry& metrics)
    : zones_path_(config.dns_zones), pipeline_(zone, metrics) {
  pipeline_.SetStaticZones(&static_zones_);
  if (config.dns_cookies) pipeline_.SetCookies(&cookies_);
}

absl::StatusOr<std::unique_ptr<DnsFrontEnd>> DnsFrontEnd::Create(const DaemonConfig& config,
                                                                 RegistryZone& zone,
                                                                 const common::Clock& clock,
                                                                 common::MetricsRegistry& metrics,
                                                                 int64_t connection_budget) {
  std::unique_ptr<DnsFrontEnd> front(new DnsFrontEnd(config, zone, metrics));
  if (!config.dns_enabled) return front;
  if (config.forward_enabled) {
    ForwarderOptions forward_options;
    forward_options.upstreams = config.forward_upstreams;
    if (forward_options.upstreams.empty()) {
      // Every nameserver of the system's resolv.conf, except dnsd itself.
      for (const auto& ns : ReadResolvConf(config.forward_resolv_conf)) {
        const bool is_self = config.dns_port == 53 &&
                             (ns == config.dns_address ||
                              ((config.dns_address == "0.0.0.0" || config.dns_address == "::") &&
                               (ns.rfind("127.", 0) == 0 || ns == "::1")));
        if (!is_self) forward_options.upstreams.push_back(ns);
      }
    }
    forward_options.timeout_ms = config.forward_timeout_ms;
    forward_options.cache_max_entries = config.cache_max_entries;
    forward_options.cache_min_ttl = config.cache_min_ttl;
    forward_options.cache_max_ttl = config.cache_max_ttl;
    forward_options.cache_negative_max_ttl = config.cache_negative_max_ttl;
    forward_options.stale_max_s = config.stale_max_s;
    if (!forward_options.upstreams.empty()) {
      auto created = UpstreamForwarder::Create(forward_options, clock, metrics);
      if (!created.ok()) return created.status();
      front->forwarder_ = std::move(*created);
      front->pipeline_.SetForwardingEnabled(true);
      spdlog::info("forwarding other names to {}", fmt::join(forward_options.upstreams, ", "));
    } else {
      spdlog::warn("no upstream resolvers: names outside our zones get REFUSED");
    }
  }
  front->ReloadZones();
  DnsServerOptions dns_options;
  dns_options.address = config.dns_address;
  dns_options.port = config.dns_port;
  dns_options.workers = config.dns_workers;
  dns_options.tcp_idle_timeout_ms = config.dns_tcp_idle_timeout_ms;
  dns_options.tcp_message_timeout_ms = config.dns_tcp_message_timeout_ms;
  dns_options.tcp_max_connections = static_cast<int>(std::min<int64_t>(
      config.dns_tcp_max_connections, std::max<int64_t>(connection_budget / 4, 16)));
  dns_options.tcp_max_per_client = config.dns_tcp_max_per_client;
  dns_options.forward_allow = config.dns_forward_allow;
  dns_options.rrl.responses_per_second = static_cast<uint32_t>(config.dns_rrl_responses_per_second);
  dns_options.rrl.slip = static_cast<uint32_t>(config.dns_rrl_slip);
  dns_options.rrl.ipv4_prefix = static_cast<int>(config.dns_rrl_ipv4_prefix);
  dns_options.rrl.ipv6_prefix = static_cast<int>(config.dns_rrl_ipv6_prefix);
  dns_options.rrl.exempt = config.dns_rrl_exempt;
  auto created = DnsServer::Create(dns_options, front->pipeline_, front->forwarder_.get(), metrics);
  if (!created.ok()) return created.status();
  front->server_ = std::move(*created);
  return front;
}

void DnsFrontEnd::Start() {
  if (server_) server_->Start();
}

void DnsFrontEnd::Stop() {
  if (server_) server_->Stop();
}

void DnsFrontEnd::ReloadZones() {
  const auto files = ZoneFilesIn(zones_path_);
  for (const auto& error : static_zones_.Reload(files)) spdlog::error("zone file: {}", error);
  spdlog::info("serving {} static zone(s) from {}", static_zones_.zone_count(), zones_path_);
}

}  // namespace dnsd::dns
