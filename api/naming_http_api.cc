#include "api/naming_http_api.h"

#include <json/json.h>

#include <algorithm>
#include <random>
#include <set>

#include "api/grpc_server.h"
#include "api/json_writer.h"
#include "api/naming_json.h"
#include "api/request_parsing.h"
#include "api/udp_push.h"
#include "common/socket_address.h"
#include "common/status_macros.h"
#include "common/strings.h"
#include "node/log_entries.h"

namespace dnsd::api {

using registry::Command;
using registry::CommandType;
using registry::InstanceAddress;
using registry::ServiceKey;

// ---------------------------------------------------------------- switches

NamingSwitches::NamingSwitches() {
  auto put = [&](std::string name, Type type, std::string literal) {
    values_[std::move(name)] = Value{type, std::move(literal)};
  };
  put("name", Type::kString, "\"00-00---000-NACOS_SWITCH_DOMAIN-000---00-00\"");
  put("masters", Type::kJson, "null");
  put("adWeightMap", Type::kJson, "{}");
  put("defaultPushCacheMillis", Type::kInt, "10000");
  put("clientBeatInterval", Type::kInt, "5000");
  put("defaultCacheMillis", Type::kInt, "3000");
  put("distroThreshold", Type::kDouble, "0.7");
  put("healthCheckEnabled", Type::kBool, "true");
  put("autoChangeHealthCheckEnabled", Type::kBool, "true");
  put("distroEnabled", Type::kBool, "true");
  put("enableStandalone", Type::kBool, "true");
  put("pushEnabled", Type::kBool, "true");
  put("checkTimes", Type::kInt, "3");
  put("httpHealthParams", Type::kJson, R"({"max":5000,"min":500,"factor":0.85})");
  put("tcpHealthParams", Type::kJson, R"({"max":5000,"min":1000,"factor":0.75})");
  put("mysqlHealthParams", Type::kJson, R"({"max":3000,"min":2000,"factor":0.65})");
  put("incrementalList", Type::kJson, "[]");
  put("serverStatusSynchronizationPeriodMillis", Type::kInt, "2000");
  put("serviceStatusSynchronizationPeriodMillis", Type::kInt, "5000");
  put("disableAddIP", Type::kBool, "false");
  put("sendBeatOnly", Type::kBool, "false");
  put("lightBeatEnabled", Type::kBool, "true");
  put("limitedUrlMap", Type::kJson, "{}");
  put("distroServerExpiredMillis", Type::kInt, "10000");
  put("pushGoVersion", Type::kString, "\"0.1.0\"");
  put("pushJavaVersion", Type::kString, "\"0.1.0\"");
  put("pushPythonVersion", Type::kString, "\"0.4.3\"");
  put("pushCVersion", Type::kString, "\"1.0.12\"");
  put("pushCSharpVersion", Type::kString, "\"0.9.0\"");
  put("enableAuthentication", Type::kBool, "false");
  put("overriddenServerStatus", Type::kJson, "null");
  put("defaultInstanceEphemeral", Type::kBool, "true");
  put("healthCheckWhiteList", Type::kJson, "[]");
}

std::string NamingSwitches::Json() const {
  std::lock_guard lock(mu_);
  JsonWriter w;
  w.BeginObject();
  for (const auto& [name, value] : values_) w.Key(name).Raw(value.literal);
  w.EndObject();
  return w.Take();
}

absl::Status NamingSwitches::Set(std::string_view entry, std::string_view value) {
  std::lock_guard lock(mu_);
  auto it = values_.find(entry);
  if (it == values_.end() || entry == "name") {
    return InvalidParam(kParameterValidateError,
                        common::StrCat("update entry '", entry, "' is not supported"));
  }
  Value& v = it->second;
  const std::string_view trimmed = common::Trim(value);
  switch (v.type) {
    case Type::kBool: {
      const std::string lower = common::ToLower(trimmed);
      if (lower != "true" && lower != "false") {
        return InvalidParam(kParameterValidateError,
                            common::StrCat(entry, " must be true or false"));
      }
      v.literal = lower;
      return absl::OkStatus();
    }
    case Type::kInt: {
      int64_t n;
      if (!common::ParseInt64(trimmed, n) || n < 0) {
        return InvalidParam(kParameterValidateError,
                            common::StrCat(entry, " must be a non-negative integer"));
      }
      v.literal = common::StrCat(n);
      return absl::OkStatus();
    }
    case Type::kDouble: {
      double d;
      if (!common::ParseDouble(trimmed, d) || d < 0) {
        return InvalidParam(kParameterValidateError,
                            common::StrCat(entry, " must be a non-negative number"));
      }
      JsonWriter w;
      w.Double(d);
      v.literal = w.Take();
      return absl::OkStatus();
    }
    case Type::kString: {
      std::string quoted;
      JsonWriter::AppendQuoted(quoted, trimmed);
      v.literal = quoted;
      return absl::OkStatus();
    }
    case Type::kJson: {
      if (entry == "overriddenServerStatus") {
        static const std::vector<std::string_view> kStates = {"UP", "DOWN", "WRITE_ONLY",
                                                              "READ_ONLY"};
        if (trimmed.empty() || trimmed == "null") {
          v.literal = "null";
          return absl::OkStatus();
        }
        if (std::find(kStates.begin(), kStates.end(), trimmed) == kStates.end()) {
          return InvalidParam(kParameterValidateError,
                              "overriddenServerStatus must be UP, DOWN, WRITE_ONLY or READ_ONLY");
        }
        v.literal = common::StrCat("\"", trimmed, "\"");
        return absl::OkStatus();
      }
      return InvalidParam(kParameterValidateError,
                          common::StrCat("update entry '", entry, "' is read-only"));
    }
  }
  return absl::InternalError("unknown switch type");
}

int64_t NamingSwitches::Int(std::string_view entry) const {
  std::lock_guard lock(mu_);
  int64_t n = 0;
  if (auto it = values_.find(entry); it != values_.end())
    (void)common::ParseInt64(it->second.literal, n);
  return n;
}

bool NamingSwitches::Bool(std::string_view entry) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(entry);
  return it != values_.end() && it->second.literal == "true";
}

