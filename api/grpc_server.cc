#include "api/grpc_server.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "api/grpc_payload.h"
#include "api/json_writer.h"
#include "api/naming_json.h"
#include "api/request_parsing.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "nacos_grpc_service.pb.h"
#include "net/grpc_transport.h"
#include "node/log_entries.h"
#include "registry/command.h"
#include "spdlog/spdlog.h"

namespace dnsd::api {

using config::ConfigKey;
using net::GrpcCall;
using net::GrpcStreamHandler;
using net::GrpcTransport;
using net::GrpcTransportOptions;
using net::kGrpcFailedPrecondition;
using net::kGrpcInternal;
using net::kGrpcOk;
using registry::InstanceAddress;
using registry::ServiceKey;

namespace {

// The reply to a unary request: response type and JSON body.
struct Reply {
  std::string type;
  std::string json;
  int error_code = 0;  // set for ErrorResponse
};
using ReplyFn = std::function<void(Reply)>;

Reply Error(int code, std::string_view message) {
  return {"ErrorResponse", FailureBody(code, message), code};
}

std::string_view Msg(const absl::Status& status) { return common::ToStd(status.message()); }

std::string Quoted(std::string_view s) {
  std::string out;
  JsonWriter::AppendQuoted(out, s);
  return out;
}

// "ipv4:127.0.0.1:5000" / "ipv6:[::1]:5000" -> ("127.0.0.1", 5000)
std::pair<std::string, int> SplitPeer(std::string_view peer) {
  const size_t colon = peer.find(':');
  if (colon != std::string_view::npos) peer.remove_prefix(colon + 1);
  const size_t last = peer.rfind(':');
  if (last == std::string_view::npos) return {std::string(peer), 0};
  std::string_view host = peer.substr(0, last);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int64_t port = 0;
  common::ParseInt64(peer.substr(last + 1), port);
  return {std::string(host), static_cast<int>(port)};
}

}  // namespace

class Stream;

constexpr std::string_view kPushLatencyName = "dnsd_grpc_push_latency_seconds";
constexpr std::string_view kPushLatencyHelp =
    "From a service or config change to the client's ack of the push carrying it";
std::vector<double> PushLatencyBounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// Monotonic microseconds, for the push latency histogram only (decisions use the Clock).
int64_t MonotonicUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct PendingPush {
  std::string type;
  std::string body_prefix;  // JSON up to the requestId value
  std::string coalesce_key;
  int tries = 1;
  int64_t deadline_ms = 0;
  // When the oldest change this push carries happened (MonotonicUs); 0 for probes.
  int64_t changed_us = 0;
};

// One client connection. Fields set at setup are read-only afterwards; the rest is guarded
// by `mu`.
struct Connection {
  std::string id;
  std::string peer;
  std::string remote_ip;
  int remote_port = 0;
  std::string client_ip;
  std::string version;
  std::string app;
  std::string tenant;
  std::map<std::string, std::string> labels;
  int64_t connected_ms = 0;
  std::atomic<int64_t> last_active_ms{0};

  // Serialises this connection's registrations with its release, so an instance registered
  // while the connection closes cannot outlive it.
  std::mutex publish_mu;
  std::atomic<bool> released{false};

  std::mutex mu;
  std::shared_ptr<Stream> stream;  // null once released
  std::map<ServiceKey, std::vector<InstanceAddress>> published;
  std::map<ServiceKey, std::string> subscribed;  // service -> clusters
  std::set<ConfigKey> listening;
  std::map<std::string, PendingPush> pending;                 // requestId -> push awaiting its ack
  std::map<std::string, std::string> latest_by_coalesce_key;  // coalesce key -> requestId
  int64_t detection_sent_ms = 0;
};

// The bi-directional stream of one connection: the client's setup and acks come in, pushes
// go out through the call's queue (the transport writes one message at a time and replaces
// a queued push with a newer one of the same key).
class Stream : public GrpcStreamHandler, public std::enable_shared_from_this<Stream> {
 public:
  Stream(GrpcServer::Impl& server, std::shared_ptr<GrpcCall> call)
      : server_(server), call_(std::move(call)) {}
  // Returns false when the stream is closed or its queue is hopelessly full.
  bool Send(const Payload& payload, const std::string& coalesce_key) {
    return call_->Send(payload.SerializeAsString(), coalesce_key);
  }
  void Close(int code = kGrpcOk, std::string message = {}) {
    call_->Finish(code, std::move(message));
  }
  const std::string& peer() const { return call_->peer(); }

  // Transport thread.
  void OnMessage(std::string message) override;
  void OnHalfClose() override { Close(); }
  void OnDone() override;

 private:
  GrpcServer::Impl& server_;
  const std::shared_ptr<GrpcCall> call_;
  std::shared_ptr<Connection> connection_;  // set by the setup message
};

class GrpcServer::Impl final {
 public:
  Impl(const GrpcServerOptions& options, registry::Registry& registry,
       config::ConfigStore& config_store, node::Proposer& proposer, const common::Clock& clock,
       common::MetricsRegistry& metrics)
      : options_(options),
        registry_(registry),
        config_store_(config_store),
        proposer_(proposer),
        clock_(clock),
        metrics_(metrics),
        authorizer_([](const GrpcCaller&) { return std::string(); }),
        pushes_(metrics.GetCounter("dnsd_grpc_pushes_total", "Pushes sent to gRPC clients")),
        push_acks_(metrics.GetCounter("dnsd_grpc_push_acks_total", "Pushes acknowledged")),
        push_retries_(metrics.GetCounter("dnsd_grpc_push_retries_total",
                                         "Pushes sent again after no ack in time")),
        push_failures_(metrics.GetCounter("dnsd_grpc_push_failures_total",
                                          "Pushes given up after every retry went unanswered")),
        naming_push_latency_(metrics.GetHistogram(kPushLatencyName, kPushLatencyHelp,
                                                  PushLatencyBounds(), "module=\"naming\"")),
        config_push_latency_(metrics.GetHistogram(kPushLatencyName, kPushLatencyHelp,
                                                  PushLatencyBounds(), "module=\"config\"")),
        detections_(metrics.GetCounter("dnsd_grpc_client_detections_total",
                                       "Idle connections probed with ClientDetectionRequest")),
        dropped_(metrics.GetCounter("dnsd_grpc_connections_dropped_total",
                                    "Connections closed for not answering a detection probe")) {
    metrics.AddGauge("dnsd_grpc_connections", "Registered gRPC connections", [this] {
      std::lock_guard lock(mu_);
      return static_cast<double>(connections_.size());
    });
  }

