// ClusterNaming wires Distro (distro/distro.h) into a cluster member: its calls to peers go
// through the Raft cluster's peer clients (one peer port, one connection per peer), its
// handlers and the forwarded HTTP requests are served on that peer port, the members' health
// from the Raft cluster decides the hash ring, and the naming HTTP API routes HTTP clients'
// ephemeral writes to their owner through it.
//
// Thread-safety: AddPeerMethods before the peer port opens; Start and Stop from the main
// thread; the rest from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "api/http_server.h"
#include "api/naming_http_api.h"
#include "cluster/members.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "distro/distro.h"
#include "net/grpc_transport.h"
#include "node/raft_cluster.h"
#include "registry/registry.h"

namespace dnsd {

class ClusterNaming {
 public:
  ClusterNaming(const cluster::Membership& membership, registry::Registry& registry,
                const common::Clock& clock, distro::DistroOptions options,
                common::MetricsRegistry& metrics);
  ~ClusterNaming();

  // Distro's methods and ForwardHttp, for the peer port (RaftClusterOptions::peer_methods).
  void AddPeerMethods(std::map<std::string, net::UnaryMethod, std::less<>>& methods);
  // Uses `raft`'s peer clients and member health; loads the other members' data (up to
  // `snapshot_timeout_ms`), then replicates. `http` serves forwarded requests.
  void Start(node::RaftCluster& raft, api::HttpServer& http, int64_t snapshot_timeout_ms);
  void Stop();

  bool ready() const { return distro_->ready(); }
  // What the member at `address` still lacks from this node (Distro::ReplicationTowards).
  std::optional<distro::Distro::PeerReplication> ReplicationTowards(
      const std::string& address) const {
    return distro_->ReplicationTowards(address);
  }
  api::EphemeralRouting Routing();
  // Whether this member checks the health of `service`'s persistent instances: the ring's
  // owner of the service's name among the members up, as Distro splits clients.
  bool ChecksHealthOf(const registry::ServiceKey& service) const;

 private:
  class PeerTransport;
  void WatchMembers();
  // Hands the members that are up to Distro when they changed.
  void WatchOnce(node::RaftCluster& raft);
  void OnForwardHttp(std::shared_ptr<net::GrpcCall> call, std::string message);

  const std::string self_;
  std::unique_ptr<PeerTransport> transport_;
  std::unique_ptr<distro::Distro> distro_;
  std::atomic<node::RaftCluster*> raft_{nullptr};
  std::atomic<api::HttpServer*> http_{nullptr};
  std::atomic<bool> serving_forwards_{true};
  std::atomic<int> forwards_in_progress_{0};
  common::Counter& bad_forwards_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread watcher_;
  std::set<std::string> last_up_;  // WatchOnce's (one thread at a time)
};

}  // namespace dnsd