std::string NamingSwitches::String(std::string_view entry) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(entry);
  if (it == values_.end() || it->second.literal == "null") return "";
  std::string_view s = it->second.literal;
  if (s.size() >= 2 && s.front() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

// ---------------------------------------------------------------- subscribers

void SubscriberBook::Record(const ServiceKey& key, Subscriber subscriber) {
  std::lock_guard lock(mu_);
  auto& book = by_service_[key];
  book[subscriber.address] = std::move(subscriber);
}

std::vector<SubscriberBook::Subscriber> SubscriberBook::List(const ServiceKey& key,
                                                             int64_t now_ms) const {
  std::lock_guard lock(mu_);
  std::vector<Subscriber> out;
  auto it = by_service_.find(key);
  if (it == by_service_.end()) return out;
  for (const auto& [address, s] : it->second) {
    if (now_ms - s.last_seen_ms <= kExpiryMs) out.push_back(s);
  }
  return out;
}

// ---------------------------------------------------------------- helpers

NamingHttpApi::NamingHttpApi(registry::Registry& registry, const config::ConfigStore& namespaces,
                             node::Proposer& proposer, const common::Clock& clock,
                             common::MetricsRegistry& metrics, NodeIdentity identity)
    : registry_(registry),
      namespaces_(namespaces),
      proposer_(proposer),
      clock_(clock),
      metrics_(metrics),
      identity_(std::move(identity)),
      forwarded_writes_(&metrics.GetCounter(
          "dnsd_distro_forwarded_requests_total",
          "HTTP ephemeral writes and beats forwarded to the member that owns their client")),
      forward_fallbacks_(&metrics.GetCounter(
          "dnsd_distro_forward_fallbacks_total",
          "Forwarded requests served here because their owner could not be reached")) {}

bool NamingHttpApi::ForwardToOwner(const HttpRequest& req, Responder& resp,
                                   const registry::InstanceAddress& address) {
  if (!routing_.remote_owner || !req.Header(kForwardedHeader).empty()) return false;
  const std::string owner = routing_.remote_owner(registry::HttpClientId(address));
  if (owner.empty()) return false;
  forwarded_writes_->Inc();
  auto copy = std::make_shared<OwnedHttpRequest>(req);
  DeferredReply reply = resp.Defer();
  routing_.forward(owner, copy->request, [this, copy, reply](std::optional<HttpResponse> answer) {
    if (answer) {
      reply.Send(std::move(*answer));
      return;
    }
    // Availability first: the owner is unreachable, so the write is made
    // here; the ring gives the client to a live member once the owner is
    // seen down, and that member's copy wins.
    forward_fallbacks_->Inc();
    copy->headers.emplace_back(std::string(kForwardedHeader),
                               identity_.ip + ":" + std::to_string(identity_.http_port));
    server_->DispatchInternal(copy->request, [reply](HttpResponse r) { reply.Send(std::move(r)); });
  });
  return true;
}

void NamingHttpApi::Reject(ApiVersion v, Resp resp, const absl::Status& status) {
  resp.Send(CountedErrorResponse(metrics_, v, status));
}

absl::StatusOr<std::string> NamingHttpApi::NamespaceFrom(ApiVersion v, const Params& params) const {
  std::string ns = std::string(common::Trim(params.Get("namespaceId")));
  if (ns.empty()) ns = std::string(registry::kDefaultNamespace);
  if (v == ApiVersion::kV2 && !namespaces_.NamespaceExists(ns)) {
    return InvalidParam(kNamespaceNotExist, common::StrCat("namespace '", ns, "' does not exist"));
  }
  return ns;
}

absl::StatusOr<ServiceKey> NamingHttpApi::ServiceKeyFrom(ApiVersion v, const Params& params) const {
  auto name = RequiredParam(params, "serviceName");
  if (!name.ok()) return name.status();
  auto ns = NamespaceFrom(v, params);
  if (!ns.ok()) return ns.status();
  ServiceKey key;
  key.namespace_id = *ns;
  std::string group = std::string(common::Trim(params.Get("groupName")));
  const size_t sep = name->find(registry::kGroupSeparator);
  if (sep != std::string::npos) {
    // v1 clients send group@@service; the prefix wins over groupName.
    key.group = name->substr(0, sep);
    key.name = name->substr(sep + registry::kGroupSeparator.size());
    if (key.group.empty() || key.name.empty()) {
      return InvalidParam(kServiceNameError,
                          common::StrCat("serviceName '", *name, "' is not group@@service"));
    }
  } else {
    key.group = group.empty() ? std::string(registry::kDefaultGroup) : group;
    key.name = *name;
  }
  if (auto s = registry::ValidateClientServiceKey(key); !s.ok()) {
    return WithCode(s, kServiceNameError);
  }
  return key;
}

namespace {

absl::StatusOr<InstanceAddress> AddressFrom(const Params& params) {
  InstanceAddress address;
  auto ip = RequiredParam(params, "ip");
  if (!ip.ok()) return ip.status();
  address.ip = std::string(common::Trim(*ip));
  if (!params.Has("port")) return MissingParam("port");
  auto port = IntParam(params, "port", -1);
  if (!port.ok()) return port.status();
  if (*port < 1 || *port > 65535) {
    return InvalidParam(kParameterValidateError,
                        common::StrCat("port ", *port, " is out of range [1, 65535]"));
  }
  address.port = static_cast<int>(*port);
  const std::string cluster =
      std::string(common::Trim(ParamAny(params, {"clusterName", "cluster"}).value_or("")));
  if (!cluster.empty()) address.cluster = cluster;
  if (auto s = registry::ValidateClientClusterName(address.cluster); !s.ok()) {
    return WithCode(s, kParameterValidateError);
  }
  return address;
}

absl::StatusOr<registry::Instance> InstanceFrom(const Params& params, bool default_ephemeral) {
  registry::Instance instance;
  auto address = AddressFrom(params);
  if (!address.ok()) return address.status();
  instance.address = *address;
  auto weight = OptionalDouble(params, "weight");
  if (!weight.ok()) return WithCode(weight.status(), kWeightError);
  instance.weight = weight->value_or(1.0);
  if (!(instance.weight >= 0 && instance.weight <= 10000)) {
    return InvalidParam(kWeightError,
                        common::StrCat("weight ", instance.weight, " is out of range [0, 10000]"));
  }
  auto enabled = OptionalBool(params, {"enabled", "enable"});
  if (!enabled.ok()) return enabled.status();
  instance.enabled = enabled->value_or(true);
  auto healthy = OptionalBool(params, {"healthy"});
  if (!healthy.ok()) return healthy.status();
  instance.healthy = healthy->value_or(true);
  auto ephemeral = OptionalBool(params, {"ephemeral"});
  if (!ephemeral.ok()) return ephemeral.status();
  instance.ephemeral = ephemeral->value_or(default_ephemeral);
  auto metadata = ParseMetadata(params.Get("metadata"));
  if (!metadata.ok()) return metadata.status();
  instance.metadata = std::move(*metadata);
  if (auto s = registry::ValidateClientInstance(instance); !s.ok()) {
    return WithCode(s,
                    common::ToStd(s.message()).find("metadata") != std::string_view::npos ||
                            common::ToStd(s.message()).find("heart beat") != std::string_view::npos
                        ? kInstanceMetadataError
                        : kParameterValidateError);
  }
  return instance;
}

const registry::Instance* FindInstance(const registry::ServiceView* view,
                                       const InstanceAddress& address) {
  if (view == nullptr) return nullptr;
  for (const auto& instance : view->instances()) {
    if (instance->address == address) return instance.get();
  }
  return nullptr;
}

#define API_TRY(v, resp, lhs, expr) \
  auto lhs = (expr);                \
  if (!lhs.ok()) {                  \
    Reject(v, resp, lhs.status());  \
    return;                         \
  }

}  // namespace

void NamingHttpApi::Propose(ApiVersion v, Command command, Resp resp,
                            std::function<HttpResponse()> on_success) {
  command.timestamp_ms = clock_.NowMs();
  if (auto s = registry_.Precheck(command); !s.ok()) {
    Reject(v, resp, s);
    return;
  }
  DeferredReply reply = resp.Defer();
  proposer_.Propose(node::NamingLogEntry(command),
                    [reply, v, on_success = std::move(on_success)](absl::Status s) {
                      reply.Send(s.ok() ? on_success() : ErrorResponse(v, s));
                    });
}

// ---------------------------------------------------------------- instances

void NamingHttpApi::Instance(ApiVersion v, Req req, Resp resp) {
  switch (req.method) {
    case Method::kPost:
      return RegisterInstance(v, req, resp);
    case Method::kDelete:
      return DeregisterInstance(v, req, resp);
    case Method::kPut:
      return UpdateInstance(v, req, resp, /*patch=*/false);
    case Method::kPatch:
      return UpdateInstance(v, req, resp, /*patch=*/true);
    case Method::kGet:
      return GetInstance(v, req, resp);
    default:
      resp.Send(HttpResponse::Text(405, "method not allowed"));
  }
}

void NamingHttpApi::RegisterInstance(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, instance, InstanceFrom(req.params, switches_.Bool("defaultInstanceEphemeral")));
  if (instance->ephemeral) {
    if (ForwardToOwner(req, resp, instance->address)) return;
    const std::string owner = registry::HttpClientId(instance->address);
    auto s = registry_.RegisterEphemeral(*key, std::move(*instance), owner,
                                         /*heartbeat_driven=*/true, clock_.NowMs());
    if (!s.ok()) return Reject(v, resp, s);
    return resp.Send(SuccessOk(v));
  }
  Command c;
  c.type = CommandType::kRegisterInstance;
  c.service = *key;
  c.instance = std::move(*instance);
  Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
}

