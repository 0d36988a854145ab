#include "agent/nacos_client.h"

#include <json/json.h>

#include <chrono>
#include <random>

#include "agent/login.h"
#include "agent/nacos_payload.h"
#include "common/socket_address.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "net/grpc_client.h"
#include "spdlog/spdlog.h"

namespace dnsd::agent {
namespace {

constexpr int kNacosOk = 200;
// The two methods of the Nacos gRPC API (its .proto has no package).
constexpr std::string_view kUnaryPath = "/Request/request";
constexpr std::string_view kStreamPath = "/BiRequestStream/requestBiStream";

std::optional<Json::Value> ParseJson(std::string_view text) {
  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value value;
  std::string errors;
  if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors)) return std::nullopt;
  return value;
}

std::string ToJson(const Json::Value& value) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  return Json::writeString(builder, value);
}

Json::Value Base(const char* module) {
  Json::Value body(Json::objectValue);
  body["module"] = module;
  body["headers"] = Json::Value(Json::objectValue);
  return body;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::StatusOr<ServiceUpdate> ParseServiceInfo(const std::string& json_text,
                                               const std::string& namespace_id) {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(common::StrCat("serviceInfo: ", what));
  };
  auto parsed = ParseJson(json_text);
  if (!parsed || !parsed->isObject()) return bad("not a JSON object");
  return ServiceInfoFromJson(*parsed, namespace_id);
}

absl::StatusOr<ServiceUpdate> ServiceInfoFromJson(const Json::Value& info,
                                                  const std::string& namespace_id) {
  auto bad = [](std::string_view what) {
    return absl::InvalidArgumentError(common::StrCat("serviceInfo: ", what));
  };
  if (!info.isObject()) return bad("not a JSON object");
  ServiceUpdate update;
  update.key.namespace_id = namespace_id;
  if (!info["name"].isString() || info["name"].asString().empty()) return bad("no name");
  std::string name = info["name"].asString();
  std::string group = info["groupName"].isString() ? info["groupName"].asString() : "";
  if (const size_t at = name.find(registry::kGroupSeparator); at != std::string::npos) {
    if (group.empty()) group = name.substr(0, at);
    name = name.substr(at + registry::kGroupSeparator.size());
  }
  update.key.group = group.empty() ? std::string(registry::kDefaultGroup) : group;
  update.key.name = name;
  const Json::Value& hosts = info["hosts"];
  if (!hosts.isArray()) return bad("hosts is not a list");
  for (const Json::Value& h : hosts) {
    if (!h.isObject()) return bad("a host is not an object");
    if (!h["ip"].isString() || h["ip"].asString().empty()) return bad("a host has no ip");
    if (!h["port"].isInt64() || h["port"].asInt64() < 0 || h["port"].asInt64() > 65535) {
      return bad("a host has no valid port");
    }
    registry::Instance instance;
    instance.address.ip = h["ip"].asString();
    instance.address.port = static_cast<int>(h["port"].asInt64());
    if (h["clusterName"].isString() && !h["clusterName"].asString().empty()) {
      instance.address.cluster = h["clusterName"].asString();
    }
    if (h["instanceId"].isString()) instance.instance_id = h["instanceId"].asString();
    if (h.isMember("weight")) {
      if (!h["weight"].isNumeric()) return bad("a host's weight is not a number");
      instance.weight = h["weight"].asDouble();
    }
    for (const char* flag : {"healthy", "enabled", "ephemeral"}) {
      if (h.isMember(flag) && !h[flag].isBool()) return bad(common::StrCat("a host's ", flag));
    }
    instance.healthy = h.get("healthy", true).asBool();
    instance.enabled = h.get("enabled", true).asBool();
    instance.ephemeral = h.get("ephemeral", true).asBool();
    if (h["metadata"].isObject()) {
      for (const auto& k : h["metadata"].getMemberNames()) {
        if (h["metadata"][k].isString()) instance.metadata[k] = h["metadata"][k].asString();
      }
    }
    update.hosts.push_back(std::move(instance));
  }
  if (info["lastRefTime"].isInt64()) update.last_ref_time_ms = info["lastRefTime"].asInt64();
  return update;
}

