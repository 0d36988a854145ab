// The console's view of dnsd's DNS side, beside the lookup API (dns_lookup_http.h):
//   GET /dnsd/v1/dns/overview: the registry zone (name, serial, TTLs, compatibility names),
//     the static zones loaded (file, names, records, serial), the forwarder's upstreams (queries,
//     failures, latency, up) and its cache (entries, hits, misses, hit ratio);
//   GET /dnsd/v1/dns/names?namespaceId=&groupName=&serviceName=: every name the registry zone
//     answers to for that service (natural, .enc, per cluster, RFC 2782, compatibility) and the
//     types each has data for now (RegistryZone::NamesOf).
// Both read snapshots the DNS side keeps anyway; nothing here is on the query path.
// Thread-safety: SetFrontEnd before the HTTP server serves; routes run on any HTTP thread.
#pragma once

#include "api/http_server.h"
#include "dnsd/dns_front_end.h"
#include "dnsd/registry_zone.h"

namespace dnsd::dns {

class DnsOverviewHttp {
 public:
  explicit DnsOverviewHttp(const RegistryZone& zone) : zone_(zone) {}
  void RegisterRoutes(api::HttpServer& server);
  // The static zones and forwarder; without one (DNS off) the overview has neither.
  void SetFrontEnd(const DnsFrontEnd* front_end) { front_end_ = front_end; }

 private:
  api::HttpResponse Overview() const;
  api::HttpResponse Names(const api::HttpRequest& req) const;

  const RegistryZone& zone_;
  const DnsFrontEnd* front_end_ = nullptr;
};

}  // namespace dnsd::dns