void NamingHttpApi::DeregisterInstance(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, address, AddressFrom(req.params));
  API_TRY(v, resp, ephemeral,
          BoolParam(req.params, "ephemeral", switches_.Bool("defaultInstanceEphemeral")));
  if (*ephemeral) {
    if (ForwardToOwner(req, resp, *address)) return;
    auto s = registry_.DeregisterEphemeral(*key, *address, clock_.NowMs());
    if (!s.ok()) return Reject(v, resp, s);
    return resp.Send(SuccessOk(v));
  }
  Command c;
  c.type = CommandType::kDeregisterInstance;
  c.service = *key;
  c.instance.address = *address;
  Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
}

void NamingHttpApi::UpdateInstance(ApiVersion v, Req req, Resp resp, bool patch) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, address, AddressFrom(req.params));
  API_TRY(v, resp, ephemeral_param, OptionalBool(req.params, {"ephemeral"}));
  API_TRY(v, resp, weight, OptionalDouble(req.params, "weight"));
  API_TRY(v, resp, enabled, OptionalBool(req.params, {"enabled", "enable"}));
  API_TRY(v, resp, healthy, OptionalBool(req.params, {"healthy"}));
  registry::InstancePatch changes;
  if (patch) {
    changes.weight = *weight;
    changes.enabled = *enabled;
    changes.healthy = *healthy;
    if (req.params.Has("metadata")) {
      API_TRY(v, resp, metadata, ParseMetadata(req.params.Get("metadata")));
      changes.metadata = std::move(*metadata);
    }
  } else {
    // PUT replaces the overlay: anything not given goes back to its default.
    changes.weight = weight->value_or(1.0);
    changes.enabled = enabled->value_or(true);
    API_TRY(v, resp, metadata, ParseMetadata(req.params.Get("metadata")));
    changes.metadata = std::move(*metadata);
  }
  if (changes.weight && !(*changes.weight >= 0 && *changes.weight <= 10000)) {
    return Reject(v, resp,
                  InvalidParam(kWeightError, common::StrCat("weight ", *changes.weight,
                                                            " is out of range [0, 10000]")));
  }
  if (changes.metadata) {
    registry::HeartbeatPolicy ignored;
    if (auto s = registry::ParseHeartbeatPolicy(*changes.metadata, {}, ignored); !s.ok()) {
      return Reject(v, resp, WithCode(s, kInstanceMetadataError));
    }
  }
  // Without an explicit kind, update whichever instance exists at that address.
  bool ephemeral = switches_.Bool("defaultInstanceEphemeral");
  if (*ephemeral_param) {
    ephemeral = **ephemeral_param;
  } else if (const auto view = registry_.Find(*key)) {
    // The view is held while its instance is read: a concurrent write may replace it.
    if (const auto* found = FindInstance(view.get(), *address)) ephemeral = found->ephemeral;
  }
  if (ephemeral) {
    if (ForwardToOwner(req, resp, *address)) return;
    auto s = registry_.UpdateEphemeral(*key, *address, changes, clock_.NowMs());
    if (!s.ok())
      return Reject(v, resp,
                    s.code() == absl::StatusCode::kNotFound ? WithCode(s, kInstanceNotFound) : s);
    return resp.Send(SuccessOk(v));
  }
  Command c;
  c.type = CommandType::kUpdateInstance;
  c.service = *key;
  c.instance.address = *address;
  c.patch = std::move(changes);
  c.require_existing = true;
  if (!registry_.Find(*key)) {
    return Reject(v, resp,
                  InvalidParam(kServiceNotExist,
                               common::StrCat("service not found, namespace: ", key->namespace_id,
                                              ", service: ", key->GroupedName())));
  }
  if (!FindInstance(registry_.Find(*key).get(), *address)) {
    return Reject(v, resp,
                  WithCode(absl::NotFoundError(common::StrCat("instance not found: ", address->ip,
                                                              ":", address->port)),
                           kInstanceNotFound));
  }
  Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
}

void NamingHttpApi::GetInstance(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, address, AddressFrom(req.params));
  const auto view = registry_.Find(*key);
  const registry::Instance* instance = FindInstance(view.get(), *address);
  if (instance == nullptr) {
    return Reject(v, resp,
                  WithCode(absl::NotFoundError(common::StrCat("no matched ip found: ", address->ip,
                                                              ":", address->port, " in service ",
                                                              key->GroupedName())),
                           kInstanceNotFound));
  }
  JsonWriter w;
  w.BeginObject()
      .Key(v == ApiVersion::kV1 ? "service" : "serviceName")
      .String(key->GroupedName())
      .Key("ip")
      .String(instance->ip())
      .Key("port")
      .Int(instance->port())
      .Key("clusterName")
      .String(instance->cluster())
      .Key("weight")
      .Double(instance->weight)
      .Key("healthy")
      .Bool(instance->healthy)
      .Key("healthReason")
      .String(registry::HealthCauseName(instance->health_cause))
      .Key("enabled")
      .Bool(instance->enabled)
      .Key("ephemeral")
      .Bool(instance->ephemeral)
      .Key("instanceId")
      .String(registry::InstanceIdOf(*instance, *key))
      .Key("metadata");
  WriteMetadataJson(w, instance->metadata);
  w.EndObject();
  resp.Send(SuccessJson(v, w.Take()));
}