// One connection to one server: its HTTP/2 connection (shared by the unary calls and the
// stream, which is how the server ties them together) and the stream.
struct NacosClient::Connection {
  std::string server;
  std::unique_ptr<net::GrpcClient> channel;
  std::shared_ptr<net::GrpcClientStream> stream;
  std::atomic<bool> broken{false};
  std::thread reader;
  std::string access_token;       // "" without auth; client thread only
  int64_t renew_token_at_ms = 0;  // steady clock

  bool Write(const std::string& type, const std::string& body_json, const std::string& ip) {
    return stream->Write(EncodePayload({type, ip, {}, body_json}));
  }
};

NacosClient::NacosClient(NacosClientOptions options) : options_(std::move(options)) {}
NacosClient::~NacosClient() { Stop(); }

void NacosClient::Start() {
  thread_ = std::thread([this] {
    common::SetThreadName("agent-conn");
    Run();
  });
}

void NacosClient::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    if (live_ != nullptr) live_->channel->Close();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string NacosClient::server() const {
  std::lock_guard lock(mu_);
  return server_;
}

void NacosClient::Subscribe(const registry::ServiceKey& key) {
  std::lock_guard lock(mu_);
  if (!subscribed_.insert(key).second) return;
  pending_.emplace_back(key, true);
  cv_.notify_all();
}

void NacosClient::Unsubscribe(const registry::ServiceKey& key) {
  std::lock_guard lock(mu_);
  if (subscribed_.erase(key) == 0) return;
  pending_.emplace_back(key, false);
  cv_.notify_all();
}

void NacosClient::CheckExists(const registry::ServiceKey& key) {
  std::lock_guard lock(mu_);
  checks_.push_back(key);
  cv_.notify_all();
}

absl::StatusOr<bool> NacosClient::ExistsOn(Connection& c, const registry::ServiceKey& key) {
  constexpr int kPageSize = 1000;
  for (int page = 1;; ++page) {
    Json::Value body = Base("naming");
    body["namespace"] = key.namespace_id;
    body["groupName"] = key.group;
    body["pageNo"] = page;
    body["pageSize"] = kPageSize;
    std::string type;
    auto answer = Request(c, "ServiceListRequest", ToJson(body), &type);
    if (!answer.ok()) return answer.status();
    auto parsed = ParseJson(*answer);
    if (type != "ServiceListResponse" || !parsed || !parsed->isObject() ||
        !(*parsed)["serviceNames"].isArray() || !(*parsed)["count"].isInt64()) {
      stats_.bad_messages.fetch_add(1);
      return absl::FailedPreconditionError(
          common::StrCat("service list from ", c.server, ": ", type, " ", *answer));
    }
    for (const Json::Value& name : (*parsed)["serviceNames"]) {
      if (name.isString() && name.asString() == key.name) return true;
    }
    if (static_cast<int64_t>(page) * kPageSize >= (*parsed)["count"].asInt64()) return false;
  }
}

void NacosClient::Run() {
  if (options_.servers.empty()) return;
  std::mt19937_64 rng(std::random_device{}());
  size_t next = rng() % options_.servers.size();
  int64_t backoff = options_.backoff_min_ms;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    const std::string& server = options_.servers[next];
    next = (next + 1) % options_.servers.size();
    const int64_t started = SteadyMs();
    const bool held = Serve(server);
    // A connection that held for a while resets the backoff; one that failed at once grows it.
    if (held && SteadyMs() - started > options_.health_check_ms) backoff = options_.backoff_min_ms;
    std::uniform_real_distribution<double> jitter(0.8, 1.2);
    const auto wait = std::chrono::milliseconds(static_cast<int64_t>(backoff * jitter(rng)));
    backoff = std::min<int64_t>(backoff * 2, options_.backoff_max_ms);
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, wait, [&] { return stopping_; })) return;
  }
}