  absl::Status Start() {
    GrpcTransportOptions transport;
    transport.address = options_.address;
    transport.port = options_.port;
    transport.max_message_bytes = static_cast<size_t>(options_.max_inbound_bytes);
    transport.keepalive_time_ms = options_.keepalive_time_ms;
    transport.keepalive_timeout_ms = options_.keepalive_timeout_ms;
    transport.max_connections = options_.max_connections;
    transport.tls = options_.tls;
    transport.unary_methods["/Request/request"] = [this](std::shared_ptr<GrpcCall> call,
                                                         std::string message) {
      OnUnary(std::move(call), message);
    };
    transport.stream_methods["/BiRequestStream/requestBiStream"] =
        [this](std::shared_ptr<GrpcCall> call) {
          return std::make_shared<Stream>(*this, std::move(call));
        };
    auto started = GrpcTransport::Start(std::move(transport), metrics_);
    if (!started.ok()) return started.status();
    transport_ = *std::move(started);
    port_ = transport_->port();
    push_thread_ = std::thread([this] {
      common::SetThreadName("grpc-push");
      RunPushThread();
    });
    return absl::OkStatus();
  }

  void Shutdown() {
    if (!transport_) return;
    // Ask every client to move on before the transport goes away.
    for (const auto& conn : AllConnections()) {
      Push(*conn, "ConnectResetRequest",
           common::StrCat(R"({"serverIp":"","serverPort":"","connectionId":)", Quoted(conn->id),
                          R"(,"module":"internal","requestId":")"),
           "", /*track=*/false);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (const auto& conn : AllConnections()) CloseStream(*conn);
    // Clients that got the reset leave on their own; the rest are closed after the grace.
    transport_->Shutdown(2000);
    {
      std::lock_guard lock(push_mu_);
      stopping_ = true;
    }
    push_cv_.notify_all();
    if (push_thread_.joinable()) push_thread_.join();
    transport_.reset();
  }

  int port() const { return port_; }
  void SetAuthorizer(GrpcAuthorizer a) { authorizer_ = std::move(a); }
  std::vector<GrpcSubscriber> SubscribersOf(const ServiceKey& key) {
    std::vector<std::shared_ptr<Connection>> conns;
    {
      std::lock_guard lock(subs_mu_);
      auto it = subscribers_.find(key);
      if (it == subscribers_.end()) return {};
      for (const auto& [id, weak] : it->second) {
        if (auto conn = weak.lock()) conns.push_back(std::move(conn));
      }
    }
    std::vector<GrpcSubscriber> out;
    for (const auto& conn : conns) {
      GrpcSubscriber s{conn->id, conn->client_ip,   conn->remote_port, conn->version, conn->app,
                       "",       conn->connected_ms};
      std::lock_guard lock(conn->mu);
      auto it = conn->subscribed.find(key);
      if (it == conn->subscribed.end()) continue;  // unsubscribed meanwhile
      s.clusters = it->second;
      out.push_back(std::move(s));
    }
    return out;
  }

  // ---- listeners (called under the registry writer lock / on the apply thread: enqueue only)
  void OnServiceChanged(const ServiceKey& key) {
    {
      std::lock_guard lock(subs_mu_);
      auto it = subscribers_.find(key);
      if (it == subscribers_.end() || it->second.empty()) return;
    }
    SchedulePush(key);
  }
  void OnConfigChanged(const ConfigKey& key) {
    {
      // Most configs have no gRPC listener; do not wake the push thread for them.
      std::lock_guard lock(subs_mu_);
      if (!config_listeners_.contains(key)) return;
    }
    {
      std::lock_guard lock(push_mu_);
      config_changes_.emplace_back(key, MonotonicUs());
    }
    push_cv_.notify_one();
  }

  // ---- transport entry point for unary requests (transport thread)
  void OnUnary(std::shared_ptr<GrpcCall> call, const std::string& message);

  // ---- called by streams
  std::shared_ptr<Connection> Setup(Stream& stream, std::shared_ptr<Stream> self,
                                    const GrpcRequest& setup);
  void OnClientMessage(Connection& conn, const GrpcRequest& message);
  void Release(const std::shared_ptr<Connection>& conn);

 private:
  std::string ConnectionIdFor(const std::string& peer);
  std::shared_ptr<Connection> FindByPeer(const std::string& peer);
  std::vector<std::shared_ptr<Connection>> AllConnections();
  void Dispatch(const std::shared_ptr<Connection>& conn, const GrpcRequest& request, ReplyFn reply);

  // naming
  absl::StatusOr<ServiceKey> ServiceKeyOf(const Json::Value& body) const;
  absl::StatusOr<registry::Instance> InstanceOf(const Json::Value& json) const;
  Reply RegisterInstance(Connection& conn, const ServiceKey& key, registry::Instance instance);
  Reply DeregisterInstance(Connection& conn, const ServiceKey& key,
                           const registry::Instance& instance);
  Reply BatchInstances(Connection& conn, const ServiceKey& key, const GrpcRequest& request);
  void PersistentInstance(const ServiceKey& key, const GrpcRequest& request, ReplyFn reply);
  Reply QueryService(const ServiceKey& key, const GrpcRequest& request);
  Reply Subscribe(const std::shared_ptr<Connection>& conn, const ServiceKey& key,
                  const GrpcRequest& request);
  Reply ListServices(const GrpcRequest& request);
  std::string ServiceInfo(const ServiceKey& key, std::string_view clusters, bool healthy_only);

  // config
  absl::StatusOr<ConfigKey> ConfigKeyOf(const Json::Value& body) const;
  Reply QueryConfig(const GrpcRequest& request);
  void PublishConfig(const GrpcRequest& request, const std::string& src_ip, ReplyFn reply);
  void RemoveConfig(const GrpcRequest& request, const std::string& src_ip, ReplyFn reply);
  Reply BatchListen(const std::shared_ptr<Connection>& conn, const GrpcRequest& request);

  // pushes
  void SchedulePush(const ServiceKey& key);
  void RunPushThread();
  void PushService(const ServiceKey& key, int64_t changed_us);
  void PushConfigChange(const ConfigKey& key, int64_t changed_us);
  void RetryAndDetect(int64_t now_ms);
  // Sends `type` with body `prefix + requestId + "\"}"`; tracked pushes wait for an ack, and
  // their latency from `changed_us` to the ack is observed.
  void Push(Connection& conn, std::string_view type, std::string prefix,
            const std::string& coalesce_key, bool track, int64_t changed_us = 0);
  static void CloseStream(Connection& conn) {
    std::shared_ptr<Stream> stream;
    {
      std::lock_guard lock(conn.mu);
      stream = conn.stream;
    }
    if (stream) stream->Close();
  }

  const GrpcServerOptions options_;
  registry::Registry& registry_;
  config::ConfigStore& config_store_;
  node::Proposer& proposer_;
  const common::Clock& clock_;
  common::MetricsRegistry& metrics_;
  GrpcAuthorizer authorizer_;
  std::unique_ptr<GrpcTransport> transport_;
  int port_ = 0;
  std::atomic<uint64_t> next_request_id_{1};

  std::mutex mu_;                             // connections
  std::map<std::string, std::string> peers_;  // peer -> connection id (from ServerCheck)
  std::map<std::string, std::shared_ptr<Connection>> connections_;  // by id, after setup
  std::map<std::string, std::shared_ptr<Connection>> by_peer_;

  std::mutex subs_mu_;  // who wants what
  absl::flat_hash_map<ServiceKey, std::map<std::string, std::weak_ptr<Connection>>> subscribers_;
  absl::flat_hash_map<ConfigKey, std::map<std::string, std::weak_ptr<Connection>>>
      config_listeners_;

  std::mutex push_mu_;  // the push thread's inbox
  std::condition_variable push_cv_;
  struct DuePush {
    int64_t due_ms = 0;
    int64_t changed_us = 0;  // the first change not pushed yet
  };
  std::map<ServiceKey, DuePush> naming_due_;
  absl::flat_hash_map<ServiceKey, int64_t> last_push_ms_;
  std::deque<std::pair<ConfigKey, int64_t>> config_changes_;  // with when it changed
  bool stopping_ = false;
  std::thread push_thread_;

  common::Counter& pushes_;
  common::Counter& push_acks_;
  common::Counter& push_retries_;
  common::Counter& push_failures_;
  // From a change to the client's ack of the push carrying it, per module.
  common::Histogram& naming_push_latency_;
  common::Histogram& config_push_latency_;
  common::Counter& detections_;
  common::Counter& dropped_;
};

// ---------------------------------------------------------------- Stream

void Stream::OnMessage(std::string bytes) {
  Payload in;
  if (!in.ParseFromString(bytes)) {
    spdlog::debug("gRPC stream {}: not a Payload message", peer());
    return;
  }
  auto message = ParsePayload(in);
  if (!message.ok()) {
    spdlog::debug("gRPC stream {}: {}", peer(), Msg(message.status()));
  } else if (!connection_) {
    if (message->type == "ConnectionSetupRequest") {
      connection_ = server_.Setup(*this, shared_from_this(), *message);
      if (!connection_) {
        // One Nacos connection per transport: requests are matched to their connection
        // by the transport they arrive on, so a second stream would be ambiguous.
        Close(kGrpcFailedPrecondition, "this HTTP/2 connection already has a Nacos connection");
      }
    }
    // Anything else before the setup has no connection to belong to; it is ignored.
  } else {
    server_.OnClientMessage(*connection_, *message);
  }
}

void Stream::OnDone() {
  if (connection_) server_.Release(connection_);
  connection_.reset();
}

// ---------------------------------------------------------------- connections

std::string GrpcServer::Impl::ConnectionIdFor(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = peers_.find(peer);
  if (it != peers_.end()) return it->second;
  const auto [ip, port] = SplitPeer(peer);
  std::string id = common::StrCat(clock_.NowMs(), "_", ip, "_", port);
  // Clients that check and never set up leave entries behind; keep that bounded.
  if (peers_.size() > 2 * connections_.size() + 10'000) peers_.clear();
  peers_.emplace(peer, id);
  return id;
}

std::shared_ptr<Connection> GrpcServer::Impl::FindByPeer(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = by_peer_.find(peer);
  return it == by_peer_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<Connection>> GrpcServer::Impl::AllConnections() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Connection>> out;
  for (const auto& [id, conn] : connections_) out.push_back(conn);
  return out;
}

std::shared_ptr<Connection> GrpcServer::Impl::Setup(Stream& stream, std::shared_ptr<Stream> self,
                                                    const GrpcRequest& setup) {
  auto conn = std::make_shared<Connection>();
  conn->id = ConnectionIdFor(stream.peer());
  conn->peer = stream.peer();
  std::tie(conn->remote_ip, conn->remote_port) = SplitPeer(stream.peer());
  conn->client_ip = setup.client_ip.empty() ? conn->remote_ip : setup.client_ip;
  conn->version = JsonString(setup.body, "clientVersion");
  conn->tenant = JsonString(setup.body, "tenant");
  const Json::Value& labels = setup.body["labels"];
  if (labels.isObject()) {
    for (const auto& name : labels.getMemberNames()) {
      conn->labels[name] = JsonString(labels, name.c_str());
    }
  }
  if (auto it = conn->labels.find("AppName"); it != conn->labels.end()) conn->app = it->second;
  conn->connected_ms = clock_.NowMs();
  conn->last_active_ms = conn->connected_ms;
  conn->stream = std::move(self);  // not shared yet: no lock needed
  std::lock_guard lock(mu_);
  if (by_peer_.contains(conn->peer)) return nullptr;
  connections_[conn->id] = conn;
  by_peer_[conn->peer] = conn;
  return conn;
}

void GrpcServer::Impl::OnClientMessage(Connection& conn, const GrpcRequest& message) {
  conn.last_active_ms = clock_.NowMs();
  std::lock_guard lock(conn.mu);
  conn.detection_sent_ms = 0;
  if (message.request_id.empty()) return;
  auto it = conn.pending.find(message.request_id);
  if (it == conn.pending.end()) return;
  if (JsonInt(message.body, "resultCode", 200) == 200) {
    push_acks_.Inc();
    const PendingPush& acked = it->second;
    if (acked.changed_us != 0) {
      (acked.type == "ConfigChangeNotifyRequest" ? config_push_latency_ : naming_push_latency_)
          .Observe(static_cast<double>(MonotonicUs() - acked.changed_us) / 1e6);
    }
  }
  if (!it->second.coalesce_key.empty()) {
    auto latest = conn.latest_by_coalesce_key.find(it->second.coalesce_key);
    if (latest != conn.latest_by_coalesce_key.end() && latest->second == message.request_id) {
      conn.latest_by_coalesce_key.erase(latest);
    }
  }
  conn.pending.erase(it);
}

void GrpcServer::Impl::Release(const std::shared_ptr<Connection>& conn) {
  {
    std::lock_guard lock(mu_);
    auto it = connections_.find(conn->id);
    if (it != connections_.end() && it->second == conn) connections_.erase(it);
    auto by_peer = by_peer_.find(conn->peer);
    if (by_peer != by_peer_.end() && by_peer->second == conn) by_peer_.erase(by_peer);
    peers_.erase(conn->peer);
  }
  std::map<ServiceKey, std::vector<InstanceAddress>> published;
  std::map<ServiceKey, std::string> subscribed;
  std::set<ConfigKey> listening;
  std::lock_guard publishing(conn->publish_mu);
  conn->released = true;
  {
    std::lock_guard lock(conn->mu);
    published.swap(conn->published);
    subscribed.swap(conn->subscribed);
    listening.swap(conn->listening);
    conn->pending.clear();
    conn->latest_by_coalesce_key.clear();
    conn->stream.reset();
  }
  {
    std::lock_guard lock(subs_mu_);
    for (const auto& [key, clusters] : subscribed) {
      auto it = subscribers_.find(key);
      if (it == subscribers_.end()) continue;
      it->second.erase(conn->id);
      if (it->second.empty()) subscribers_.erase(it);
    }
    for (const auto& key : listening) {
      auto it = config_listeners_.find(key);
      if (it == config_listeners_.end()) continue;
      it->second.erase(conn->id);
      if (it->second.empty()) config_listeners_.erase(it);
    }
  }
  const int64_t now = clock_.NowMs();
  for (const auto& [key, addresses] : published) {
    for (const auto& address : addresses) {
      registry_.DeregisterOwned(key, address, conn->id, now).IgnoreError();
    }
  }
}

// ---------------------------------------------------------------- unary requests

void GrpcServer::Impl::OnUnary(std::shared_ptr<GrpcCall> call, const std::string& message) {
  auto finish = [this, call](Reply reply) {
    if (reply.error_code != 0) {
      metrics_
          .GetCounter("dnsd_grpc_rejected_requests_total", "gRPC requests refused, by errorCode",
                      common::StrCat("code=\"", reply.error_code, "\""))
          .Inc();
    }
    call->Send(
        MakePayload(reply.type, std::move(reply.json), options_.server_ip).SerializeAsString());
    call->Finish();
  };
  Payload in_payload;
  if (!in_payload.ParseFromString(message)) {
    call->Finish(kGrpcInternal, "the request is not a Payload message");
    return;
  }
  const Payload* in = &in_payload;
  auto parsed = ParsePayload(*in);
  if (!parsed.ok()) {
    finish(Error(kGrpcUnparsable, Msg(parsed.status())));
    return;
  }
  metrics_
      .GetCounter(
          "dnsd_grpc_requests_total", "gRPC requests received, by type",
          common::StrCat("type=\"", parsed->type.size() <= 64 ? parsed->type : "long", "\""))
      .Inc();
  if (parsed->type == "ServerCheckRequest") {
    const std::string id = ConnectionIdFor(call->peer());
    finish({"ServerCheckResponse",
            SuccessBody(common::StrCat(R"(,"connectionId":)", Quoted(id),
                                       R"(,"supportAbilityNegotiation":false)"))});
    return;
  }
  auto conn = FindByPeer(call->peer());
  if (!conn) {
    finish(Error(kGrpcUnregistered,
                 "connection is not registered: send ConnectionSetupRequest "
                 "on the bi-directional stream first"));
    return;
  }
  conn->last_active_ms = clock_.NowMs();
  auto who = authorizer_({conn->id, parsed->type, parsed->access_token, &parsed->body});
  if (!who.ok()) {
    finish(Error(kGrpcNoRight, Msg(who.status())));
    return;
  }
  parsed->principal = *std::move(who);
  Dispatch(conn, *parsed, std::move(finish));
}

void GrpcServer::Impl::Dispatch(const std::shared_ptr<Connection>& conn, const GrpcRequest& request,
                                ReplyFn reply) {
  const std::string& type = request.type;
  if (type == "HealthCheckRequest") return reply({"HealthCheckResponse", SuccessBody()});
  if (type == "ConfigQueryRequest") return reply(QueryConfig(request));
  if (type == "ConfigPublishRequest") return PublishConfig(request, conn->client_ip, reply);
  if (type == "ConfigRemoveRequest") return RemoveConfig(request, conn->client_ip, reply);
  if (type == "ConfigBatchListenRequest") return reply(BatchListen(conn, request));
  if (type == "ServiceListRequest") return reply(ListServices(request));
  const bool naming = type == "InstanceRequest" || type == "BatchInstanceRequest" ||
                      type == "PersistentInstanceRequest" || type == "ServiceQueryRequest" ||
                      type == "SubscribeServiceRequest";
  if (!naming) {
    return reply(Error(kGrpcNoHandler, common::StrCat("no handler for request type '", type, "'")));
  }
  auto key = ServiceKeyOf(request.body);
  if (!key.ok()) return reply(Error(kGrpcInvalidParam, Msg(key.status())));
  if (type == "ServiceQueryRequest") return reply(QueryService(*key, request));
  if (type == "SubscribeServiceRequest") return reply(Subscribe(conn, *key, request));
  if (type == "BatchInstanceRequest") return reply(BatchInstances(*conn, *key, request));
  if (type == "PersistentInstanceRequest") return PersistentInstance(*key, request, reply);
  // InstanceRequest
  auto instance = InstanceOf(request.body["instance"]);
  if (!instance.ok()) return reply(Error(kGrpcInvalidParam, Msg(instance.status())));
  const std::string op = JsonString(request.body, "type");
  if (op == "registerInstance") return reply(RegisterInstance(*conn, *key, *std::move(instance)));
  if (op == "deregisterInstance") return reply(DeregisterInstance(*conn, *key, *instance));
  reply(Error(kGrpcInvalidParam, common::StrCat("InstanceRequest type '", op,
                                                "' is neither registerInstance nor "
                                                "deregisterInstance")));
}

// ---------------------------------------------------------------- naming

absl::StatusOr<ServiceKey> GrpcServer::Impl::ServiceKeyOf(const Json::Value& body) const {
  ServiceKey key;
  key.namespace_id = std::string(common::Trim(JsonString(body, "namespace")));
  if (key.namespace_id.empty()) key.namespace_id = std::string(registry::kDefaultNamespace);
  key.group = std::string(common::Trim(JsonString(body, "groupName")));
  if (key.group.empty()) key.group = std::string(registry::kDefaultGroup);
  key.name = std::string(common::Trim(JsonString(body, "serviceName")));
  // Some clients send the grouped name; the group inside it wins.
  if (const size_t at = key.name.find("@@"); at != std::string::npos) {
    key.group = key.name.substr(0, at);
    key.name = key.name.substr(at + 2);
  }
  if (key.name.empty()) return absl::InvalidArgumentError("serviceName is missing");
  if (auto s = registry::ValidateClientServiceKey(key); !s.ok()) return s;
  return key;
}

absl::StatusOr<registry::Instance> GrpcServer::Impl::InstanceOf(const Json::Value& json) const {
  if (!json.isObject()) return absl::InvalidArgumentError("instance is missing");
  registry::Instance instance;
  instance.address.ip = std::string(common::Trim(JsonString(json, "ip")));
  const int64_t port = JsonInt(json, "port", -1);
  if (port < 0 || port > 65535) return absl::InvalidArgumentError("instance port is invalid");
  instance.address.port = static_cast<int>(port);
  const std::string cluster(common::Trim(JsonString(json, "clusterName")));
  if (!cluster.empty()) instance.address.cluster = cluster;
  instance.instance_id = JsonString(json, "instanceId");
  instance.weight = JsonDouble(json, "weight", 1.0);
  instance.healthy = JsonBool(json, "healthy", true);
  instance.enabled = JsonBool(json, "enabled", true);
  instance.ephemeral = JsonBool(json, "ephemeral", true);
  const Json::Value& metadata = json["metadata"];
  if (metadata.isObject()) {
    for (const auto& name : metadata.getMemberNames()) {
      instance.metadata[name] = JsonString(metadata, name.c_str());
    }
  }
  if (auto s = registry::ValidateClientInstance(instance); !s.ok()) return s;
  return instance;
}

Reply GrpcServer::Impl::RegisterInstance(Connection& conn, const ServiceKey& key,
                                         registry::Instance instance) {
  if (!instance.ephemeral) {
    return Error(kGrpcInvalidParam,
                 "InstanceRequest registers ephemeral instances; persistent ones go through "
                 "PersistentInstanceRequest or the HTTP API");
  }
  const InstanceAddress address = instance.address;
  std::lock_guard publishing(conn.publish_mu);
  if (conn.released) return Error(kGrpcUnregistered, "the connection is closing");
  std::vector<InstanceAddress> previous;
  {
    std::lock_guard lock(conn.mu);
    previous = conn.published[key];
  }
  auto s = registry_.RegisterEphemeral(key, std::move(instance), conn.id,
                                       /*heartbeat_driven=*/false, clock_.NowMs());
  if (!s.ok()) return Error(kGrpcInvalidParam, Msg(s));
  // One instance per service per connection: a new registration replaces the old one.
  for (const auto& old : previous) {
    if (!(old == address))
      registry_.DeregisterOwned(key, old, conn.id, clock_.NowMs()).IgnoreError();
  }
  {
    std::lock_guard lock(conn.mu);
    conn.published[key] = {address};
  }
  return {"InstanceResponse", SuccessBody(R"(,"type":"registerInstance")")};
}

Reply GrpcServer::Impl::DeregisterInstance(Connection& conn, const ServiceKey& key,
                                           const registry::Instance& instance) {
  std::lock_guard publishing(conn.publish_mu);
  registry_.DeregisterOwned(key, instance.address, conn.id, clock_.NowMs()).IgnoreError();
  {
    std::lock_guard lock(conn.mu);
    auto it = conn.published.find(key);
    if (it != conn.published.end()) {
      std::erase(it->second, instance.address);
      if (it->second.empty()) conn.published.erase(it);
    }
  }
  return {"InstanceResponse", SuccessBody(R"(,"type":"deregisterInstance")")};
}

Reply GrpcServer::Impl::BatchInstances(Connection& conn, const ServiceKey& key,
                                       const GrpcRequest& request) {
  const std::string op = JsonString(request.body, "type");
  const Json::Value& list = request.body["instances"];
  if (!list.isArray()) return Error(kGrpcInvalidParam, "instances must be a list");
  std::vector<registry::Instance> instances;
  for (const auto& item : list) {
    auto instance = InstanceOf(item);
    if (!instance.ok()) return Error(kGrpcInvalidParam, Msg(instance.status()));
    if (!instance->ephemeral) {
      return Error(kGrpcInvalidParam, "BatchInstanceRequest registers ephemeral instances only");
    }
    instances.push_back(*std::move(instance));
  }
  const int64_t now = clock_.NowMs();
  if (op == "batchDeregisterInstance") {
    for (const auto& instance : instances) DeregisterInstance(conn, key, instance);
    return {"BatchInstanceResponse", SuccessBody(R"(,"type":"batchDeregisterInstance")")};
  }
  if (op != "batchRegisterInstance") {
    return Error(kGrpcInvalidParam,
                 common::StrCat("BatchInstanceRequest type '", op, "' is not supported"));
  }
  std::lock_guard publishing(conn.publish_mu);
  if (conn.released) return Error(kGrpcUnregistered, "the connection is closing");
  // The batch is the connection's whole publication for the service.
  std::vector<InstanceAddress> addresses;
  for (auto& instance : instances) {
    addresses.push_back(instance.address);
    auto s = registry_.RegisterEphemeral(key, std::move(instance), conn.id, false, now);
    if (!s.ok()) return Error(kGrpcInvalidParam, Msg(s));
  }
  std::vector<InstanceAddress> previous;
  {
    std::lock_guard lock(conn.mu);
    previous = std::exchange(conn.published[key], addresses);
  }
  for (const auto& old : previous) {
    if (std::find(addresses.begin(), addresses.end(), old) == addresses.end()) {
      registry_.DeregisterOwned(key, old, conn.id, now).IgnoreError();
    }
  }
  return {"BatchInstanceResponse", SuccessBody(R"(,"type":"batchRegisterInstance")")};
}

void GrpcServer::Impl::PersistentInstance(const ServiceKey& key, const GrpcRequest& request,
                                          ReplyFn reply) {
  auto instance = InstanceOf(request.body["instance"]);
  if (!instance.ok()) return reply(Error(kGrpcInvalidParam, Msg(instance.status())));
  const std::string op = JsonString(request.body, "type");
  registry::Command c;
  c.timestamp_ms = clock_.NowMs();
  c.service = key;
  if (op == "registerInstance") {
    c.type = registry::CommandType::kRegisterInstance;
    instance->ephemeral = false;
    c.instance = *instance;
  } else if (op == "deregisterInstance") {
    c.type = registry::CommandType::kDeregisterInstance;
    c.instance.address = instance->address;
  } else {
    return reply(Error(kGrpcInvalidParam, common::StrCat("unknown type '", op, "'")));
  }
  if (auto s = registry_.Precheck(c); !s.ok()) return reply(Error(kGrpcInvalidParam, Msg(s)));
  proposer_.Propose(node::NamingLogEntry(c), [reply, op](absl::Status s) {
    if (!s.ok()) return reply(Error(kGrpcServerError, Msg(s)));
    reply({"InstanceResponse", SuccessBody(common::StrCat(R"(,"type":)", Quoted(op)))});
  });
}

std::string GrpcServer::Impl::ServiceInfo(const ServiceKey& key, std::string_view clusters,
                                          bool healthy_only) {
  ServiceInfoOptions o;
  o.clusters = clusters;
  o.healthy_only = healthy_only;
  o.grouped_name = false;
  o.cache_millis = options_.cache_millis;
  o.now_ms = clock_.NowMs();
  const auto view = registry_.Find(key);
  return ServiceInfoJson(key, view.get(), o);
}

Reply GrpcServer::Impl::QueryService(const ServiceKey& key, const GrpcRequest& request) {
  const std::string clusters = JsonString(request.body, "cluster");
  const bool healthy_only = JsonBool(request.body, "healthyOnly", false);
  return {
      "QueryServiceResponse",
      SuccessBody(common::StrCat(R"(,"serviceInfo":)", ServiceInfo(key, clusters, healthy_only)))};
}

Reply GrpcServer::Impl::Subscribe(const std::shared_ptr<Connection>& conn, const ServiceKey& key,
                                  const GrpcRequest& request) {
  const bool subscribe = JsonBool(request.body, "subscribe", true);
  const std::string clusters = JsonString(request.body, "clusters");
  {
    std::lock_guard lock(conn->mu);
    if (subscribe) {
      conn->subscribed[key] = clusters;
    } else {
      conn->subscribed.erase(key);
    }
  }
  {
    std::lock_guard lock(subs_mu_);
    // A connection released meanwhile has already cleaned up; do not leave an entry behind.
    if (subscribe && !conn->released) {
      subscribers_[key][conn->id] = conn;
    } else if (auto it = subscribers_.find(key); it != subscribers_.end()) {
      it->second.erase(conn->id);
      if (it->second.empty()) subscribers_.erase(it);
    }
  }
  return {"SubscribeServiceResponse",
          SuccessBody(common::StrCat(R"(,"message":"success","serviceInfo":)",
                                     ServiceInfo(key, clusters, false)))};
}

Reply GrpcServer::Impl::ListServices(const GrpcRequest& request) {
  std::string ns(common::Trim(JsonString(request.body, "namespace")));
  if (ns.empty()) ns = std::string(registry::kDefaultNamespace);
  std::string group(common::Trim(JsonString(request.body, "groupName")));
  if (group.empty()) group = std::string(registry::kDefaultGroup);
  const int64_t page_no = std::max<int64_t>(1, JsonInt(request.body, "pageNo", 1));
  const int64_t page_size = std::clamp<int64_t>(JsonInt(request.body, "pageSize", 10), 1, 10000);
  const size_t offset = PageOffset(page_no, page_size);
  const auto page = registry_.ListPage(ns, group, offset, static_cast<size_t>(page_size));
  JsonWriter names;
  names.BeginArray();
  for (const auto& key : page.keys) names.String(key->name);
  names.EndArray();
  return {"ServiceListResponse", SuccessBody(common::StrCat(R"(,"count":)", page.total,
                                                            R"(,"serviceNames":)", names.Take()))};
}

// ---------------------------------------------------------------- config

absl::StatusOr<ConfigKey> GrpcServer::Impl::ConfigKeyOf(const Json::Value& body) const {
  ConfigKey key = config::MakeConfigKey(JsonString(body, "dataId"), JsonString(body, "group"),
                                        JsonString(body, "tenant"));
  if (auto s = config::ValidateKey(key); !s.ok()) return s;
  return key;
}

Reply GrpcServer::Impl::QueryConfig(const GrpcRequest& request) {
  auto key = ConfigKeyOf(request.body);
  if (!key.ok()) {
    return {"ConfigQueryResponse", FailureBody(kGrpcInvalidParam, Msg(key.status()))};
  }
  const bool tagged = !JsonString(request.body, "tag").empty();
  auto item = tagged ? nullptr : config_store_.Get(*key);
  if (!item) return {"ConfigQueryResponse", FailureBody(kGrpcNotFound, "config data not exist")};
  JsonWriter w;
  w.BeginObject();
  w.Key("content").String(item->content);
  w.Key("encryptedDataKey").String(item->encrypted_data_key);
  w.Key("contentType").String(item->type);
  w.Key("md5").String(item->md5);
  w.Key("lastModified").Int(item->modify_time_ms);
  w.Key("beta").Bool(false);
  w.EndObject();
  const std::string object = w.Take();
  // The object's members become extra fields of the response.
  return {"ConfigQueryResponse",
          SuccessBody(common::StrCat(",", std::string_view(object).substr(1, object.size() - 2)))};
}

void GrpcServer::Impl::PublishConfig(const GrpcRequest& request, const std::string& src_ip,
                                     ReplyFn reply) {
  auto fail = [&](int code, std::string_view message) {
    reply({"ConfigPublishResponse", FailureBody(code, message)});
  };
  auto key = ConfigKeyOf(request.body);
  if (!key.ok()) return fail(kGrpcInvalidParam, Msg(key.status()));
  const Json::Value& content = request.body["content"];
  if (!content.isString()) return fail(kGrpcInvalidParam, "content is blank");
  if (auto s = config::ValidateContent(content.asString(), options_.max_config_content_bytes);
      !s.ok()) {
    return fail(kGrpcInvalidParam, Msg(s));
  }
  const Json::Value& extra = request.body["additionMap"];
  auto addition = [&](const char* name) {
    return extra.isObject() ? JsonString(extra, name) : std::string();
  };
  if (!addition("tag").empty() || !addition("betaIps").empty()) {
    return fail(kGrpcInvalidParam, "gray releases (tag, betaIps) are not supported by this server");
  }
  config::ConfigCommand c;
  c.type = config::ConfigCommandType::kPublish;
  c.timestamp_ms = clock_.NowMs();
  c.key = *key;
  c.src_ip = src_ip;
  // With auth on, the history names the authenticated user, not what the client claims.
  c.src_user = request.principal.empty() ? addition("src_user") : request.principal;
  c.item.content = content.asString();
  c.item.type = addition("type");
  c.item.app_name = addition("appName");
  c.item.tags = addition("config_tags");
  c.item.description = addition("desc");
  c.item.use = addition("use");
  c.item.effect = addition("effect");
  c.item.schema = addition("schema");
  c.item.encrypted_data_key = addition("encryptedDataKey");
  c.cas_md5 = JsonString(request.body, "casMd5");
  c.has_cas = !c.cas_md5.empty();
  proposer_.Propose(node::ConfigLogEntry(c), [reply](absl::Status s) {
    if (s.ok()) return reply({"ConfigPublishResponse", SuccessBody()});
    reply({"ConfigPublishResponse", FailureBody(kGrpcServerError, Msg(s))});
  });
}

void GrpcServer::Impl::RemoveConfig(const GrpcRequest& request, const std::string& src_ip,
                                    ReplyFn reply) {
  auto key = ConfigKeyOf(request.body);
  if (!key.ok()) {
    return reply({"ConfigRemoveResponse", FailureBody(kGrpcInvalidParam, Msg(key.status()))});
  }
  config::ConfigCommand c;
  c.type = config::ConfigCommandType::kRemove;
  c.timestamp_ms = clock_.NowMs();
  c.key = *key;
  c.src_ip = src_ip;
  c.src_user = request.principal;
  proposer_.Propose(node::ConfigLogEntry(c), [reply](absl::Status s) {
    if (s.ok()) return reply({"ConfigRemoveResponse", SuccessBody()});
    reply({"ConfigRemoveResponse", FailureBody(kGrpcServerError, Msg(s))});
  });
}

Reply GrpcServer::Impl::BatchListen(const std::shared_ptr<Connection>& conn,
                                    const GrpcRequest& request) {
  const bool listen = JsonBool(request.body, "listen", true);
  const Json::Value& contexts = request.body["configListenContexts"];
  if (!contexts.isArray()) {
    return {"ConfigChangeBatchListenResponse",
            FailureBody(kGrpcInvalidParam, "configListenContexts must be a list")};
  }
  JsonWriter changed;
  changed.BeginArray();
  for (const auto& context : contexts) {
    if (!context.isObject()) continue;
    auto key = ConfigKeyOf(context);
    if (!key.ok()) {
      return {"ConfigChangeBatchListenResponse", FailureBody(kGrpcInvalidParam, Msg(key.status()))};
    }
    {
      std::lock_guard lock(conn->mu);
      if (listen) {
        conn->listening.insert(*key);
      } else {
        conn->listening.erase(*key);
      }
    }
    {
      std::lock_guard lock(subs_mu_);
      if (listen && !conn->released) {
        config_listeners_[*key][conn->id] = conn;
      } else if (auto it = config_listeners_.find(*key); it != config_listeners_.end()) {
        it->second.erase(conn->id);
        if (it->second.empty()) config_listeners_.erase(it);
      }
    }
    if (listen && config_store_.Md5Of(*key) != JsonString(context, "md5")) {
      changed.BeginObject()
          .Key("dataId")
          .String(key->data_id)
          .Key("group")
          .String(key->group)
          .Key("tenant")
          .String(key->tenant)
          .EndObject();
    }
  }
  changed.EndArray();
  return {"ConfigChangeBatchListenResponse",
          SuccessBody(common::StrCat(R"(,"changedConfigs":)", changed.Take()))};
}

// ---------------------------------------------------------------- pushes

void GrpcServer::Impl::SchedulePush(const ServiceKey& key) {
  const int64_t now = clock_.NowMs();
  {
    std::lock_guard lock(push_mu_);
    int64_t due = now;
    if (auto it = last_push_ms_.find(key); it != last_push_ms_.end()) {
      due = std::max(now, it->second + options_.push_merge_ms);
    }
    auto [it, inserted] = naming_due_.emplace(key, DuePush{due, MonotonicUs()});
    if (!inserted) it->second.due_ms = std::min(it->second.due_ms, due);
  }
  push_cv_.notify_one();
}

void GrpcServer::Impl::RunPushThread() {
  int64_t next_scan_ms = clock_.NowMs() + 200;
  std::unique_lock lock(push_mu_);
  while (!stopping_) {
    const int64_t now = clock_.NowMs();
    std::vector<std::pair<ServiceKey, int64_t>> due;  // with when it changed
    int64_t next_wake = next_scan_ms;
    for (auto it = naming_due_.begin(); it != naming_due_.end();) {
      if (it->second.due_ms <= now) {
        due.emplace_back(it->first, it->second.changed_us);
        last_push_ms_[it->first] = now;
        it = naming_due_.erase(it);
      } else {
        next_wake = std::min(next_wake, it->second.due_ms);
        ++it;
      }
    }
    std::deque<std::pair<ConfigKey, int64_t>> config_changes;
    config_changes.swap(config_changes_);
    const bool scan = now >= next_scan_ms;
    if (!due.empty() || !config_changes.empty() || scan) {
      lock.unlock();
      for (const auto& [key, changed_us] : due) PushService(key, changed_us);
      for (const auto& [key, changed_us] : config_changes) PushConfigChange(key, changed_us);
      if (scan) {
        RetryAndDetect(now);
        next_scan_ms = now + 200;
      }
      lock.lock();
      continue;
    }
    // last_push_ms_ only matters within one merge window; keep it from growing forever.
    if (last_push_ms_.size() > 100'000) last_push_ms_.clear();
    push_cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(1, next_wake - now)));
  }
}

void GrpcServer::Impl::PushService(const ServiceKey& key, int64_t changed_us) {
  std::vector<std::pair<std::shared_ptr<Connection>, std::string>> targets;
  {
    std::lock_guard lock(subs_mu_);
    auto it = subscribers_.find(key);
    if (it == subscribers_.end()) return;
    for (const auto& [id, weak] : it->second) {
      if (auto conn = weak.lock()) targets.emplace_back(std::move(conn), std::string());
    }
  }
  for (auto& [conn, clusters] : targets) {
    std::lock_guard lock(conn->mu);
    auto it = conn->subscribed.find(key);
    if (it != conn->subscribed.end()) clusters = it->second;
  }
  // One ServiceInfo per distinct cluster filter.
  std::map<std::string, std::string> prefix_by_clusters;
  const std::string coalesce_key = common::StrCat("n:", key.namespace_id, "##", key.GroupedName());
  for (const auto& [conn, clusters] : targets) {
    auto [it, inserted] = prefix_by_clusters.try_emplace(clusters);
    if (inserted) {
      it->second = common::StrCat(R"({"serviceInfo":)", ServiceInfo(key, clusters, false),
                                  R"(,"module":"naming","requestId":")");
    }
    Push(*conn, "NotifySubscriberRequest", it->second, coalesce_key, /*track=*/true, changed_us);
  }
}

void GrpcServer::Impl::PushConfigChange(const ConfigKey& key, int64_t changed_us) {
  std::vector<std::shared_ptr<Connection>> targets;
  {
    std::lock_guard lock(subs_mu_);
    auto it = config_listeners_.find(key);
    if (it == config_listeners_.end()) return;
    for (const auto& [id, weak] : it->second) {
      if (auto conn = weak.lock()) targets.push_back(std::move(conn));
    }
  }
  const std::string prefix =
      common::StrCat(R"({"dataId":)", Quoted(key.data_id), R"(,"group":)", Quoted(key.group),
                     R"(,"tenant":)", Quoted(key.tenant), R"(,"module":"config","requestId":")");
  const std::string coalesce_key = common::StrCat("c:", key.GroupKey());
  for (const auto& conn : targets) {
    Push(*conn, "ConfigChangeNotifyRequest", prefix, coalesce_key, /*track=*/true, changed_us);
  }
}

void GrpcServer::Impl::Push(Connection& conn, std::string_view type, std::string prefix,
                            const std::string& coalesce_key, bool track, int64_t changed_us) {
  const std::string request_id = common::StrCat(next_request_id_.fetch_add(1));
  std::string json = common::StrCat(prefix, request_id, "\"}");
  std::shared_ptr<Stream> stream;
  {
    std::lock_guard lock(conn.mu);
    stream = conn.stream;
  }
  if (!stream) return;
  if (track) {
    std::lock_guard lock(conn.mu);
    if (!coalesce_key.empty()) {
      // Only the newest push for a service or config is worth retrying.
      auto [latest, inserted] = conn.latest_by_coalesce_key.try_emplace(coalesce_key, request_id);
      if (!inserted) {
        // The replaced push's change is still unacknowledged: its latency runs on.
        if (auto replaced = conn.pending.find(latest->second); replaced != conn.pending.end()) {
          if (replaced->second.changed_us != 0 && replaced->second.changed_us < changed_us) {
            changed_us = replaced->second.changed_us;
          }
          conn.pending.erase(replaced);
        }
        latest->second = request_id;
      }
    }
    PendingPush& p = conn.pending[request_id];
    p.changed_us = changed_us;
    p.type = std::string(type);
    p.body_prefix = std::move(prefix);
    p.coalesce_key = coalesce_key;
    p.deadline_ms = clock_.NowMs() + options_.push_ack_timeout_ms;
  }
  pushes_.Inc();
  stream->Send(MakePayload(type, std::move(json), options_.server_ip), coalesce_key);
}

void GrpcServer::Impl::RetryAndDetect(int64_t now) {
  for (const auto& conn : AllConnections()) {
    std::vector<PendingPush> resend;
    bool probe = false, drop = false;
    {
      std::lock_guard lock(conn->mu);
      for (auto it = conn->pending.begin(); it != conn->pending.end();) {
        if (it->second.deadline_ms > now) {
          ++it;
          continue;
        }
        if (it->second.tries <= options_.push_max_retries) {
          resend.push_back(it->second);
        } else {
          push_failures_.Inc();
        }
        if (!it->second.coalesce_key.empty())
          conn->latest_by_coalesce_key.erase(it->second.coalesce_key);
        it = conn->pending.erase(it);
      }
      if (conn->detection_sent_ms != 0) {
        drop = now - conn->detection_sent_ms >= options_.detection_timeout_ms;
      } else if (now - conn->last_active_ms.load() >= options_.detection_idle_ms) {
        probe = true;
        conn->detection_sent_ms = now;
      }
    }
    for (auto& p : resend) {
      push_retries_.Inc();
      const int tries = p.tries + 1;
      Push(*conn, p.type, p.body_prefix, p.coalesce_key, true, p.changed_us);
      std::lock_guard lock(conn->mu);
      if (auto latest = conn->latest_by_coalesce_key.find(p.coalesce_key);
          latest != conn->latest_by_coalesce_key.end()) {
        if (auto pending = conn->pending.find(latest->second); pending != conn->pending.end()) {
          pending->second.tries = tries;
        }
      }
    }
    if (probe) {
      detections_.Inc();
      Push(*conn, "ClientDetectionRequest", R"({"module":"internal","requestId":")", "", false);
    }
    if (drop) {
      dropped_.Inc();
      spdlog::info("gRPC connection {} did not answer a detection probe; closing it", conn->id);
      CloseStream(*conn);
    }
  }
}

// ---------------------------------------------------------------- GrpcServer

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcServer::~GrpcServer() { Shutdown(); }

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Create(const GrpcServerOptions& options,
                                                               registry::Registry& registry,
                                                               config::ConfigStore& config_store,
                                                               node::Proposer& proposer,
                                                               const common::Clock& clock,
                                                               common::MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(options, registry, config_store, proposer, clock, metrics);
  if (auto s = impl->Start(); !s.ok()) return s;
  Impl* raw = impl.get();
  registry.AddListener(
      [raw](const ServiceKey& key, const std::shared_ptr<const registry::ServiceView>&) {
        raw->OnServiceChanged(key);
      });
  config_store.AddListener(
      [raw](const config::ConfigChange& change) { raw->OnConfigChanged(change.key); });
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

int GrpcServer::port() const { return impl_->port(); }
void GrpcServer::SetAuthorizer(GrpcAuthorizer authorizer) {
  impl_->SetAuthorizer(std::move(authorizer));
}
void GrpcServer::Shutdown() { impl_->Shutdown(); }
std::vector<GrpcSubscriber> GrpcServer::SubscribersOf(const registry::ServiceKey& key) const {
  return impl_->SubscribersOf(key);
}

}  // namespace dnsd::api