void NamingHttpApi::ListInstances(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, healthy_only, BoolParam(req.params, "healthyOnly", false));
  API_TRY(v, resp, udp_port, IntParam(req.params, "udpPort", 0));
  const int64_t now = clock_.NowMs();
  ServiceInfoOptions options;
  std::string clusters = ParamAny(req.params, {"clusters", "clusterName"}).value_or("");
  options.clusters = clusters;
  options.healthy_only = *healthy_only;
  options.cache_millis = switches_.Int("defaultPushCacheMillis");
  options.now_ms = now;
  if (*udp_port > 0 && *udp_port <= 65535) {
    // Nacos pushes to the clientIP the query names; one that is not an address (an SDK
    // that could not tell its own) falls back to where the query came from.
    std::string client_ip = req.params.Get("clientIP");
    if (!common::SocketAddress::FromIp(client_ip, 0).ok()) client_ip = req.remote_ip;
    subscribers_.Record(*key, SubscriberBook::Subscriber{common::StrCat(client_ip, ":", *udp_port),
                                                         std::string(req.Header("User-Agent")),
                                                         req.params.Get("app"), clusters, now, ""});
    if (udp_pusher_ != nullptr) {
      udp_pusher_->Record(*key, client_ip, static_cast<int>(*udp_port), clusters, *healthy_only);
    }
  }
  const auto view = registry_.Find(*key);
  resp.Send(SuccessJson(v, ServiceInfoJson(*key, view.get(), options)));
}

void NamingHttpApi::Beat(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  std::optional<BeatInfo> beat;
  if (const std::string* text = req.params.Find("beat"); text && !common::Trim(*text).empty()) {
    API_TRY(v, resp, parsed, ParseBeat(*text));
    beat = std::move(*parsed);
  }
  InstanceAddress address;
  address.ip = beat && beat->ip ? *beat->ip : req.params.Get("ip");
  if (beat && beat->port) {
    address.port = *beat->port;
  } else {
    API_TRY(v, resp, port, IntParam(req.params, "port", 0));
    address.port = static_cast<int>(*port);
  }
  std::string cluster = beat && beat->cluster
                            ? *beat->cluster
                            : ParamAny(req.params, {"clusterName", "cluster"}).value_or("");
  if (!cluster.empty()) address.cluster = cluster;
  if (address.ip.empty()) return Reject(v, resp, MissingParam("ip"));
  if (address.port < 1 || address.port > 65535) {
    return Reject(
        v, resp,
        InvalidParam(kParameterValidateError,
                     common::StrCat("port ", address.port, " is out of range [1, 65535]")));
  }
  if (ForwardToOwner(req, resp, address)) return;
  std::optional<registry::Instance> body;
  if (beat) {
    registry::Instance instance;
    instance.address = address;
    instance.weight = beat->weight.value_or(1.0);
    instance.metadata = beat->metadata;
    if (auto s = registry::ValidateInstance(instance); !s.ok()) return Reject(v, resp, s);
    body = std::move(instance);
  }
  const registry::BeatResult result =
      registry_.Beat(*key, address, body ? &*body : nullptr, clock_.NowMs());
  const auto view = registry_.Find(*key);
  const registry::Instance* instance = FindInstance(view.get(), address);
  int64_t interval = switches_.Int("clientBeatInterval");
  if (instance && instance->metadata.contains(std::string(registry::kMetaBeatInterval)))
    interval = result.interval_ms;
  JsonWriter w;
  w.BeginObject()
      .Key("clientBeatInterval")
      .Int(interval)
      .Key("code")
      .Int(result.found ? 10200 : 20404)
      .Key("lightBeatEnabled")
      .Bool(switches_.Bool("lightBeatEnabled"))
      .EndObject();
  // The beat answer is un-enveloped in v2 too.
  resp.Send(HttpResponse::Json(200, w.Take()));
}

void NamingHttpApi::Statuses(Req req, Resp resp) {
  API_TRY(ApiVersion::kV1, resp, key_param, RequiredParam(req.params, "key"));
  ServiceKey key;
  std::string_view rest = *key_param;
  const size_t hash = rest.find("##");
  if (hash == std::string_view::npos) {
    key.namespace_id = std::string(registry::kDefaultNamespace);
  } else {
    key.namespace_id = std::string(rest.substr(0, hash));
    rest = rest.substr(hash + 2);
  }
  const size_t sep = rest.find(registry::kGroupSeparator);
  if (sep == std::string_view::npos) {
    key.group = std::string(registry::kDefaultGroup);
    key.name = std::string(rest);
  } else {
    key.group = std::string(rest.substr(0, sep));
    key.name = std::string(rest.substr(sep + 2));
  }
  JsonWriter w;
  w.BeginObject().Key("ips").BeginArray();
  if (const auto view = registry_.Find(key)) {
    for (const auto& instance : view->instances()) {
      w.String(common::StrCat(instance->ip(), ":", instance->port(), "_",
                              instance->healthy ? "true" : "false"));
    }
  }
  w.EndArray().EndObject();
  resp.Send(HttpResponse::Json(200, w.Take()));
}

void NamingHttpApi::MetadataBatch(ApiVersion v, Req req, Resp resp) {
  if (req.method != Method::kPut && req.method != Method::kDelete) {
    return resp.Send(HttpResponse::Text(405, "method not allowed"));
  }
  const bool remove = req.method == Method::kDelete;
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, metadata_text, RequiredParam(req.params, "metadata"));
  API_TRY(v, resp, metadata, ParseMetadata(*metadata_text));
  auto targets = ParseInstanceList(req.params.Get("instances"));
  if (!targets.ok()) return Reject(v, resp, WithCode(targets.status(), kParameterValidateError));
  const std::string consistency = req.params.Get("consistencyType", "ephemeral");
  if (consistency != "ephemeral" && consistency != "persist") {
    return Reject(
        v, resp,
        InvalidParam(kParameterValidateError, "consistencyType must be ephemeral or persist"));
  }
  auto render = [v](const std::vector<std::string>& updated) {
    JsonWriter w;
    w.BeginObject().Key("updated").BeginArray();
    for (const auto& u : updated) w.String(u);
    w.EndArray().EndObject();
    return SuccessJson(v, w.Take());
  };
  if (consistency == "ephemeral") {
    auto result = registry_.BatchMetadataEphemeral(*key, *targets, *metadata, remove);
    if (!result.ok()) return Reject(v, resp, result.status());
    return resp.Send(render(result->updated));
  }
  Command c;
  c.type = CommandType::kBatchMetadata;
  c.service = *key;
  c.targets = *targets;
  c.metadata = *metadata;
  c.remove_keys = remove;
  if (!registry_.Find(*key)) {
    return Reject(
        v, resp,
        InvalidParam(kServiceNotExist, common::StrCat("service not found: ", key->GroupedName())));
  }
  // The touched set is known before commit: persistent instances at the given addresses.
  std::vector<std::string> updated;
  for (const auto& instance : registry_.Find(*key)->instances()) {
    if (instance->ephemeral) continue;
    if (!targets->empty() &&
        std::find(targets->begin(), targets->end(), instance->address) == targets->end())
      continue;
    updated.push_back(common::StrCat(instance->ip(), ":", instance->port(),
                                     ":unknown:", instance->cluster(), ":persist"));
  }
  Propose(v, std::move(c), resp, [render, updated] { return render(updated); });
}

