#include "dnsd/dns_overview_http.h"

#include "api/json_writer.h"
#include "common/strings.h"
#include "registry/naming_model.h"

namespace dnsd::dns {
namespace {

api::HttpResponse Error(int status, std::string_view message) {
  api::JsonWriter w;
  w.BeginObject().Key("error").String(message).EndObject();
  return api::HttpResponse::Json(status, w.Take());
}

void WriteStaticZones(api::JsonWriter& w, const StaticZones& zones) {
  w.BeginArray();
  for (const auto& zone : zones.Summaries()) {
    w.BeginObject()
        .Key("zone")
        .String(zone.zone)
        .Key("file")
        .String(zone.file)
        .Key("names")
        .Int(static_cast<int64_t>(zone.names))
        .Key("records")
        .Int(static_cast<int64_t>(zone.records))
        .Key("serial")
        .Int(zone.serial)
        .EndObject();
  }
  w.EndArray();
}

void WriteForwarder(api::JsonWriter& w, const UpstreamForwarder* forwarder) {
  w.BeginObject().Key("enabled").Bool(forwarder != nullptr);
  if (forwarder == nullptr) {
    w.EndObject();
    return;
  }
  const ForwarderSummary summary = forwarder->Summary();
  w.Key("upstreams").BeginArray();
  for (const auto& up : summary.upstreams) {
    w.BeginObject()
        .Key("address")
        .String(up.address)
        .Key("queries")
        .Int(static_cast<int64_t>(up.queries))
        .Key("failures")
        .Int(static_cast<int64_t>(up.failures))
        .Key("averageLatencyMs")
        .Double(up.average_latency_ms)
        .Key("up")
        .Bool(up.up)
        .EndObject();
  }
  const uint64_t lookups = summary.cache_hits + summary.cache_misses;
  w.EndArray()
      .Key("cache")
      .BeginObject()
      .Key("entries")
      .Int(summary.cache_entries)
      .Key("hits")
      .Int(static_cast<int64_t>(summary.cache_hits))
      .Key("misses")
      .Int(static_cast<int64_t>(summary.cache_misses))
      .Key("staleAnswers")
      .Int(static_cast<int64_t>(summary.stale_answers))
      .Key("hitRatio");
  if (lookups == 0) {
    w.Null();  // nothing forwarded yet: no ratio to speak of
  } else {
    w.Double(static_cast<double>(summary.cache_hits) / static_cast<double>(lookups));
  }
  w.EndObject().EndObject();
}

}  // namespace

void DnsOverviewHttp::RegisterRoutes(api::HttpServer& server) {
  server.Route(
      "/dnsd/v1/dns/overview",
      [this](const api::HttpRequest&, api::Responder& resp) { resp.Send(Overview()); },
      api::kGetMethod);
  server.Route(
      "/dnsd/v1/dns/names",
      [this](const api::HttpRequest& req, api::Responder& resp) { resp.Send(Names(req)); },
      api::kGetMethod);
}

api::HttpResponse DnsOverviewHttp::Overview() const {
  const RegistryZoneOptions& options = zone_.options();
  api::JsonWriter w;
  w.BeginObject()
      .Key("registryZone")
      .BeginObject()
      .Key("zone")
      .String(options.zone)
      .Key("serial")
      .Int(zone_.serial())
      .Key("ttl")
      .Int(options.ttl)
      .Key("negativeTtl")
      .Int(options.negative_ttl)
      .Key("defaultNamespace")
      .String(options.default_namespace)
      .Key("defaultGroup")
      .String(options.default_group)
      .Key("bareNames")
      .Bool(options.bare_names)
      .Key("compatSuffix")
      .String(options.compat_suffix)
      .Key("services")
      .Int(static_cast<int64_t>(zone_.service_count()))
      .EndObject();
  w.Key("dnsServing").Bool(front_end_ != nullptr && front_end_->port() != 0);
  w.Key("staticZones");
  if (front_end_ != nullptr) {
    WriteStaticZones(w, front_end_->static_zones());
  } else {
    w.BeginArray().EndArray();
  }
  w.Key("forwarder");
  WriteForwarder(w, front_end_ != nullptr ? front_end_->forwarder() : nullptr);
  w.EndObject();
  return api::HttpResponse::Json(200, w.Take());
}

api::HttpResponse DnsOverviewHttp::Names(const api::HttpRequest& req) const {
  registry::ServiceKey key;
  key.namespace_id = std::string(common::Trim(req.params.Get("namespaceId")));
  if (key.namespace_id.empty()) key.namespace_id = std::string(registry::kDefaultNamespace);
  key.group = std::string(common::Trim(req.params.Get("groupName")));
  if (key.group.empty()) key.group = std::string(registry::kDefaultGroup);
  key.name = req.params.Get("serviceName");
  if (const size_t sep = key.name.find(registry::kGroupSeparator); sep != std::string::npos) {
    key.group = key.name.substr(0, sep);  // group@@service, as Nacos's v1 API takes it
    key.name = key.name.substr(sep + registry::kGroupSeparator.size());
  }
  if (key.name.empty() || key.group.empty()) {
    return Error(400, "Parameter 'serviceName' is missing");
  }
  bool natural_collides = false;
  const auto names = zone_.NamesOf(key, &natural_collides);
  api::JsonWriter w;
  w.BeginObject()
      .Key("namespaceId")
      .String(key.namespace_id)
      .Key("groupName")
      .String(key.group)
      .Key("serviceName")
      .String(key.name)
      .Key("naturalNameCollides")
      .Bool(natural_collides)
      .Key("names")
      .BeginArray();
  for (const auto& name : names) {
    w.BeginObject()
        .Key("name")
        .String(name.name)
        .Key("form")
        .String(name.form)
        .Key("cluster")
        .String(name.cluster)
        .Key("types")
        .BeginArray();
    for (const auto& type : name.types) w.String(type);
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
  return api::HttpResponse::Json(200, w.Take());
}

}  // namespace dnsd::dns
