#include "api/naming_json.h"

namespace dnsd::api {

using registry::HeartbeatPolicy;
using registry::Instance;
using registry::ServiceKey;
using registry::ServiceView;

void WriteMetadataJson(JsonWriter& w, const registry::Metadata& metadata) {
  w.BeginObject();
  for (const auto& [k, v] : metadata) w.Key(k).String(v);
  w.EndObject();
}

void WriteInstanceJson(JsonWriter& w, const Instance& instance, const ServiceKey& service,
                       bool force_healthy) {
  HeartbeatPolicy policy;
  // Metadata was validated on the way in, so this only picks up overrides.
  registry::ParseHeartbeatPolicy(instance.metadata, HeartbeatPolicy{}, policy).IgnoreError();
  const bool healthy = instance.healthy || force_healthy;
  w.BeginObject()
      .Key("instanceId")
      .String(registry::InstanceIdOf(instance, service))
      .Key("ip")
      .String(instance.ip())
      .Key("port")
      .Int(instance.port())
      .Key("weight")
      .Double(instance.weight)
      .Key("healthy")
      .Bool(healthy)
      .Key("enabled")
      .Bool(instance.enabled)
      .Key("ephemeral")
      .Bool(instance.ephemeral)
      .Key("clusterName")
      .String(instance.cluster())
      .Key("serviceName")
      .String(service.GroupedName());
  w.Key("metadata");
  WriteMetadataJson(w, instance.metadata);
  w.Key("instanceHeartBeatInterval")
      .Int(policy.interval_ms)
      .Key("instanceHeartBeatTimeOut")
      .Int(policy.timeout_ms)
      .Key("ipDeleteTimeout")
      .Int(policy.delete_timeout_ms)
      .Key("instanceIdGenerator")
      .String("simple")
      // 1.x clients read these two.
      .Key("valid")
      .Bool(healthy)
      .Key("marked")
      .Bool(false)
      .EndObject();
}

namespace {

std::string HostsJson(const ServiceView& view, const registry::Selection& selection) {
  JsonWriter w;
  w.BeginArray();
  for (const Instance* instance : selection.instances) {
    WriteInstanceJson(w, *instance, view.key(), selection.reach_protection_threshold);
  }
  w.EndArray();
  return w.Take();
}

}  // namespace

std::string ServiceInfoJson(const ServiceKey& key, const ServiceView* view,
                            const ServiceInfoOptions& options) {
  JsonWriter w;
  w.str().reserve(512);
  w.BeginObject()
      .Key("name")
      .String(options.grouped_name ? key.GroupedName() : key.name)
      .Key("groupName")
      .String(key.group)
      .Key("clusters")
      .String(options.clusters)
      .Key("cacheMillis")
      .Int(options.cache_millis);
  bool reach = false;
  w.Key("hosts");
  if (view == nullptr) {
    w.Raw("[]");
  } else if (options.clusters.empty() && !options.healthy_only && !view->meta().stored) {
    // The common query: every enabled instance, no threshold. Encoded once per revision.
    w.Raw(view->Memo([](const ServiceView& v) { return HostsJson(v, v.Select({}, false)); }));
  } else {
    const registry::Selection selection = view->Select(options.clusters, options.healthy_only);
    reach = selection.reach_protection_threshold;
    w.Raw(HostsJson(*view, selection));
  }
  w.Key("lastRefTime")
      .Int(options.now_ms)
      .Key("checksum")
      .String("")
      .Key("allIPs")
      .Bool(false)
      .Key("reachProtectionThreshold")
      .Bool(reach)
      .Key("valid")
      .Bool(true)
      .Key("dom")
      .String(options.grouped_name ? key.GroupedName() : key.name)
      .EndObject();
  return w.Take();
}

}  // namespace dnsd::api
