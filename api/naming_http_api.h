// NamingHttpApi serves the Nacos naming HTTP Open API, v1 (/nacos/v1/ns/...) and v2
// (/nacos/v2/ns/...), plus health, cluster-node and operator endpoints, on top of the
// Registry. Ephemeral writes go straight to the registry; durable writes (persistent
// instances, service definitions) are proposed to the node's Proposer (node/proposer.h) and
// answered once applied.
//
// Threading: handlers run on HTTP loop threads; everything they touch is thread-safe
// (registry readers are lock-free, switches and subscribers have their own small locks).
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "api/api_status.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "config/config_store.h"
#include "node/proposer.h"
#include "registry/registry.h"

namespace dnsd::api {

// One member as /nacos/v1/core/cluster/nodes shows it.
struct ClusterMemberView {
  std::string ip;
  int http_port = 0;
  std::string state = "UP";  // UP, SUSPICIOUS, DOWN
  bool self = false;
  int64_t last_refresh_ms = 0;
  // The Raft group as this node sees it.
  std::string raft_role;  // self only: LEADER, FOLLOWER, CANDIDATE, PRE_CANDIDATE
  uint64_t raft_term = 0;
  std::string raft_leader;      // "ip:port" of the leader (HTTP port), empty when none is known
  uint64_t raft_applied = 0;    // self only
  uint64_t raft_commit = 0;     // self only
  std::string raft_membership;  // VOTER, LEARNER, or "" (not in the Raft configuration)
  // Distro, toward this member from the node answering: client changes not delivered yet and
  // how long the oldest has waited; -1 for the node itself (or without Distro).
  int64_t distro_pending = -1;
  int64_t distro_lag_ms = -1;
  // Whether this member holds a share of the HTTP clients in the answering node's Distro ring
  // (the ring follows the member states, a moment behind them).
  bool distro_in_ring = false;
};

struct NodeIdentity {
  std::string ip = "127.0.0.1";
  int http_port = 8848;
  int raft_port = 7848;
  std::string version = "2.5.1";
  // The cluster's members, this node among them; unset for a single node (itself, UP).
  std::function<std::vector<ClusterMemberView>()> members;
  // Membership changes (dnsd's admin API); unset for a single node. `op` is "add" (as a
  // learner), "promote" or "remove"; `address` is the member's ip:port (HTTP port).
  std::function<void(std::string_view op, const std::string& address,
                     std::function<void(absl::Status)> done)>
      change_membership;
  // False while this node is not ready to serve (loading the naming data from its peers);
  // unset: always ready.
  std::function<bool()> ready;
};

// Where an HTTP client's ephemeral writes are made in a cluster (Distro): on the member that
// owns the client. A request that reaches another member is forwarded there and answered with
// the owner's answer (Nacos's DistroFilter); a forwarded request carries kForwardedHeader and
// is never forwarded again. When the owner cannot be reached the request is served here.
struct EphemeralRouting {
  // The owner ("ip:port") of the client when it is another member; "" when it is this node.
  std::function<std::string(const std::string& client_id)> remote_owner;
  // Sends `request` to `owner`; `done` gets the answer, or nullopt when the owner could not be
  // reached. Any thread.
  std::function<void(const std::string& owner, const HttpRequest& request,
                     std::function<void(std::optional<HttpResponse>)> done)>
      forward;
};
inline constexpr std::string_view kForwardedHeader = "x-dnsd-forwarded-by";

// The runtime switches of /operator/switches. Values are kept as JSON literals.
class NamingSwitches {
 public:
  NamingSwitches();
  std::string Json() const;
  absl::Status Set(std::string_view entry, std::string_view value);
  int64_t Int(std::string_view entry) const;
  bool Bool(std::string_view entry) const;
  std::string String(std::string_view entry) const;

 private:
  enum class Type { kBool, kInt, kDouble, kString, kJson };
  struct Value {
    Type type;
    std::string literal;
  };
  mutable std::mutex mu_;
  std::map<std::string, Value, std::less<>> values_;
};

// HTTP subscribers (1.x clients polling /instance/list with a udpPort), for
// /service/subscribers. Entries expire when the client stops polling.
class SubscriberBook {
 public:
  struct Subscriber {
    std::string address;  // ip:port
    std::string agent;
    std::string app;
    std::string clusters;
    int64_t last_seen_ms = 0;
    std::string client_id;  // a gRPC connection's id; empty for HTTP subscribers
  };
  void Record(const registry::ServiceKey& key, Subscriber subscriber);
  std::vector<Subscriber> List(const registry::ServiceKey& key, int64_t now_ms) const;
  static constexpr int64_t kExpiryMs = 30'000;