absl::StatusOr<std::string> NacosClient::Request(Connection& c, const std::string& type,
                                                 const std::string& body_json,
                                                 std::string* response_type) {
  NacosPayload request{type, options_.client_ip, {}, body_json};
  if (!c.access_token.empty()) request.headers.emplace_back("accessToken", c.access_token);
  auto answer =
      c.channel->Call(kUnaryPath, EncodePayload(request), {}, options_.request_timeout_ms);
  if (!answer.ok()) {
    return absl::UnavailableError(
        common::StrCat(type, " to ", c.server, ": ", common::ToStd(answer.status().message())));
  }
  auto response = DecodePayload(*answer);
  if (!response.ok()) {
    return absl::UnavailableError(common::StrCat(type, " to ", c.server, ": a bad Payload (",
                                                 common::ToStd(response.status().message()), ")"));
  }
  *response_type = std::move(response->type);
  return std::move(response->body);
}

absl::Status NacosClient::SubscribeOn(Connection& c, const registry::ServiceKey& key,
                                      bool subscribe) {
  Json::Value body = Base("naming");
  body["namespace"] = key.namespace_id;
  body["serviceName"] = key.name;
  body["groupName"] = key.group;
  body["subscribe"] = subscribe;
  body["clusters"] = "";
  std::string type;
  auto answer = Request(c, "SubscribeServiceRequest", ToJson(body), &type);
  if (!answer.ok()) return answer.status();
  auto parsed = ParseJson(*answer);
  if (type != "SubscribeServiceResponse" || !parsed || !parsed->isObject() ||
      !(*parsed)["resultCode"].isInt() || (*parsed)["resultCode"].asInt() != kNacosOk) {
    return absl::FailedPreconditionError(common::StrCat("subscribing to ", key.GroupedName(),
                                                        " on ", c.server, " was refused: ", type,
                                                        " ", *answer));
  }
  if (!subscribe) return absl::OkStatus();
  auto update = ParseServiceInfo(ToJson((*parsed)["serviceInfo"]), key.namespace_id);
  if (!update.ok()) {
    stats_.bad_messages.fetch_add(1);
    return absl::FailedPreconditionError(update.status().message());
  }
  update->key = key;  // the answer is for what was asked
  Deliver(*update);
  return absl::OkStatus();
}

void NacosClient::Deliver(const ServiceUpdate& update) {
  std::lock_guard lock(deliver_mu_);
  auto [it, fresh] = delivered_.try_emplace(update.key, update.last_ref_time_ms, update.from_push);
  if (!fresh) {
    const auto [last_time, last_was_push] = it->second;
    if (update.last_ref_time_ms < last_time ||
        (update.last_ref_time_ms == last_time && !update.from_push && last_was_push)) {
      stats_.out_of_order.fetch_add(1);
      return;
    }
    it->second = {update.last_ref_time_ms, update.from_push};
  }
  if (options_.on_service) options_.on_service(update);
}

void NacosClient::ReadPushes(Connection& c) {
  std::string message;
  while (c.stream->Read(message)) {
    auto p = DecodePayload(message);
    if (!p.ok()) {
      stats_.bad_messages.fetch_add(1);
      continue;
    }
    const std::string& type = p->type;
    auto body = ParseJson(p->body);
    if (!body || !body->isObject()) {
      stats_.bad_messages.fetch_add(1);
      continue;
    }
    // Anything but a string (jsoncpp's asString would throw on an object) is no id at all.
    const Json::Value& id = (*body)["requestId"];
    const std::string request_id = id.isString() ? id.asString() : "";
    auto answer = [&](const char* response_type) {
      Json::Value ack(Json::objectValue);
      ack["resultCode"] = kNacosOk;
      ack["errorCode"] = 0;
      ack["requestId"] = request_id;
      c.Write(response_type, ToJson(ack), options_.client_ip);
    };
    if (type == "NotifySubscriberRequest") {
      if (request_id.empty()) {
        // A push that cannot be acknowledged is not one a Nacos server sends.
        stats_.bad_messages.fetch_add(1);
        spdlog::warn("agent: push without a request id from {}", c.server);
        continue;
      }
      auto update = ParseServiceInfo(ToJson((*body)["serviceInfo"]), options_.namespace_id);
      if (!update.ok()) {
        // Not acknowledged: the server retries, and a bad list is never applied.
        stats_.bad_messages.fetch_add(1);
        spdlog::warn("agent: bad push from {}: {}", c.server,
                     common::ToStd(update.status().message()));
        continue;
      }
      update->from_push = true;
      Deliver(*update);
      stats_.pushes.fetch_add(1);
      answer("NotifySubscriberResponse");
    } else if (type == "ClientDetectionRequest") {
      answer("ClientDetectionResponse");
    } else if (type == "ConnectResetRequest") {
      answer("ConnectResetResponse");
      break;  // the server wants this client elsewhere
    } else {
      stats_.bad_messages.fetch_add(1);
    }
  }
  c.broken = true;
  cv_.notify_all();
}

