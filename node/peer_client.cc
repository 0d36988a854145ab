#include "node/peer_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>

#include "node/peer_auth.h"
#include "node/raft_wire.h"

namespace dnsd::node {
namespace {

std::chrono::system_clock::time_point DeadlineIn(int ms) {
  return std::chrono::system_clock::now() + std::chrono::milliseconds(ms);
}

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

PeerClient::PeerClient(std::string target, size_t snapshot_chunk_bytes, std::string cluster_key,
                       PeerTlsCredentials tls)
    : target_(std::move(target)),
      snapshot_chunk_bytes_(snapshot_chunk_bytes),
      cluster_key_(std::move(cluster_key)) {
  grpc::ChannelArguments args;
  // Reconnect quickly after a peer restarts, but back off (x1.6, jittered) up to 2 s while
  // it stays away.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  // Notice a peer that vanished without closing the connection (kill -9 of a VM, a cut link).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args.SetMaxReceiveMessageSize(64 * 1024 * 1024);
  args.SetMaxSendMessageSize(64 * 1024 * 1024);
  // Each peer gets its own connection (no sharing with other channels to the same target).
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!tls.ca_pem.empty()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = tls.ca_pem;
    ssl.pem_cert_chain = tls.cert_chain_pem;
    ssl.pem_private_key = tls.private_key_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  channel_ = grpc::CreateCustomChannel(target_, credentials, args);
  stub_ = dnsd::peer::Peer::NewStub(channel_);
}

PeerClient::~PeerClient() {
  std::unique_lock lock(mu_);
  stopping_ = true;
  raft_queue_.clear();
  for (grpc::ClientContext* context : live_) context->TryCancel();
  idle_.wait(lock, [&] { return live_.empty(); });
}

grpc::ClientContext* PeerClient::NewContext(int deadline_ms) {
  auto* context = new grpc::ClientContext();
  context->set_deadline(DeadlineIn(deadline_ms));
  // Fail fast while the peer is unreachable instead of queueing inside grpc++.
  context->set_wait_for_ready(false);
  if (!cluster_key_.empty()) {
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
    context->AddMetadata(std::string(kPeerAuthHeader), PeerCredential(cluster_key_, now_s));
  }
  live_.insert(context);
  return context;
}

void PeerClient::CallDone(grpc::ClientContext* context) {
  std::lock_guard lock(mu_);
  live_.erase(context);
  delete context;
  if (live_.empty()) idle_.notify_all();
}

bool PeerClient::reachable() const {
  return reachable_.load(std::memory_order_relaxed) &&
         channel_->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

bool PeerClient::connected() const {
  return channel_->GetState(/*try_to_connect=*/true) == GRPC_CHANNEL_READY;
}

void PeerClient::SendRaft(raft::Message message) {
  std::vector<dnsd::peer::RaftMessage> wire = ToWireMessages(message, snapshot_chunk_bytes_);
  std::lock_guard lock(mu_);
  if (stopping_) return;
  if (raft_queue_.size() + wire.size() > kMaxQueuedRaftMessages) {
    stats_.raft_dropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  for (auto& m : wire) raft_queue_.push_back(std::move(m));
  if (!raft_in_flight_) StartRaftCall();
}

void PeerClient::Probe(int64_t idle_ms) {
  std::lock_guard lock(mu_);
  if (stopping_ || raft_in_flight_) return;
  if (SteadyNowMs() - stats_.last_success_ms.load(std::memory_order_relaxed) < idle_ms) return;
  StartRaftCall();
}

void PeerClient::StartRaftCall() {
  struct Call {
    dnsd::peer::RaftBatch request;
    dnsd::peer::RaftAck response;
  };
  auto call = std::make_shared<Call>();
  size_t n = 0, bytes = 0;
  while (!raft_queue_.empty() && n < kMaxRaftMessagesPerBatch &&
         (n == 0 || bytes + raft_queue_.front().ByteSizeLong() <= kMaxBatchBytes)) {
    bytes += raft_queue_.front().ByteSizeLong();
    *call->request.add_messages() = std::move(raft_queue_.front());
    raft_queue_.pop_front();
    ++n;
  }
  raft_in_flight_ = true;
  grpc::ClientContext* context = NewContext(kRaftCallDeadlineMs);
  stub_->async()->Raft(context, &call->request, &call->response,
                       [this, call, context, n](grpc::Status status) {
                         reachable_.store(status.ok(), std::memory_order_relaxed);
                         if (status.ok()) {
                           stats_.raft_sent.fetch_add(n, std::memory_order_relaxed);
                           stats_.last_success_ms.store(SteadyNowMs(), std::memory_order_relaxed);
                         } else {
                           stats_.raft_failed_calls.fetch_add(1, std::memory_order_relaxed);
                         }
                         {
                           std::lock_guard lock(mu_);
                           raft_in_flight_ = false;
                           if (!stopping_ && !raft_queue_.empty()) StartRaftCall();
                         }
                         CallDone(context);
                       });
}

void PeerClient::Forward(dnsd::peer::ForwardRequest request, int deadline_ms, ForwardDone done) {
  Unary(&Stub::async::Forward, std::move(request), deadline_ms, std::move(done));
}

template <typename Request, typename Response>
void PeerClient::Unary(AsyncMethod<Request, Response> method, Request request, int deadline_ms,
                       Done<Response> done) {
  struct Call {
    Request request;
    Response response;
    Done<Response> done;
  };
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->done = std::move(done);
  grpc::ClientContext* context = nullptr;
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && forwards_in_flight_ < kMaxForwardsInFlight) {
      ++forwards_in_flight_;
      context = NewContext(deadline_ms);
    }
  }
  if (context == nullptr) {
    call->done(absl::ResourceExhaustedError("too many calls in flight to this peer"), {});
    return;
  }
  (stub_->async()->*method)(
      context, &call->request, &call->response, [this, call, context](grpc::Status status) {
        {
          std::lock_guard lock(mu_);
          --forwards_in_flight_;
        }
        if (status.ok()) stats_.last_success_ms.store(SteadyNowMs(), std::memory_order_relaxed);
        // gRPC's and absl's status codes are the same canonical codes.
        call->done(status.ok() ? absl::OkStatus()
                               : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                              status.error_message()),
                   std::move(call->response));
        CallDone(context);
      });
}

void PeerClient::DistroSync(dnsd::peer::DistroSyncRequest request, int deadline_ms,
                            Done<dnsd::peer::DistroSyncResponse> done) {
  Unary(&Stub::async::DistroSync, std::move(request), deadline_ms, std::move(done));
}

void PeerClient::DistroVerify(dnsd::peer::DistroVerifyRequest request, int deadline_ms,
                              Done<dnsd::peer::DistroVerifyResponse> done) {
  Unary(&Stub::async::DistroVerify, std::move(request), deadline_ms, std::move(done));
}

void PeerClient::DistroSnapshot(dnsd::peer::DistroSnapshotRequest request, int deadline_ms,
                                Done<dnsd::peer::DistroSnapshotResponse> done) {
  Unary(&Stub::async::DistroSnapshot, std::move(request), deadline_ms, std::move(done));
}

void PeerClient::ForwardHttp(dnsd::peer::ForwardHttpRequest request, int deadline_ms,
                             Done<dnsd::peer::ForwardHttpResponse> done) {
  Unary(&Stub::async::ForwardHttp, std::move(request), deadline_ms, std::move(done));
}

}  // namespace dnsd::node
