// DnsFrontEnd is the DNS side of a dnsd process, built from its configuration: static zones
// (loaded from `dns.zones`, reloaded on demand), the query pipeline over a registry zone, the
// forwarder for every other name (upstreams from the config, or the system's resolv.conf
// without dnsd itself), and the UDP/TCP server. The server and the DNS-F agent build the same
// one; they differ only in what feeds the registry zone.
//
// Thread-safety: Create/Start/Stop/ReloadZones on the owner's thread; the parts follow their
// own contracts once started.
#pragma once

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "dnsd/daemon_config.h"
#include "dnsd/dns_server.h"
#include "dnsd/forwarder.h"
#include "dnsd/host_resolver.h"
#include "dnsd/query_pipeline.h"
#include "dnsd/registry_zone.h"
#include "dnsd/static_zones.h"

namespace dnsd::dns {

// The registry zone's options from the `dns` section.
RegistryZoneOptions RegistryZoneOptionsFrom(const DaemonConfig& config);

// Starts `resolver` (host-name instances) against this process's own DNS listener at `port`:
// dns.address, or loopback when that is a wildcard. Nothing to do when DNS is off (port 0).
// The address dnsd's own clients (host resolver, the lookup API) reach its DNS listener at: the
// listen address, or loopback when it listens on every address.
std::string LocalDnsAddress(const DaemonConfig& config);
absl::Status StartHostResolver(HostResolver& resolver, const DaemonConfig& config, int port);

class DnsFrontEnd {
 public:
  // Nothing is built when dns.enabled is false (port() is then 0). `connection_budget`
  // bounds the TCP connections (a quarter of it).
  static absl::StatusOr<std::unique_ptr<DnsFrontEnd>> Create(const DaemonConfig& config,
                                                             RegistryZone& zone,
                                                             const common::Clock& clock,
                                                             common::MetricsRegistry& metrics,
                                                             int64_t connection_budget);
  void Start();
  void Stop();
  // Reads the zone files again (SIGHUP); bad files are logged and keep their old contents.
  void ReloadZones();
  int port() const { return server_ ? server_->port() : 0; }
  const QueryPipeline& pipeline() const { return pipeline_; }
  const StaticZones& static_zones() const { return static_zones_; }
  // Null when nothing is forwarded (no upstreams).
  const UpstreamForwarder* forwarder() const { return forwarder_.get(); }
  // The waiter of queries a followed zone parks (DnsServer::SetWaiter); before Start.
  void SetWaiter(Forwarder* waiter) {
    if (server_) server_->SetWaiter(waiter);
  }

 private:
  DnsFrontEnd(const DaemonConfig& config, RegistryZone& zone, common::MetricsRegistry& metrics);
  const std::string zones_path_;
  StaticZones static_zones_;
  DnsCookies cookies_;  // a random secret per process
  QueryPipeline pipeline_;
  std::unique_ptr<UpstreamForwarder> forwarder_;
  std::unique_ptr<DnsServer> server_;
};

}  // namespace dnsd::dns