absl::Status NacosClient::LogIn(Connection& c) {
  if (options_.username.empty()) return absl::OkStatus();
  auto grpc_address = common::SocketAddress::FromHostPort(c.server, 0);
  if (!grpc_address.ok()) return grpc_address.status();
  auto http = common::SocketAddress::FromIp(grpc_address->ip(),
                                            grpc_address->port() + options_.http_port_offset);
  if (!http.ok()) return http.status();
  auto login = LoginToServer(http->ToString(), options_.username, options_.password,
                             options_.tls_ca_pem, options_.request_timeout_ms);
  if (!login.ok()) return login.status();
  c.access_token = login->access_token;
  c.renew_token_at_ms = SteadyMs() + login->ttl_s * 900;  // 90% of the lifetime
  return absl::OkStatus();
}

bool NacosClient::Serve(const std::string& server) {
  Connection c;
  c.server = server;
  auto fail = [&](std::string_view why) {
    stats_.failed_attempts.fetch_add(1);
    spdlog::warn("agent: server {}: {}", server, why);
    return false;
  };
  if (auto s = LogIn(c); !s.ok()) return fail(common::ToStd(s.message()));
  net::GrpcClientOptions grpc;
  if (!common::SplitHostPort(server, 0, grpc.host, grpc.port).ok() || grpc.port == 0 ||
      grpc.host.empty()) {
    return fail("not host:port");
  }
  grpc.tls_ca_pem = options_.tls_ca_pem;
  grpc.connect_timeout_ms = options_.request_timeout_ms;
  grpc.user_agent = "dnsd-agent";
  auto channel = net::GrpcClient::Connect(std::move(grpc));
  if (!channel.ok()) return fail(common::ToStd(channel.status().message()));
  c.channel = std::move(*channel);
  std::string type;
  auto check = Request(c, "ServerCheckRequest", ToJson(Base("internal")), &type);
  if (!check.ok()) return fail(common::ToStd(check.status().message()));
  if (type != "ServerCheckResponse") return fail(common::StrCat("server check answered ", type));
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    live_ = &c;
  }
  auto stream = c.channel->OpenStream(kStreamPath, {});
  if (!stream.ok()) {
    std::lock_guard lock(mu_);
    live_ = nullptr;
    return fail(common::ToStd(stream.status().message()));
  }
  c.stream = std::move(*stream);
  Json::Value setup = Base("internal");
  setup["clientVersion"] = "dnsd-agent";
  setup["tenant"] = options_.namespace_id == "public" ? "" : options_.namespace_id;
  setup["labels"]["source"] = "sdk";
  setup["labels"]["module"] = "naming";
  bool ok = c.Write("ConnectionSetupRequest", ToJson(setup), options_.client_ip);
  c.reader = std::thread([this, &c] {
    common::SetThreadName("agent-push");
    ReadPushes(c);
  });
  // The setup travels on the stream; the connection is usable once a health check says so.
  const int64_t deadline = SteadyMs() + options_.request_timeout_ms;
  bool registered = false;
  while (ok && !registered && SteadyMs() < deadline && !c.broken) {
    auto health = Request(c, "HealthCheckRequest", ToJson(Base("internal")), &type);
    registered = health.ok() && type == "HealthCheckResponse";
    if (!registered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  bool connected = false;
  if (registered) {
    {
      std::lock_guard lock(mu_);
      server_ = server;
      pending_.clear();  // everything is subscribed below
    }
    {
      std::lock_guard lock(deliver_mu_);
      delivered_.clear();  // this server's stamps start here
    }
    connected = true;
    stats_.connects.fetch_add(1);
    connected_ = true;
    spdlog::info("agent: connected to {}", server);
    // Before the subscriptions: each answer then counts as this connection's resync.
    if (options_.on_connection) options_.on_connection(true, server);
  }
  if (connected) {
    // Subscriptions the server refused are asked again at each health check.
    std::vector<registry::ServiceKey> refused;
    auto subscribe = [&](const registry::ServiceKey& key, bool on) {
      const absl::Status s = SubscribeOn(c, key, on);
      if (s.ok() || !absl::IsFailedPrecondition(s)) return s.ok();
      spdlog::warn("agent: {}", common::ToStd(s.message()));
      if (on) {
        refused.push_back(key);
        if (options_.on_subscription_failed) options_.on_subscription_failed(key);
      }
      return true;  // the connection itself is fine
    };
    std::vector<registry::ServiceKey> keys;
    {
      std::lock_guard lock(mu_);
      keys.assign(subscribed_.begin(), subscribed_.end());
    }
    bool failed = false;
    for (const auto& key : keys) {
      if (!subscribe(key, true)) {
        failed = true;
        break;
      }
    }
    int64_t next_health = SteadyMs() + options_.health_check_ms;
    while (!failed) {
      std::vector<std::pair<registry::ServiceKey, bool>> work;
      std::vector<registry::ServiceKey> checks;
      {
        std::unique_lock lock(mu_);
        cv_.wait_for(
            lock, std::chrono::milliseconds(std::max<int64_t>(1, next_health - SteadyMs())),
            [&] { return stopping_ || c.broken || !pending_.empty() || !checks_.empty(); });
        if (stopping_ || c.broken) break;
        work.swap(pending_);
        checks.swap(checks_);
      }
      for (const auto& key : checks) {
        auto exists = ExistsOn(c, key);
        if (exists.ok()) {
          if (options_.on_existence) options_.on_existence(key, *exists);
        } else if (!absl::IsFailedPrecondition(exists.status())) {
          failed = true;
          break;
        }
      }
      checks.clear();
      if (failed) break;
      for (const auto& [key, on] : work) {
        if (!subscribe(key, on)) {
          failed = true;
          break;
        }
      }
      if (failed) break;
      if (SteadyMs() >= next_health) {
        std::vector<registry::ServiceKey> again;
        again.swap(refused);
        for (const auto& key : again) {
          bool still = false;
          {
            std::lock_guard lock(mu_);
            still = subscribed_.contains(key);
          }
          if (still && !subscribe(key, true)) {
            failed = true;
            break;
          }
        }
        if (failed) break;
        if (!c.access_token.empty() && SteadyMs() >= c.renew_token_at_ms) {
          if (auto s = LogIn(c); !s.ok()) {
            fail(common::ToStd(s.message()));
            break;
          }
        }
        auto health = Request(c, "HealthCheckRequest", ToJson(Base("internal")), &type);
        if (!health.ok() || type != "HealthCheckResponse") {
          fail("health check failed");
          break;
        }
        next_health = SteadyMs() + options_.health_check_ms;
      }
    }
    if (failed) fail("a subscription got no answer");
    connected_ = false;
    if (options_.on_connection) options_.on_connection(false, server);
    spdlog::warn("agent: lost {}", server);
  } else {
    fail("the connection was not set up");
  }
  {
    std::lock_guard lock(mu_);
    live_ = nullptr;
    server_.clear();
  }
  c.channel->Close();
  if (c.reader.joinable()) c.reader.join();
  return connected;
}

}  // namespace dnsd::agent
