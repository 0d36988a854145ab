// GrpcServer speaks the Nacos 2.x gRPC protocol (protocol reference §6) on its own port
// (HTTP port + 1000 by default): unary /Request/request and the /BiRequestStream/
// requestBiStream stream of each client connection, for naming and config.
//
// Connections: a client's HTTP/2 transport is one Nacos connection, identified by the peer
// address gRPC reports for every call on it. ServerCheck gives it an id; the first stream
// message (ConnectionSetupRequest) registers it; any other request before that is refused
// with errorCode 301. When the stream ends (client gone, detection failed, shutdown) the
// connection is released: its ephemeral instances leave the registry, its subscriptions and
// config listens are dropped, and the remaining subscribers are pushed the change.
//
// Pushes (NotifySubscriberRequest, ConfigChangeNotifyRequest, ClientDetectionRequest,
// ConnectResetRequest) go over each connection's stream through its own write queue, so a
// slow or dead client delays nobody else; a naming push still queued for a service is
// replaced by the newer one. A service's changes are pushed at once when it was not pushed
// within the merge window, else merged and pushed when the window ends. Pushes wait for the
// client's ack and are retried after a timeout a few times.
//
// Threading: the transport thread (net/grpc_transport.h) runs the handlers; one push thread
// does scheduling, retries and idle detection. Shared state is guarded by small mutexes; registry
// and config listeners only enqueue. Thread-safe throughout.
#pragma once

#include <json/json.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/tls.h"
#include "config/config_store.h"
#include "node/proposer.h"
#include "registry/registry.h"

namespace dnsd::api {

struct GrpcServerOptions {
  std::string address = "0.0.0.0";
  int port = 9848;  // 0 picks a free port
  int64_t max_inbound_bytes = 10 << 20;
  int64_t push_merge_ms = 50;
  int64_t push_ack_timeout_ms = 5000;
  int push_max_retries = 3;
  int64_t detection_idle_ms = 20'000;   // idle this long: probe with ClientDetectionRequest
  int64_t detection_timeout_ms = 5000;  // no answer to the probe this long: drop the connection
  // HTTP/2 keep-alive, as Nacos's server: PING after this long without a frame from the
  // client, and close when nothing arrives within the timeout after it.
  int64_t keepalive_time_ms = 6 * 60 * 1000;
  int64_t keepalive_timeout_ms = 20'000;
  int64_t max_config_content_bytes = 10 << 20;
  int max_connections = 1 << 20;
  int64_t cache_millis = 10'000;
  std::string server_ip = "127.0.0.1";            // reported in Payload metadata
  std::shared_ptr<common::TlsServerContext> tls;  // TLS on the port (ALPN h2) when set
};

// What a request carries for authentication; the hook decides. The default allows all.
// `body` (the request's JSON) is valid during the call only.
struct GrpcCaller {
  std::string connection_id;
  std::string type;
  std::string access_token;
  const Json::Value* body = nullptr;
};
// Returns who the caller is (a user name; "" when auth is off) or why it is refused.
using GrpcAuthorizer = std::function<absl::StatusOr<std::string>(const GrpcCaller&)>;

// A connection subscribed to a service, for /service/subscribers and the console.
struct GrpcSubscriber {
  std::string connection_id;
  std::string client_ip;  // as the client reported it at setup, else its address
  int remote_port = 0;
  std::string version;  // clientVersion, e.g. "Nacos-Java-Client:v2.3.0"
  std::string app;      // the AppName label
  std::string clusters;
  int64_t connected_ms = 0;
};

class GrpcServer {
 public:
  // Registers registry and config listeners: call before the registry or the driver writes.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Create(const GrpcServerOptions& options,
                                                            registry::Registry& registry,
                                                            config::ConfigStore& config_store,
                                                            node::Proposer& proposer,
                                                            const common::Clock& clock,
                                                            common::MetricsRegistry& metrics);
  ~GrpcServer();

  int port() const;
  void SetAuthorizer(GrpcAuthorizer authorizer);
  // The connections subscribed to `key` on this node, by connection id.
  std::vector<GrpcSubscriber> SubscribersOf(const registry::ServiceKey& key) const;
  // Asks every client to reconnect (ConnectResetRequest), then stops serving.
  void Shutdown();

  class Impl;

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dnsd::api