void NamingHttpApi::Health(ApiVersion v, Req req, Resp resp) {
  if (req.method != Method::kPut) return resp.Send(HttpResponse::Text(405, "method not allowed"));
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, address, AddressFrom(req.params));
  API_TRY(v, resp, healthy, OptionalBool(req.params, {"healthy", "valid"}));
  if (!*healthy) return Reject(v, resp, WithCode(MissingParam("healthy"), kHealthyParamMiss));
  // Held while its instance and cluster are read: a concurrent write may replace the view.
  const auto view = registry_.Find(*key);
  const registry::Instance* instance = FindInstance(view.get(), *address);
  if (instance == nullptr) {
    return Reject(v, resp,
                  WithCode(absl::NotFoundError(common::StrCat("instance not found: ", address->ip,
                                                              ":", address->port)),
                           kInstanceNotFound));
  }
  if (instance->ephemeral) {
    return Reject(
        v, resp,
        InvalidParam(
            kInstanceError,
            "the health of an ephemeral instance follows its heartbeats and can't be set"));
  }
  // As Nacos: while the server checks the cluster, the check decides. With health checks
  // switched off on this server (healthCheckEnabled), the health API is how health is set.
  const registry::ClusterMeta& cluster = view->meta().Cluster(address->cluster);
  if (cluster.checker.type != registry::HealthCheckType::kNone &&
      switches_.Bool("healthCheckEnabled")) {
    return Reject(v, resp,
                  InvalidParam(kHealthCheckStillRunning,
                               common::StrCat("health check is still working, service: ",
                                              key->GroupedName(), ", cluster: ", address->cluster,
                                              " (set its healthChecker to NONE first)")));
  }
  Command c;
  c.type = CommandType::kSetHealth;
  c.health_cause = registry::HealthCause::kManual;
  c.service = *key;
  c.instance.address = *address;
  c.healthy = **healthy;
  Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
}

// PUT /nacos/v1/ns/cluster: a cluster's health checker, check port and metadata (Nacos's
// ClusterController). The service must exist; unset fields keep Nacos's defaults.
void NamingHttpApi::Cluster(ApiVersion v, Req req, Resp resp) {
  if (req.method != Method::kPut && req.method != Method::kPost) {
    return resp.Send(HttpResponse::Text(405, "method not allowed"));
  }
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, name, RequiredParam(req.params, "clusterName"));
  const std::string cluster_name(common::Trim(*name));
  if (auto s = registry::ValidateClientClusterName(cluster_name); !s.ok()) {
    return Reject(v, resp, InvalidParam(kParameterValidateError, std::string(s.message())));
  }
  const auto view = registry_.Find(*key);
  if (!view) {
    return Reject(
        v, resp,
        InvalidParam(kServiceNotExist, common::StrCat("service not found: ", key->GroupedName())));
  }
  registry::ClusterMeta cluster = view->meta().Cluster(cluster_name);
  if (const std::string* checker = req.params.Find("healthChecker");
      checker && !common::Trim(*checker).empty()) {
    API_TRY(v, resp, spec, ParseHealthChecker(*checker));
    cluster.checker = std::move(*spec);
  }
  API_TRY(v, resp, port, IntParam(req.params, "checkPort", cluster.check_port));
  if (*port < 0 || *port > 65535) {
    return Reject(v, resp, InvalidParam(kParameterValidateError, "checkPort must be 0-65535"));
  }
  cluster.check_port = static_cast<int>(*port);
  API_TRY(v, resp, use_instance_port,
          BoolParam(req.params, "useInstancePort4Check", cluster.use_instance_port));
  cluster.use_instance_port = *use_instance_port;
  if (!cluster.use_instance_port && cluster.check_port == 0) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError,
                               "checkPort is required when useInstancePort4Check is false"));
  }
  if (req.params.Has("metadata")) {
    API_TRY(v, resp, metadata, ParseMetadata(req.params.Get("metadata")));
    if (auto s = registry::ValidateClientMetadata(*metadata); !s.ok()) {
      return Reject(v, resp, InvalidParam(kParameterValidateError, std::string(s.message())));
    }
    cluster.metadata = std::move(*metadata);
  }
  Command c;
  c.type = CommandType::kUpdateCluster;
  c.service = *key;
  c.meta.clusters.emplace(cluster_name, std::move(cluster));
  Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
}

// ---------------------------------------------------------------- services

void NamingHttpApi::Service(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  if (req.method == Method::kGet) {
    const auto view = registry_.Find(*key);
    if (!view) {
      return Reject(v, resp,
                    WithCode(absl::NotFoundError(
                                 common::StrCat("service ", key->GroupedName(), " is not found!")),
                             kServiceNotExist));
    }
    // Clusters with instances and clusters defined through the cluster API, in name order.
    std::set<std::string> clusters;
    for (const auto& instance : view->instances()) clusters.insert(instance->cluster());
    for (const auto& [name, cluster] : view->meta().clusters) clusters.insert(name);
    JsonWriter w;
    w.BeginObject()
        .Key("namespaceId")
        .String(key->namespace_id)
        .Key("groupName")
        .String(key->group);
    w.Key(v == ApiVersion::kV1 ? "name" : "serviceName").String(key->name);
    w.Key("protectThreshold").Double(view->meta().protect_threshold).Key("metadata");
    WriteMetadataJson(w, view->meta().metadata);
    w.Key("selector").Raw(view->meta().selector_json);
    auto write_cluster = [&](const std::string& name) {
      const registry::ClusterMeta& cluster = view->meta().Cluster(name);
      w.BeginObject().Key(v == ApiVersion::kV1 ? "name" : "clusterName").String(name);
      w.Key("healthChecker");
      WriteHealthCheckerJson(w, cluster.checker);
      w.Key("metadata");
      WriteMetadataJson(w, cluster.metadata);
      w.Key("healthyCheckPort")
          .Int(cluster.check_port)
          .Key("useIPPort4Check")
          .Bool(cluster.use_instance_port)
          .EndObject();
    };
    if (v == ApiVersion::kV1) {
      w.Key("clusters").BeginArray();
      for (const auto& c : clusters) write_cluster(c);
      w.EndArray();
    } else {
      w.Key("ephemeral").Bool(view->meta().ephemeral).Key("clusterMap").BeginObject();
      for (const auto& c : clusters) {
        w.Key(c);
        write_cluster(c);
      }
      w.EndObject();
    }
    w.EndObject();
    return resp.Send(SuccessJson(v, w.Take()));
  }
  Command c;
  c.service = *key;
  if (req.method == Method::kDelete) {
    c.type = CommandType::kDeleteService;
    return Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
  }
  if (req.method != Method::kPost && req.method != Method::kPut) {
    return resp.Send(HttpResponse::Text(405, "method not allowed"));
  }
  const bool create = req.method == Method::kPost;
  if (!create && !req.params.Has("protectThreshold"))
    return Reject(v, resp, MissingParam("protectThreshold"));
  API_TRY(v, resp, threshold, OptionalDouble(req.params, "protectThreshold"));
  c.meta.protect_threshold = threshold->value_or(0.0);
  if (c.meta.protect_threshold < 0 || c.meta.protect_threshold > 1) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError, "protectThreshold must be within [0, 1]"));
  }
  API_TRY(v, resp, metadata, ParseMetadata(req.params.Get("metadata")));
  c.meta.metadata = std::move(*metadata);
  if (const std::string* selector = req.params.Find("selector"); selector && !selector->empty()) {
    if (auto s = ValidateSelector(*selector); !s.ok()) return Reject(v, resp, s);
    Json::Value parsed;
    Json::Reader().parse(*selector, parsed);
    Json::StreamWriterBuilder builder;
    builder["indentation"] = "";
    c.meta.selector_json = Json::writeString(builder, parsed);
  }
  // v1 creates persistent services (Nacos 2.x); v2 follows the ephemeral parameter.
  API_TRY(v, resp, ephemeral, BoolParam(req.params, "ephemeral", false));
  c.meta.ephemeral = v == ApiVersion::kV2 ? *ephemeral : false;
  c.type = create ? CommandType::kCreateService : CommandType::kUpdateService;
  if (!create) {
    if (!registry_.Find(*key)) {
      return Reject(v, resp,
                    WithCode(absl::NotFoundError(
                                 common::StrCat("service ", key->GroupedName(), " is not found!")),
                             kServiceNotExist));
    }
  } else if (registry_.Find(*key)) {
    return Reject(v, resp,
                  WithCode(absl::AlreadyExistsError(common::StrCat(
                               "specified service ", key->GroupedName(), " already exists!")),
                           kServiceAlreadyExist));
  }
  Propose(v, std::move(c), resp, [v] { return SuccessOk(v); });
}

