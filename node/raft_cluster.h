// RaftCluster is one node of a dnsd cluster's CP side: the RaftNode that replicates the log,
// the peer port (net::GrpcTransport serving dnsd.peer.Peer: Raft messages and forwarded
// writes), a PeerClient per other member, and the Proposer every API writes through.
//
// Writes (Propose): on the leader the entry is proposed to Raft and answered with the state
// machine's result once applied here. On a follower it is forwarded to the leader, which
// proposes it and answers with the result and the entry's index; the follower then waits
// (up to forward_apply_wait_ms) until it has applied that index itself before answering, so a
// client that writes through any node reads its own write from that node. While no leader is
// known (an election), or the leader's connection is down, the write waits and retries for up
// to propose_timeout_ms; nothing is sent twice, so a write is never applied twice. A write
// whose forward was sent but never answered (the leader died) fails with kUnavailable and a
// message saying its outcome is unknown.
//
// Loop guard: a forwarded write is proposed by the receiver or refused (not the leader);
// it is never forwarded again.
//
// Thread-safety: Propose, Send and the accessors are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cluster/members.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "net/grpc_transport.h"
#include "node/peer_client.h"
#include "node/proposer.h"
#include "node/raft_wire.h"
#include "raft/raft_node.h"

namespace dnsd::node {

struct RaftClusterOptions {
  cluster::Membership membership;
  std::string raft_dir;  // the Raft log (LevelDB)
  std::string peer_listen_address = "0.0.0.0";
  // -1: every member's peer port is its HTTP port + 1001; otherwise every member listens on
  // this port (at its own address).
  int peer_port = -1;
  int tick_ms = 100;
  int election_ticks = 10;        // election timeout: [10, 20) ticks
  int propose_timeout_ms = 5000;  // how long a write waits for a leader
  int forward_apply_wait_ms = 1000;
  // This node joins a running cluster: it starts outside the configuration and waits for the
  // leader to add it (as a learner), instead of counting the listed members as voters.
  bool join = false;
  leveldb::Env* env = nullptr;
  // Log compaction (raft::RaftNodeOptions): a snapshot of the state machines after this many
  // applied entries; 0 never. take_snapshot and restore must be set when it is not 0.
  uint64_t compact_every = 0;
  std::function<absl::StatusOr<raft::RaftNodeOptions::SnapshotEncoder>()> take_snapshot;
  std::function<absl::Status(const std::string&)> restore;
  // Turns the snapshot this node keeps into the one a follower gets (adds what the node keeps
  // outside the Raft log); unset: sent as kept.
  std::function<absl::StatusOr<std::string>(const std::string&)> expand_snapshot;
  size_t snapshot_chunk_bytes = PeerClient::kDefaultSnapshotChunkBytes;
  // Where a member's peer port is ("host:port"); unset: its address and HTTP port + 1001.
  // Tests whose nodes listen on ports picked by the system fill it in between Listen() and
  // Start().
  std::function<std::string(const cluster::Member&)> peer_target;
  // Further methods of the peer port (Distro's, forwarded HTTP requests), served beside Raft's.
  std::map<std::string, net::UnaryMethod, std::less<>> peer_methods;
  // A single node: a one-member group of its own with the fixed Raft id 1 (so that its log
  // does not depend on its address or port), no peers and no peer port (Listen() is not
  // called), snapshots that carry the config store (no peer can supply it).
  bool standalone = false;
  // raft::RaftNodeOptions: proposals are refused below this much free space (0: off), and
  // what runs when a state machine's files turn out damaged.
  uint64_t min_free_bytes = 0;
  std::function<void(const absl::Status&)> fatal;
  // The cluster key (raw bytes, node/peer_auth.h): when set, this node's calls to peers carry
  // its credential and its peer port answers no call without a valid one. Empty: peers are
  // not authenticated (loopback and trusted networks only; see ResolveListenAddress).
  std::string cluster_key;
  // TLS on the peer port (mutual: its context asks members for a certificate of the cluster's
  // CA) and what this member's peer clients present and trust. Unset: plain TCP.
  std::shared_ptr<common::TlsServerContext> peer_tls;
  PeerTlsCredentials peer_tls_client;
};

enum class MemberState { kUp, kSuspicious, kDown };
const char* MemberStateName(MemberState state);

struct MemberStatus {
  cluster::Member member;
  raft::NodeId raft_id = 0;
  bool self = false;
  // Its place in the Raft configuration this node knows: "VOTER", "LEARNER", or "" (listed in
  // cluster.conf but not, or no longer, in the configuration).
  std::string raft_membership;
  MemberState state = MemberState::kDown;
  int64_t last_contact_ms = 0;  // wall clock of the last successful call (self: now)
};

class RaftCluster final : public Proposer, public raft::RaftTransport {
 public:
  using ApplyFn = raft::RaftNode::ApplyFn;

