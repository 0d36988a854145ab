// NacosClient follows the services a DNS-F agent needs from a dnsd or Nacos 2.x cluster over
// the Nacos gRPC protocol, the one the Nacos SDKs speak (../shared/reference/nacos-protocol.md
// §6): ServerCheckRequest on the unary service, then ConnectionSetupRequest on the
// bi-directional stream, HealthCheckRequest to see the connection registered and, every
// `health_check_ms`, that it still is; SubscribeServiceRequest per service (the answer
// carries the current list); NotifySubscriberRequest pushes, each acknowledged with a
// NotifySubscriberResponse; ClientDetectionRequest answered; ConnectResetRequest obeyed.
//
// Failover: the servers are tried in turn from a random start; a server that fails (check,
// setup, health check, a broken stream) is left for the next one after a backoff that doubles
// from `backoff_min_ms` to `backoff_max_ms` with ±20% jitter, reset once a connection holds.
// After every (re)connection each subscription is made again and its answer delivered as a
// full list, so what changed while disconnected is caught up.
//
// Order: a subscription's answer and a push for the same service travel on different streams
// and may arrive in either order, so each list carries the server's stamp (lastRefTime) and
// one older than the last delivered is dropped (an answer stamped like the last push too:
// the push is the newer news), as the Nacos SDKs do. Stamps restart with every connection,
// since another server's clock is another clock.
//
// Bad input (a push that does not parse, an unexpected type) is counted and skipped, never
// acknowledged as applied; the connection goes on.
//
// Thread-safety: Subscribe/Unsubscribe/accessors from any thread. `on_service` and
// `on_connection` run on the client's threads (one at a time per connection) and must only
// hand the data over.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "registry/naming_model.h"

namespace Json {
class Value;
}

namespace dnsd::agent {

// A service as the server sent it: the full list of its instances.
struct ServiceUpdate {
  registry::ServiceKey key;
  std::vector<registry::Instance> hosts;
  int64_t last_ref_time_ms = 0;  // the server's stamp of this list
  bool from_push = false;        // a push, or the answer to a subscription
};

// Parses a Nacos ServiceInfo JSON object (the "serviceInfo" of a subscription's answer or a
// push) of namespace `namespace_id`; its service comes from "name" (plain or "group@@name")
// and "groupName". kInvalidArgument naming the field when it is malformed.
absl::StatusOr<ServiceUpdate> ParseServiceInfo(const std::string& json_text,
                                               const std::string& namespace_id);
// The same from a parsed value (the snapshot keeps lists in this form).
absl::StatusOr<ServiceUpdate> ServiceInfoFromJson(const Json::Value& info,
                                                  const std::string& namespace_id);

struct NacosClientOptions {
  std::vector<std::string> servers;  // "host:port" of each server's gRPC port (HTTP + 1000)
  // One client follows one namespace, as a Nacos SDK's connection does (its pushes name a
  // service by group and name only).
  std::string namespace_id = "public";
  std::string client_ip = "127.0.0.1";  // what the metadata says this client is
  int request_timeout_ms = 3000;
  int health_check_ms = 5000;
  int backoff_min_ms = 100;
  int backoff_max_ms = 10000;
  // Nacos auth: with a user name, the client logs in on the server's HTTP port (its gRPC port
  // + http_port_offset) before each connection and sends the token with every request,
  // logging in again when 90% of the token's lifetime has passed.
  std::string username;
  std::string password;
  int http_port_offset = -1000;
  // PEM of the CA that signed the servers' certificates: gRPC and the login go over TLS.
  std::string tls_ca_pem;
  std::function<void(const ServiceUpdate&)> on_service;
  // Connected to `server` (true; the subscriptions' answers follow) or lost it (false).
  std::function<void(bool connected, const std::string& server)> on_connection;
  // The server refused a subscription (an error answer, or a list that does not parse); it
  // is asked again at each health check while the connection holds.
  std::function<void(const registry::ServiceKey& key)> on_subscription_failed;
  // The answer to CheckExists: whether the service is in its group's service list.
  std::function<void(const registry::ServiceKey& key, bool exists)> on_existence;
};

struct NacosClientStats {
  std::atomic<uint64_t> connects{0};         // connections established
  std::atomic<uint64_t> failed_attempts{0};  // connection attempts or connections that failed
  std::atomic<uint64_t> pushes{0};           // service pushes applied and acknowledged
  std::atomic<uint64_t> bad_messages{0};     // pushes or answers that did not parse, or unknown
  std::atomic<uint64_t> out_of_order{0};     // lists dropped as older than one delivered
};

class NacosClient {
 public:
  explicit NacosClient(NacosClientOptions options);
  ~NacosClient();
  NacosClient(const NacosClient&) = delete;
  NacosClient& operator=(const NacosClient&) = delete;

  void Start();
  void Stop();
  // Subscribes now if connected, else at the next connection; the answer and later pushes
  // come through on_service.
  // `key.namespace_id` is the client's.
  void Subscribe(const registry::ServiceKey& key);
  void Unsubscribe(const registry::ServiceKey& key);
  // Asks the server (ServiceListRequest, paged) whether the service still exists; the answer
  // comes through on_existence, or never when no server answers.
  void CheckExists(const registry::ServiceKey& key);
  bool connected() const { return connected_.load(); }
  std::string server() const;  // the server of the current connection ("" when none)
  const NacosClientStats& stats() const { return stats_; }

 private:
  struct Connection;
  void Run();
  // Connects to `server`, serves it until it fails or Stop(); returns whether it connected.
  bool Serve(const std::string& server);
  void ReadPushes(Connection& connection);
  // Logs in for `connection` when a user name is configured (see NacosClientOptions).
  absl::Status LogIn(Connection& connection);
  absl::StatusOr<std::string> Request(Connection& connection, const std::string& type,
                                      const std::string& body_json, std::string* response_type);
  absl::Status SubscribeOn(Connection& connection, const registry::ServiceKey& key, bool subscribe);
  // Whether `key` is in its group's service list on the connection's server.
  absl::StatusOr<bool> ExistsOn(Connection& connection, const registry::ServiceKey& key);
  // Hands `update` to on_service unless it is older than what was delivered (see above).
  void Deliver(const ServiceUpdate& update);

  NacosClientOptions options_;
  NacosClientStats stats_;
  std::atomic<bool> connected_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::set<registry::ServiceKey> subscribed_;  // what every connection subscribes to
  std::vector<std::pair<registry::ServiceKey, bool>> pending_;  // (key, subscribe) to send now
  std::vector<registry::ServiceKey> checks_;                    // CheckExists to send
  std::string server_;
  // Serialises deliveries; the stamp and origin of the last list delivered per service.
  std::mutex deliver_mu_;
  std::map<registry::ServiceKey, std::pair<int64_t, bool>> delivered_;
  Connection* live_ = nullptr;  // mu_: the connection being served, to cancel on Stop()
  std::thread thread_;
};

}  // namespace dnsd::agent