void NamingHttpApi::ListServices(ApiVersion v, Req req, Resp resp) {
  if (v == ApiVersion::kV1) {
    if (!req.params.Has("pageNo")) return Reject(v, resp, MissingParam("pageNo"));
    if (!req.params.Has("pageSize")) return Reject(v, resp, MissingParam("pageSize"));
  }
  API_TRY(v, resp, ns, NamespaceFrom(v, req.params));
  API_TRY(v, resp, page_no, IntParam(req.params, "pageNo", 1));
  API_TRY(v, resp, page_size, IntParam(req.params, "pageSize", 20));
  if (*page_no < 1 || *page_size < 1) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError, "pageNo and pageSize must be positive"));
  }
  if (v == ApiVersion::kV2 && *page_size > 500) {
    return Reject(v, resp, InvalidParam(kParameterValidateError, "pageSize must be at most 500"));
  }
  std::string group = std::string(common::Trim(req.params.Get("groupName")));
  if (group.empty()) group = std::string(registry::kDefaultGroup);
  // A page far past the end is empty (and costs nothing), as is one past the last service.
  const size_t offset = PageOffset(*page_no, *page_size);
  const auto page =
      registry_.ListPage(*ns, std::string_view(group), offset, static_cast<size_t>(*page_size));
  JsonWriter w;
  w.BeginObject().Key("count").Int(static_cast<int64_t>(page.total));
  w.Key(v == ApiVersion::kV1 ? "doms" : "services").BeginArray();
  for (const auto& key : page.keys) w.String(key->name);
  w.EndArray().EndObject();
  resp.Send(SuccessJson(v, w.Take()));
}

std::vector<SubscriberBook::Subscriber> NamingHttpApi::SubscribersOf(
    const registry::ServiceKey& key) const {
  auto out = subscribers_.List(key, clock_.NowMs());
  if (grpc_ == nullptr) return out;
  for (auto& g : grpc_->SubscribersOf(key)) {
    out.push_back(SubscriberBook::Subscriber{
        common::StrCat(g.client_ip, ":", g.remote_port), std::move(g.version), std::move(g.app),
        std::move(g.clusters), clock_.NowMs(), std::move(g.connection_id)});
  }
  return out;
}

void NamingHttpApi::Subscribers(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  API_TRY(v, resp, page_no, IntParam(req.params, "pageNo", 1));
  API_TRY(v, resp, page_size, IntParam(req.params, "pageSize", 1000));
  if (*page_no < 1 || *page_size < 1) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError, "pageNo and pageSize must be positive"));
  }
  const auto list = SubscribersOf(*key);
  JsonWriter w;
  w.BeginObject().Key("subscribers").BeginArray();
  // PageOffset saturates: a page far past the end is empty, not an overflowed offset.
  const size_t start = PageOffset(*page_no, *page_size);
  for (size_t i = start; i < list.size() && i - start < static_cast<size_t>(*page_size); ++i) {
    const auto& s = list[i];
    const size_t colon = s.address.rfind(':');
    int64_t port = 0;
    (void)common::ParseInt64(std::string_view(s.address).substr(colon + 1), port);
    w.BeginObject()
        .Key("addrStr")
        .String(s.address)
        .Key("agent")
        .String(s.agent)
        .Key("app")
        .String(s.app)
        .Key("ip")
        .String(s.address.substr(0, colon))
        .Key("port")
        .Int(port)
        .Key("namespaceId")
        .String(key->namespace_id)
        .Key("serviceName")
        .String(key->GroupedName())
        .Key("cluster")
        .String(s.clusters)
        .Key("clientId")
        .String(s.client_id.empty() ? s.address + "#true" : s.client_id)
        .Key("protocol")
        .String(s.client_id.empty() ? "http" : "grpc")
        .EndObject();
  }
  w.EndArray().Key("count").Int(static_cast<int64_t>(list.size())).EndObject();
  resp.Send(SuccessJson(v, w.Take()));
}

// ---------------------------------------------------------------- clients

namespace {

// HTTP clients are identified as Nacos 2.x does: "ip:port#true" for the ephemeral instances an
// application publishes, "ip:port#false" for persistent ones.
std::string ClientIdOf(const registry::Instance& instance) {
  return common::StrCat(instance.ip(), ":", instance.port(),
                        instance.ephemeral ? "#true" : "#false");
}

}  // namespace