  static absl::StatusOr<std::unique_ptr<RaftCluster>> Create(RaftClusterOptions options,
                                                             ApplyFn apply,
                                                             common::MetricsRegistry& metrics);
  ~RaftCluster() override;

  // Opens the peer port (so that the members' ports are all known before any is called).
  absl::Status Listen();
  // Connects to the other members and starts Raft; Listen() first.
  void Start();
  // Hands leadership to an up-to-date follower if this node leads (waiting up to
  // `transfer_ms` for it to take over), then stops.
  void Stop(int transfer_ms = 2000);

  void Propose(std::string entry, DoneFn done) override;
  // A linearizable read's wait: ReadIndex through the leader, then until this node has
  // applied that index (never answered OK on a timer).
  void Barrier(DoneFn done) override;
  // Membership, one node at a time, through any member (forwarded to the leader like a
  // write): add `address` ("ip:port", its HTTP port) as a learner, promote that learner to a
  // voter, or remove a member. `done` gets the result once the change is committed.
  enum class MembershipChange { kAddLearner, kPromote, kRemove };
  void ChangeMembership(MembershipChange change, const std::string& address, DoneFn done);
  void Send(const raft::Message& message) override;

  raft::RaftStatus raft_status() const { return raft_->status(); }
  std::vector<MemberStatus> members() const;
  const cluster::Membership& membership() const { return options_.membership; }
  int peer_port() const;
  // The member with this Raft id (nullptr when none).
  const cluster::Member* MemberById(raft::NodeId id) const;
  // "ip:port" of a member listed at start or added at run time; "" when unknown.
  std::string AddressOf(raft::NodeId id) const;
  // The client for the member at "ip:port" (its HTTP address); nullptr for this node or a
  // node that is not a member. Valid until Stop().
  PeerClient* PeerByAddress(const std::string& address);

 private:
  RaftCluster(RaftClusterOptions options, common::MetricsRegistry& metrics);
  struct Attempt;
  void TryPropose(std::shared_ptr<Attempt> attempt);
  void RetryLater(std::shared_ptr<Attempt> attempt, absl::Status why);
  void TryRead(std::shared_ptr<DoneFn> done, int64_t deadline_ms);
  void ForwardTo(raft::NodeId leader, std::shared_ptr<Attempt> attempt);
  void OnRaftCall(std::shared_ptr<net::GrpcCall> call, std::string message);
  void OnForwardCall(std::shared_ptr<net::GrpcCall> call, std::string message);
  // The client for a member, created on first use for members added at run time (their
  // address comes from the configuration); nullptr for an unknown node.
  PeerClient* Peer(raft::NodeId id);
  std::vector<std::pair<raft::NodeId, PeerClient*>> Peers() const;
  // A member listed at start or in the Raft configuration.
  bool IsKnownPeer(raft::NodeId id) const;
  std::string TargetOf(const cluster::Member& member) const;

  RaftClusterOptions options_;
  const raft::NodeId self_id_;
  std::unique_ptr<raft::RaftNode> raft_;
  std::set<raft::NodeId> other_ids_;  // the other members listed at start
  // Clients are added (at Start, and for members added at run time), never removed before
  // Stop, so a pointer looked up under the lock stays valid.
  mutable std::mutex peers_mu_;
  std::map<raft::NodeId, std::unique_ptr<PeerClient>> peers_;
  std::unique_ptr<common::EventLoop> timers_;  // retries and waits
  std::thread timer_thread_;
  std::unique_ptr<net::GrpcTransport> server_;
  std::mutex assemblers_mu_;
  std::map<raft::NodeId, SnapshotAssembler> assemblers_;  // snapshot chunks, per sender
  common::MetricsRegistry& metrics_;
  common::Counter& bad_peer_messages_;
  common::Counter& forwarded_writes_;
  common::Counter& forward_failures_;
  common::Counter& received_forwards_;
  std::atomic<bool> stopped_{false};
};

}  // namespace dnsd::node
