// PeerClient makes this node's calls to one peer's peer port (dnsd.peer.Peer, served by
// net::GrpcTransport there) through a grpc++ channel, which reconnects with exponential
// backoff by itself.
//
// Raft messages: SendRaft() queues and returns at once. One call is in flight at a time;
// whatever queued meanwhile leaves in the next call as one batch, so a slow peer gets fewer,
// larger calls rather than more of them. The queue is bounded (kMaxQueuedRaftMessages): when
// the peer is gone or slow, new messages are dropped and counted, never buffered without
// limit; Raft retransmits what matters (heartbeats, probes).
//
// Forwarded writes: Forward() is one asynchronous call with a deadline; at most
// kMaxForwardsInFlight at a time, beyond that it fails at once with kResourceExhausted.
//
// Thread-safety: all methods are thread-safe; callbacks run on grpc++'s threads. The
// destructor cancels the calls in flight and waits for their callbacks (so it must not run on
// one of them).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "raft/raft_types.h"
#include "raft_peer.grpc.pb.h"

namespace dnsd::node {

struct PeerClientStats {
  std::atomic<uint64_t> raft_dropped{0};       // messages dropped: queue full
  std::atomic<uint64_t> raft_failed_calls{0};  // Raft calls that failed (peer down, deadline)
  std::atomic<uint64_t> raft_sent{0};          // messages delivered
  std::atomic<int64_t> last_success_ms{0};     // steady clock of the last call that got through
};

// PEM text (not file names) of what a member's peer client presents and trusts.
struct PeerTlsCredentials {
  std::string ca_pem;
  std::string cert_chain_pem;
  std::string private_key_pem;
};

class PeerClient {
 public:
  static constexpr size_t kMaxQueuedRaftMessages = 4096;
  static constexpr int kMaxForwardsInFlight = 1024;
  static constexpr int kRaftCallDeadlineMs = 2000;
  // A call carries queued messages up to about this many bytes (a message is never split,
  // but snapshots come in chunks of `snapshot_chunk_bytes`), well below the peer port's limit.
  static constexpr size_t kMaxBatchBytes = 8 << 20;
  static constexpr size_t kDefaultSnapshotChunkBytes = 4 << 20;

  template <typename Response>
  using Done = std::function<void(absl::Status, Response)>;
  using ForwardDone = Done<dnsd::peer::ForwardResponse>;

  // "ip:port" of the peer port.
  // `cluster_key`: every call carries the credential node/peer_auth.h makes from it (none
  // when empty). `tls`: when its CA is set, the channel speaks TLS, checks the peer's
  // certificate against that CA (and its address against the certificate) and presents this
  // member's certificate (mutual TLS).
  explicit PeerClient(std::string target, size_t snapshot_chunk_bytes = kDefaultSnapshotChunkBytes,
                      std::string cluster_key = {}, PeerTlsCredentials tls = {});
  ~PeerClient();

  void SendRaft(raft::Message message);
  // An empty Raft call, when nothing else went out for `idle_ms`: it keeps reachable() and
  // last_success_ms current between members that have no Raft traffic (two followers).
  void Probe(int64_t idle_ms);
  void Forward(dnsd::peer::ForwardRequest request, int deadline_ms, ForwardDone done);

  // Distro's calls and forwarded HTTP requests: one asynchronous call each, with a deadline,
  // sharing the kMaxForwardsInFlight budget (beyond it they fail at once with
  // kResourceExhausted). `done` gets the call's gRPC status when it did not complete.
  void DistroSync(dnsd::peer::DistroSyncRequest request, int deadline_ms,
                  Done<dnsd::peer::DistroSyncResponse> done);
  void DistroVerify(dnsd::peer::DistroVerifyRequest request, int deadline_ms,
                    Done<dnsd::peer::DistroVerifyResponse> done);
  void DistroSnapshot(dnsd::peer::DistroSnapshotRequest request, int deadline_ms,
                      Done<dnsd::peer::DistroSnapshotResponse> done);
  void ForwardHttp(dnsd::peer::ForwardHttpRequest request, int deadline_ms,
                   Done<dnsd::peer::ForwardHttpResponse> done);

  const std::string& target() const { return target_; }
  const PeerClientStats& stats() const { return stats_; }
  // True while the last Raft call reached the peer (false before the first one) and the
  // connection is still up: a peer that went away since is not reachable, even before the
  // next call (or probe) to it fails.
  bool reachable() const;
  // True when the connection is up, so a call now is sent rather than failed unsent.
  bool connected() const;

 private:
  // Starts a Raft call with what is queued; mu_ held, no call in flight.
  void StartRaftCall();
  grpc::ClientContext* NewContext(int deadline_ms);  // mu_ held; counted in flight
  void CallDone(grpc::ClientContext* context);
  // One unary call of `method`: Forward, Distro's calls and forwarded HTTP requests.
  using Stub = dnsd::peer::Peer::Stub;
  template <typename Request, typename Response>
  using AsyncMethod = void (Stub::async::*)(grpc::ClientContext*, const Request*, Response*,
                                            std::function<void(grpc::Status)>);
  template <typename Request, typename Response>
  void Unary(AsyncMethod<Request, Response> method, Request request, int deadline_ms,
             Done<Response> done);

  const std::string target_;
  const size_t snapshot_chunk_bytes_;
  const std::string cluster_key_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<dnsd::peer::Peer::Stub> stub_;
  PeerClientStats stats_;
  std::atomic<bool> reachable_{false};

  std::mutex mu_;
  std::condition_variable idle_;
  bool stopping_ = false;
  std::deque<dnsd::peer::RaftMessage> raft_queue_;  // on the wire already: chunks are split
  bool raft_in_flight_ = false;
  int forwards_in_flight_ = 0;
  std::set<grpc::ClientContext*> live_;  // calls in flight, for cancelling at destruction
};

}  // namespace dnsd::node