void NamingHttpApi::Clients(std::string_view what, Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV2;
  const auto services = registry_.ListAll();
  JsonWriter w;
  if (what == "list") {
    std::vector<std::string> ids;
    for (const auto& view : services) {
      for (const auto& instance : view->instances()) ids.push_back(ClientIdOf(*instance));
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    w.BeginArray();
    for (const auto& id : ids) w.String(id);
    w.EndArray();
    return resp.Send(SuccessJson(v, w.Take()));
  }
  if (what == "client" || what == "publish/list" || what == "subscribe/list") {
    API_TRY(v, resp, client_id, RequiredParam(req.params, "clientId"));
    std::vector<std::pair<const registry::ServiceView*, const registry::Instance*>> published;
    for (const auto& view : services) {
      for (const auto& instance : view->instances()) {
        if (ClientIdOf(*instance) == *client_id) published.emplace_back(view.get(), instance.get());
      }
    }
    if (what == "subscribe/list") return resp.Send(SuccessJson(v, "[]"));
    if (what == "client") {
      if (published.empty()) {
        return Reject(
            v, resp,
            WithCode(absl::NotFoundError(common::StrCat("client ", *client_id, " not exist")),
                     kResourceNotFound));
      }
      const registry::Instance& first = *published.front().second;
      w.BeginObject()
          .Key("clientId")
          .String(*client_id)
          .Key("ephemeral")
          .Bool(first.ephemeral)
          .Key("lastUpdatedTime")
          .Int(clock_.NowMs())
          .Key("clientType")
          .String("ipport")
          .Key("clientIp")
          .String(first.ip())
          .Key("clientPort")
          .String(common::StrCat(first.port()))
          .EndObject();
      return resp.Send(SuccessJson(v, w.Take()));
    }
    w.BeginArray();
    for (const auto& [view, instance] : published) {
      w.BeginObject()
          .Key("namespace")
          .String(view->key().namespace_id)
          .Key("group")
          .String(view->key().group)
          .Key("serviceName")
          .String(view->key().name)
          .Key("registeredInstance")
          .BeginObject()
          .Key("ip")
          .String(instance->ip())
          .Key("port")
          .Int(instance->port())
          .Key("clusterName")
          .String(instance->cluster())
          .EndObject()
          .EndObject();
    }
    w.EndArray();
    return resp.Send(SuccessJson(v, w.Take()));
  }
  // service/publisher/list and service/subscriber/list
  API_TRY(v, resp, key, ServiceKeyFrom(v, req.params));
  w.BeginArray();
  if (what == "service/publisher/list") {
    if (const auto view = registry_.Find(*key)) {
      for (const auto& instance : view->instances()) {
        w.BeginObject()
            .Key("clientId")
            .String(ClientIdOf(*instance))
            .Key("ip")
            .String(instance->ip())
            .Key("port")
            .Int(instance->port())
            .EndObject();
      }
    }
  } else {
    for (const auto& s : SubscribersOf(*key)) {
      const size_t colon = s.address.rfind(':');
      int64_t port = 0;
      (void)common::ParseInt64(std::string_view(s.address).substr(colon + 1), port);
      w.BeginObject()
          .Key("clientId")
          .String(s.client_id.empty() ? s.address + "#true" : s.client_id)
          .Key("ip")
          .String(s.address.substr(0, colon))
          .Key("port")
          .Int(port)
          .EndObject();
    }
  }
  w.EndArray();
  resp.Send(SuccessJson(v, w.Take()));
}

// ---------------------------------------------------------------- operator, cluster

void NamingHttpApi::Switches(ApiVersion v, Req req, Resp resp) {
  if (req.method == Method::kGet) return resp.Send(SuccessJson(v, switches_.Json()));
  if (req.method != Method::kPut) return resp.Send(HttpResponse::Text(405, "method not allowed"));
  API_TRY(v, resp, entry, RequiredParam(req.params, "entry"));
  API_TRY(v, resp, value, RequiredParam(req.params, "value"));
  if (auto s = switches_.Set(*entry, *value); !s.ok()) return Reject(v, resp, s);
  resp.Send(SuccessOk(v));
}

void NamingHttpApi::OperatorMetrics(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, only_status, BoolParam(req.params, "onlyStatus", true));
  std::string status = switches_.String("overriddenServerStatus");
  if (status.empty()) status = "UP";
  JsonWriter w;
  w.BeginObject().Key("status").String(status);
  if (!*only_status) {
    const int64_t instances = registry_.instance_count();
    w.Key("serviceCount")
        .Int(registry_.service_count())
        .Key("instanceCount")
        .Int(instances)
        .Key("subscribeCount")
        .Int(0)
        .Key("responsibleInstanceCount")
        .Int(instances)
        .Key("clientCount")
        .Int(instances)
        .Key("connectionBasedClientCount")
        .Int(0)
        .Key("ephemeralIpPortClientCount")
        .Int(instances)
        .Key("persistentIpPortClientCount")
        .Int(0)
        .Key("responsibleClientCount")
        .Int(instances)
        .Key("cpu")
        .Double(0)
        .Key("load")
        .Double(0)
        .Key("mem")
        .Double(0);
  }
  w.EndObject();
  resp.Send(SuccessJson(v, w.Take()));
}

std::vector<ClusterMemberView> NamingHttpApi::Members() const {
  if (identity_.members) return identity_.members();
  ClusterMemberView self;
  self.ip = identity_.ip;
  self.http_port = identity_.http_port;
  self.self = true;
  self.last_refresh_ms = clock_.NowMs();
  self.raft_role = "LEADER";
  self.raft_leader = common::StrCat(identity_.ip, ":", identity_.http_port);
  return {self};
}

std::string NamingHttpApi::MemberJson(const ClusterMemberView& m) const {
  JsonWriter w;
  w.BeginObject()
      .Key("ip")
      .String(m.ip)
      .Key("port")
      .Int(m.http_port)
      .Key("state")
      .String(m.state)
      .Key("address")
      .String(common::StrCat(m.ip, ":", m.http_port))
      .Key("extendInfo")
      .BeginObject()
      .Key("raftPort")
      .String(common::StrCat(m.http_port - 1000))
      .Key("version")
      .String(identity_.version)
      .Key("readyToUpgrade")
      .Bool(true)
      .Key("lastRefreshTime")
      .Int(m.last_refresh_ms);
  // Nacos reports its Raft groups here; dnsd has one group for configs and persistent data.
  w.Key("raftMetaData")
      .BeginObject()
      .Key("metaDataMap")
      .BeginObject()
      .Key("dnsd_cp")
      .BeginObject()
      .Key("leader")
      .String(m.raft_leader)
      .Key("term")
      .Int(static_cast<int64_t>(m.raft_term))
      .EndObject()
      .EndObject()
      .EndObject();
  if (!m.raft_membership.empty()) w.Key("raftMembership").String(m.raft_membership);
  if (m.distro_pending >= 0) {
    w.Key("distroPending")
        .Int(m.distro_pending)
        .Key("distroLagMs")
        .Int(m.distro_lag_ms)
        .Key("distroInRing")
        .Bool(m.distro_in_ring);
  }
  if (m.self) {
    w.Key("raftRole")
        .String(m.raft_role)
        .Key("raftAppliedIndex")
        .Int(static_cast<int64_t>(m.raft_applied))
        .Key("raftCommitIndex")
        .Int(static_cast<int64_t>(m.raft_commit));
  }
  w.EndObject()
      .Key("abilities")
      .BeginObject()
      .EndObject()
      .Key("grpcReportEnabled")
      .Bool(true)
      .Key("failAccessCnt")
      .Int(0)
      .EndObject();
  return w.Take();
}

std::string NamingHttpApi::MembersJson() const {
  std::string out = "[";
  for (const auto& m : Members()) {
    if (out.size() > 1) out += ',';
    out += MemberJson(m);
  }
  out += ']';
  return out;
}

std::string NamingHttpApi::SelfJson() const {
  for (const auto& m : Members()) {
    if (m.self) return MemberJson(m);
  }
  return "null";
}

// ---------------------------------------------------------------- routes

