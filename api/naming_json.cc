#include "api/naming_json.h"

#include "common/strings.h"

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

void WriteHealthCheckerJson(JsonWriter& w, const registry::HealthCheckSpec& spec) {
  w.BeginObject().Key("type").String(registry::HealthCheckTypeName(spec.type));
  if (spec.type == registry::HealthCheckType::kHttp) {
    w.Key("path")
        .String(spec.path)
        .Key("headers")
        .String(spec.headers)
        .Key("expectedResponseCode")
        .Int(spec.expected_code);
  }
  w.EndObject();
}

void WriteInstanceJson(JsonWriter& w, const Instance& instance, const ServiceKey& service,
                       bool force_healthy) {
  HeartbeatPolicy policy;
  // Metadata was validated on the way in, so this only picks up overrides.
  if (!instance.metadata.empty()) {
    registry::ParseHeartbeatPolicy(instance.metadata, HeartbeatPolicy{}, policy).IgnoreError();
  }
  // The default id, built in a reused buffer: list answers encode many instances.
  thread_local std::string default_id;
  std::string_view id = instance.instance_id;
  if (id.empty()) {
    default_id.clear();
    registry::AppendDefaultInstanceId(default_id, instance.address, service);
    id = default_id;
  }
  const bool healthy = instance.healthy || force_healthy;
  w.BeginObject()
      .Key("instanceId")
      .String(id)
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
      .Bool(false);
  // What last set `healthy` (dnsd's own field; clients ignore unknown ones). Left out for
  // ephemeral instances still as registered: the common case, and the hot list path.
  if (!instance.ephemeral || instance.health_cause != registry::HealthCause::kRegistered) {
    w.Key("healthReason").String(registry::HealthCauseName(instance.health_cause));
  }
  w.EndObject();
}

namespace {

// About what one host costs in JSON; used to size buffers so encoding never reallocates.
constexpr size_t kHostJsonEstimate = 420;

void WriteHosts(JsonWriter& w, const ServiceView& view, const registry::Selection& selection) {
  w.BeginArray();
  for (const Instance* instance : selection.instances) {
    WriteInstanceJson(w, *instance, view.key(), selection.reach_protection_threshold);
  }
  w.EndArray();
}

std::string HostsJson(const ServiceView& view, const registry::Selection& selection) {
  JsonWriter w;
  w.str().reserve(16 + kHostJsonEstimate * selection.instances.size());
  WriteHosts(w, view, selection);
  return w.Take();
}

}  // namespace

std::string ServiceInfoJson(const ServiceKey& key, const ServiceView* view,
                            const ServiceInfoOptions& options) {
  // The common query (every enabled instance, no threshold) reuses the host list encoded once
  // per revision; reserving for it up front makes the answer a single allocation.
  const bool memoised =
      view != nullptr && options.clusters.empty() && !options.healthy_only && !view->meta().stored;
  const std::string* hosts = nullptr;
  if (memoised) {
    hosts = view->Memo([](const ServiceView& v) { return HostsJson(v, v.Select({}, false)); });
  }
  JsonWriter w;
  w.str().reserve(
      512 + (hosts ? hosts->size() : (view ? kHostJsonEstimate * view->instances().size() : 0)));
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
  } else if (hosts != nullptr) {
    w.Raw(*hosts);
  } else {  // filtered, protected, or past the memo budget: encode in place
    thread_local registry::Selection selection;  // reused: no allocation per request
    view->SelectInto(memoised ? std::string_view() : options.clusters, options.healthy_only,
                     selection);
    reach = selection.reach_protection_threshold;
    WriteHosts(w, *view, selection);
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