 private:
  mutable std::mutex mu_;
  absl::flat_hash_map<registry::ServiceKey, std::map<std::string, Subscriber>> by_service_;
};

class UdpPusher;
class GrpcServer;

class NamingHttpApi {
 public:
  // `namespaces` is the config store, which owns the namespaces naming shares.
  NamingHttpApi(registry::Registry& registry, const config::ConfigStore& namespaces,
                node::Proposer& proposer, const common::Clock& clock,
                common::MetricsRegistry& metrics, NodeIdentity identity);
  void RegisterRoutes(HttpServer& server);
  // A cluster's routing of ephemeral writes; call before the server starts.
  void SetEphemeralRouting(EphemeralRouting routing) { routing_ = std::move(routing); }
  // Nacos 1.x UDP pushes for list queries that carry udpPort; before the server starts.
  void SetUdpPusher(UdpPusher* pusher) { udp_pusher_ = pusher; }
  // The 2.x clients subscribed over gRPC, listed with the HTTP ones; before the server starts.
  void SetGrpcServer(const GrpcServer* grpc) { grpc_ = grpc; }
  // The operator switches (/operator/switches); the health checker reads its own there.
  NamingSwitches& switches() { return switches_; }

 private:
  using Req = const HttpRequest&;
  using Resp = Responder&;

  // Instances.
  void Instance(ApiVersion v, Req req, Resp resp);
  void RegisterInstance(ApiVersion v, Req req, Resp resp);
  void DeregisterInstance(ApiVersion v, Req req, Resp resp);
  void UpdateInstance(ApiVersion v, Req req, Resp resp, bool patch);
  void GetInstance(ApiVersion v, Req req, Resp resp);
  void ListInstances(ApiVersion v, Req req, Resp resp);
  void Beat(ApiVersion v, Req req, Resp resp);
  void Statuses(Req req, Resp resp);
  void MetadataBatch(ApiVersion v, Req req, Resp resp);
  void Health(ApiVersion v, Req req, Resp resp);
  void Cluster(ApiVersion v, Req req, Resp resp);
  // Services.
  void Service(ApiVersion v, Req req, Resp resp);
  void ListServices(ApiVersion v, Req req, Resp resp);
  void Subscribers(ApiVersion v, Req req, Resp resp);
  // This node's subscribers of `key`: HTTP ones polling, then gRPC connections.
  std::vector<SubscriberBook::Subscriber> SubscribersOf(const registry::ServiceKey& key) const;
  // Operator and cluster.
  void Switches(ApiVersion v, Req req, Resp resp);
  // /nacos/v2/ns/client/...: the clients that publish and subscribe.
  void Clients(std::string_view what, Req req, Resp resp);
  void OperatorMetrics(ApiVersion v, Req req, Resp resp);
  std::vector<ClusterMemberView> Members() const;
  std::string MemberJson(const ClusterMemberView& member) const;
  std::string MembersJson() const;  // a JSON array
  std::string SelfJson() const;

  // Proposes a durable command after a precheck; `reply` renders the applied result.
  void Propose(ApiVersion v, registry::Command command, Resp resp,
               std::function<HttpResponse()> on_success);
  void Reject(ApiVersion v, Resp resp, const absl::Status& status);
  absl::StatusOr<registry::ServiceKey> ServiceKeyFrom(ApiVersion v, const Params& params) const;
  absl::StatusOr<std::string> NamespaceFrom(ApiVersion v, const Params& params) const;

  registry::Registry& registry_;
  const config::ConfigStore& namespaces_;
  node::Proposer& proposer_;
  const common::Clock& clock_;
  common::MetricsRegistry& metrics_;
  // Forwards the request to the owner of the HTTP client at `address` when that is another
  // member (see EphemeralRouting); true when it did, and the answer is on its way.
  bool ForwardToOwner(const HttpRequest& req, Responder& resp,
                      const registry::InstanceAddress& address);

  const NodeIdentity identity_;
  EphemeralRouting routing_;
  HttpServer* server_ = nullptr;
  common::Counter* forwarded_writes_ = nullptr;
  common::Counter* forward_fallbacks_ = nullptr;
  NamingSwitches switches_;
  SubscriberBook subscribers_;
  UdpPusher* udp_pusher_ = nullptr;
  const GrpcServer* grpc_ = nullptr;
};

}  // namespace dnsd::api