void NamingHttpApi::RegisterRoutes(HttpServer& server) {
  server_ = &server;
  using V = ApiVersion;
  auto bind = [this](auto method, V v) {
    return [this, method, v](Req req, Resp resp) { (this->*method)(v, req, resp); };
  };
  for (V v : {V::kV1, V::kV2}) {
    const std::string ns = v == V::kV1 ? "/nacos/v1/ns" : "/nacos/v2/ns";
    server.Route(ns + "/instance", bind(&NamingHttpApi::Instance, v));
    server.Route(ns + "/instance/list", bind(&NamingHttpApi::ListInstances, v));
    server.Route(ns + "/instance/beat", bind(&NamingHttpApi::Beat, v));
    server.Route(ns + "/instance/metadata/batch", bind(&NamingHttpApi::MetadataBatch, v));
    server.Route(ns + "/health/instance", bind(&NamingHttpApi::Health, v));
    server.Route(ns + "/service", bind(&NamingHttpApi::Service, v));
    server.Route(ns + "/cluster", bind(&NamingHttpApi::Cluster, v));
    server.Route(ns + "/service/list", bind(&NamingHttpApi::ListServices, v));
    server.Route(ns + "/service/subscribers", bind(&NamingHttpApi::Subscribers, v));
    for (const char* prefix : {"/operator", "/ops"}) {
      server.Route(ns + prefix + "/switches", bind(&NamingHttpApi::Switches, v));
      server.Route(ns + prefix + "/metrics", bind(&NamingHttpApi::OperatorMetrics, v));
    }
  }
  server.Route("/nacos/v1/ns/health", bind(&NamingHttpApi::Health, V::kV1));
  for (const char* what : {"list", "publish/list", "subscribe/list", "service/publisher/list",
                           "service/subscriber/list"}) {
    server.Route(common::StrCat("/nacos/v2/ns/client/", what),
                 [this, what](Req req, Resp resp) { Clients(what, req, resp); });
  }
  server.Route("/nacos/v2/ns/client", [this](Req req, Resp resp) { Clients("client", req, resp); });
  server.Route(
      "/nacos/v1/ns/operator/push/state",
      [this](Req, Resp resp) {
        // Nacos 1.x's push statistics: UDP pushes sent and acknowledged since the start.
        const uint64_t total = udp_pusher_ ? udp_pusher_->sent() : 0;
        const uint64_t succeed = udp_pusher_ ? udp_pusher_->acknowledged() : 0;
        JsonWriter w;
        w.BeginObject()
            .Key("succeed")
            .Int(static_cast<int64_t>(succeed))
            .Key("total")
            .Int(static_cast<int64_t>(total))
            .Key("ratio")
            .Double(total == 0 ? 0.0 : static_cast<double>(succeed) / static_cast<double>(total))
            .Key("reset")
            .Bool(false)
            .EndObject();
        resp.Send(HttpResponse::Json(200, w.Take()));
      },
      kGetMethod);
  server.Route("/nacos/v1/ns/instance/statuses",
               [this](Req req, Resp resp) { Statuses(req, resp); });
  server.Route(
      "/nacos/v1/ns/operator/distro/client",
      [this](Req req, Resp resp) {
        std::string owner = common::StrCat(identity_.ip, ":", identity_.http_port);
        const int port = std::atoi(req.params.Get("port").c_str());
        if (routing_.remote_owner && req.params.Has("ip") && port > 0) {
          std::string remote =
              routing_.remote_owner(registry::HttpClientId({req.params.Get("ip"), port, ""}));
          if (!remote.empty()) owner = std::move(remote);
        }
        resp.Send(
            HttpResponse::Json(200, common::StrCat(R"({"responsibleServer":")", owner, "\"}")));
      },
      kGetMethod);

  // Health endpoints for orchestrators.
  for (const char* path :
       {"/nacos/v1/console/health/liveness", "/nacos/v1/console/health/readiness",
        "/nacos/v2/console/health/liveness", "/nacos/v2/console/health/readiness"}) {
    const bool readiness = std::string_view(path).ends_with("readiness");
    server.Route(
        path,
        [this, readiness](Req, Resp resp) {
          if (readiness && identity_.ready && !identity_.ready()) {
            return resp.Send(HttpResponse::Text(
                500, "not ready: loading the ephemeral instances from the other members"));
          }
          resp.Send(HttpResponse::Text(200, "OK"));
        },
        kGetMethod);
  }

  // Cluster membership (a single node: itself).
  server.Route(
      "/nacos/v1/core/cluster/nodes",
      [this](Req, Resp resp) {
        resp.Send(HttpResponse::Json(
            200, common::StrCat(R"({"code":200,"message":null,"data":)", MembersJson(), "}")));
      },
      kGetMethod);
  server.Route(
      "/nacos/v1/core/cluster/self",
      [this](Req, Resp resp) {
        resp.Send(HttpResponse::Json(
            200, common::StrCat(R"({"code":200,"message":null,"data":)", SelfJson(), "}")));
      },
      kGetMethod);
  server.Route(
      "/nacos/v1/core/cluster/simple/nodes",
      [this](Req, Resp resp) {
        std::string list;
        for (const auto& m : Members()) {
          list += list.empty() ? "\"" : ",\"";
          list += common::StrCat(m.ip, ":", m.http_port, "\"");
        }
        resp.Send(HttpResponse::Json(
            200, common::StrCat(R"({"code":200,"message":null,"data":[)", list, "]}")));
      },
      kGetMethod);
  server.Route(
      "/nacos/v1/core/cluster/health",
      [](Req, Resp resp) {
        resp.Send(HttpResponse::Json(200, R"({"code":200,"message":null,"data":true})"));
      },
      kGetMethod);
  server.Route(
      "/nacos/v2/core/cluster/node/self",
      [this](Req, Resp resp) { resp.Send(SuccessJson(V::kV2, SelfJson())); }, kGetMethod);
  server.Route(
      "/nacos/v2/core/cluster/node/list",
      [this](Req, Resp resp) { resp.Send(SuccessJson(V::kV2, MembersJson())); }, kGetMethod);
  // dnsd's membership admin (Nacos has none: its members come from cluster.conf files):
  // POST adds `address` as a learner, PUT with action=promote makes that learner a voter,
  // DELETE removes a member; GET lists the members. One change at a time, through any node.
  server.Route("/dnsd/v1/cluster/members", [this](Req req, Resp resp) {
    if (req.method == Method::kGet) return resp.Send(SuccessJson(V::kV2, MembersJson()));
    if (!identity_.change_membership) {
      return Reject(V::kV2, resp,
                    absl::FailedPreconditionError("a single node has no membership to change"));
    }
    std::string_view op;
    if (req.method == Method::kPost) {
      op = "add";
    } else if (req.method == Method::kPut && req.params.Get("action") == "promote") {
      op = "promote";
    } else if (req.method == Method::kDelete) {
      op = "remove";
    } else {
      return Reject(V::kV2, resp,
                    absl::InvalidArgumentError(
                        "POST adds a learner, PUT ?action=promote promotes it, DELETE removes"));
    }
    const std::string address(req.params.Get("address"));
    if (address.empty()) {
      return Reject(V::kV2, resp, absl::InvalidArgumentError("address (ip:port) is required"));
    }
    DeferredReply reply = resp.Defer();
    identity_.change_membership(op, address, [reply](absl::Status s) {
      reply.Send(s.ok() ? SuccessJson(V::kV2, "\"ok\"") : ErrorResponse(V::kV2, s));
    });
  });
  server.Route(
      "/nacos/v2/core/cluster/node/self/health",
      [](Req, Resp resp) { resp.Send(SuccessJson(V::kV2, "\"UP\"")); }, kGetMethod);

  server.Route(
      "/metrics",
      [this](Req, Resp resp) {
        HttpResponse r = HttpResponse::Text(200, metrics_.RenderPrometheus());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        resp.Send(std::move(r));
      },
      kGetMethod);
}

}  // namespace dnsd::api
