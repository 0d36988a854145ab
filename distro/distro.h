// Distro is one node's side of the AP replication of ephemeral instances: it owns the
// DistroCore (the protocol's bookkeeping), listens to the registry for changes of local
// clients, sends them to the peers through a DistroTransport, and serves the peers' calls by
// writing their clients' copies into the registry. Reads never come here: DNS, the HTTP lists
// and the gRPC pushes all serve the local registry, copies included.
//
// Its thread polls the core: every change is sent within sync_delay_ms (merged with the
// changes that follow it in that time), summaries every verify_interval_ms.
//
// Start-up: LoadSnapshot() copies every client from a peer that is serving (trying each in
// turn) before the node reports ready. When none is serving (they are unreachable, or starting
// too: a whole cluster starting) there is nothing to load and the node starts with what it has;
// while peers refuse it as a non-member (it is being added) it keeps trying until the timeout.
//
// Thread-safety: all public methods are thread-safe. Lock order: registry writer lock, then
// Distro's own; Distro never calls the registry while holding its own lock.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "distro/distro_core.h"
#include "raft_peer.pb.h"
#include "registry/registry.h"

namespace dnsd::distro {

// How Distro reaches a peer (the peer gRPC port in the daemon, in-memory in tests). Calls
// are asynchronous with a deadline; `done` runs on any thread.
class DistroTransport {
 public:
  virtual ~DistroTransport() = default;
  template <typename Response>
  using Done = std::function<void(absl::Status, Response)>;
  virtual void Sync(const std::string& peer, dnsd::peer::DistroSyncRequest request,
                    Done<dnsd::peer::DistroSyncResponse> done) = 0;
  virtual void Verify(const std::string& peer, dnsd::peer::DistroVerifyRequest request,
                      Done<dnsd::peer::DistroVerifyResponse> done) = 0;
  virtual void Snapshot(const std::string& peer, dnsd::peer::DistroSnapshotRequest request,
                        Done<dnsd::peer::DistroSnapshotResponse> done) = 0;
};

class Distro {
 public:
  Distro(std::string self, std::vector<std::string> peers, registry::Registry& registry,
         DistroTransport& transport, const common::Clock& clock, DistroOptions options,
         common::MetricsRegistry& metrics);
  ~Distro();

  // Copies the clients of the first peer that answers (each tried in turn until `timeout_ms`).
  // OK also when none answered: then this node starts with what it has.
  absl::Status LoadSnapshot(int64_t timeout_ms);
  void Start();
  void Stop();
  bool ready() const { return ready_.load(std::memory_order_acquire); }

  // The peers that are up now (from the cluster's member health).
  void SetUpPeers(const std::set<std::string>& up);
  // What `peer` still lacks from this node: client changes not delivered and how long the
  // oldest has waited. nullopt when `peer` is not a peer (this node, or unknown).
  struct PeerReplication {
    size_t pending = 0;
    int64_t lag_ms = 0;
    bool in_ring = false;  // the peer owns a share of the HTTP clients in this node's ring
  };
  std::optional<PeerReplication> ReplicationTowards(const std::string& peer) const;
  // The node that writes this client now ("ip:port"); self() when it is this node.
  std::string OwnerOf(const std::string& client_id) const;
  // True when the ring gives `key` to this node (see DistroCore::RingOwnerOf).
  bool IsResponsibleFor(std::string_view key) const;
  const std::string& self() const { return self_; }

  // Peer calls (any thread).
  dnsd::peer::DistroSyncResponse HandleSync(const dnsd::peer::DistroSyncRequest& request);
  dnsd::peer::DistroVerifyResponse HandleVerify(const dnsd::peer::DistroVerifyRequest& request);
  // kPermissionDenied for a node that is not (yet) a member.
  absl::StatusOr<dnsd::peer::DistroSnapshotResponse> HandleSnapshot(
      const dnsd::peer::DistroSnapshotRequest& request);

 private:
  void Run();
  void LoadFrom(const std::string& peer, const dnsd::peer::DistroSnapshotResponse& response);
  void SendSync(const std::string& peer, const std::vector<std::string>& clients);
  void SendVerify(const std::string& peer, bool with_list);
  void ApplyOwnership(const DistroCore::OwnershipChange& change);
  bool IsPeer(const std::string& node) const;

  const std::string self_;
  const std::vector<std::string> peers_;
  registry::Registry& registry_;
  DistroTransport& transport_;
  const common::Clock& clock_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  DistroCore core_;
  bool stopping_ = false;
  bool woken_ = false;
  std::atomic<bool> ready_{false};
  std::thread thread_;

  common::Counter& sent_clients_;
  common::Counter& sync_bytes_;
  common::Counter& verify_bytes_;
  common::Counter& received_clients_;
  common::Counter& refused_clients_;
  common::Counter& bad_messages_;
  common::Counter& failed_calls_;
  common::Counter& verify_mismatches_;
  common::Counter& dropped_clients_;
  common::Counter& moved_clients_;
};

}  // namespace dnsd::distro
