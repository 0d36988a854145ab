#include "dnsd/cluster_naming.h"

#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd {
namespace {

constexpr int kSyncDeadlineMs = 3000;
constexpr int kSnapshotDeadlineMs = 10'000;
constexpr int kForwardDeadlineMs = 3000;
constexpr int kWatchEveryMs = 100;

std::vector<std::string> Addresses(const cluster::Membership& membership) {
  std::vector<std::string> out;
  for (const auto& m : membership.members) out.push_back(m.address());
  return out;
}

// Serves one unary peer call with `handle(request) -> response`.
template <typename Request, typename Handle>
net::UnaryMethod UnaryHandler(common::Counter& bad, const char* what, Handle handle) {
  return [&bad, what, handle](std::shared_ptr<net::GrpcCall> call, std::string message) {
    Request request;
    if (!request.ParseFromString(message)) {
      bad.Inc();
      call->Finish(net::kGrpcInvalidArgument, common::StrCat("not a ", what));
      return;
    }
    auto response = handle(request);
    if constexpr (requires { response.ok(); }) {
      if (!response.ok()) {
        call->Finish(net::kGrpcPermissionDenied, std::string(response.status().message()));
        return;
      }
      call->Send(response->SerializeAsString());
    } else {
      call->Send(response.SerializeAsString());
    }
    call->Finish();
  };
}

}  // namespace

class ClusterNaming::PeerTransport final : public distro::DistroTransport {
 public:
  explicit PeerTransport(std::atomic<node::RaftCluster*>& raft) : raft_(raft) {}

  void Sync(const std::string& peer, dnsd::peer::DistroSyncRequest request,
            Done<dnsd::peer::DistroSyncResponse> done) override {
    if (auto* client = Client(peer)) {
      return client->DistroSync(std::move(request), kSyncDeadlineMs, std::move(done));
    }
    done(NotAMember(peer), {});
  }
  void Verify(const std::string& peer, dnsd::peer::DistroVerifyRequest request,
              Done<dnsd::peer::DistroVerifyResponse> done) override {
    if (auto* client = Client(peer)) {
      return client->DistroVerify(std::move(request), kSyncDeadlineMs, std::move(done));
    }
    done(NotAMember(peer), {});
  }
  void Snapshot(const std::string& peer, dnsd::peer::DistroSnapshotRequest request,
                Done<dnsd::peer::DistroSnapshotResponse> done) override {
    if (auto* client = Client(peer)) {
      return client->DistroSnapshot(std::move(request), kSnapshotDeadlineMs, std::move(done));
      // (A peer whose port is cut costs this call its whole deadline; start-up goes on after.)
    }
    done(NotAMember(peer), {});
  }
  node::PeerClient* Client(const std::string& peer) {
    node::RaftCluster* raft = raft_.load();
    return raft ? raft->PeerByAddress(peer) : nullptr;
  }

 private:
  static absl::Status NotAMember(const std::string& peer) {
    return absl::UnavailableError(common::StrCat(peer, " is not a reachable member"));
  }
  std::atomic<node::RaftCluster*>& raft_;
};

ClusterNaming::ClusterNaming(const cluster::Membership& membership, registry::Registry& registry,
                             const common::Clock& clock, distro::DistroOptions options,
                             common::MetricsRegistry& metrics)
    : self_(membership.self_member().address()),
      transport_(std::make_unique<PeerTransport>(raft_)),
      distro_(std::make_unique<distro::Distro>(self_, Addresses(membership), registry, *transport_,
                                               clock, options, metrics)),
      bad_forwards_(metrics.GetCounter("dnsd_distro_bad_forwards_total",
                                       "Forwarded HTTP requests refused: malformed or not from a "
                                       "member")) {}

ClusterNaming::~ClusterNaming() { Stop(); }

void ClusterNaming::AddPeerMethods(std::map<std::string, net::UnaryMethod, std::less<>>& methods) {
  methods["/dnsd.peer.Peer/DistroSync"] = UnaryHandler<dnsd::peer::DistroSyncRequest>(
      bad_forwards_, "DistroSyncRequest",
      [this](const dnsd::peer::DistroSyncRequest& r) { return distro_->HandleSync(r); });
  methods["/dnsd.peer.Peer/DistroVerify"] = UnaryHandler<dnsd::peer::DistroVerifyRequest>(
      bad_forwards_, "DistroVerifyRequest",
      [this](const dnsd::peer::DistroVerifyRequest& r) { return distro_->HandleVerify(r); });
  methods["/dnsd.peer.Peer/DistroSnapshot"] = UnaryHandler<dnsd::peer::DistroSnapshotRequest>(
      bad_forwards_, "DistroSnapshotRequest",
      [this](const dnsd::peer::DistroSnapshotRequest& r) { return distro_->HandleSnapshot(r); });
  methods["/dnsd.peer.Peer/ForwardHttp"] = [this](std::shared_ptr<net::GrpcCall> call,
                                                  std::string message) {
    OnForwardHttp(std::move(call), std::move(message));
  };
}

void ClusterNaming::OnForwardHttp(std::shared_ptr<net::GrpcCall> call, std::string message) {
  dnsd::peer::ForwardHttpRequest request;
  api::HttpServer* http = http_.load();
  node::RaftCluster* raft = raft_.load();
  if (!request.ParseFromString(message) || !raft || !raft->PeerByAddress(request.from())) {
    bad_forwards_.Inc();
    call->Finish(net::kGrpcPermissionDenied, "not a forwarded request from a member");
    return;
  }
  // Counted before the check, so that Stop() sees every request it lets through.
  forwards_in_progress_.fetch_add(1);
  struct Done {
    std::atomic<int>& n;
    ~Done() { n.fetch_sub(1); }
  } done{forwards_in_progress_};
  if (!http || !serving_forwards_.load()) {
    // Starting, or stopping: a write made now might never reach the peers. The forwarder
    // serves it itself.
    call->Finish(net::kGrpcUnavailable, "this member is starting or stopping");
    return;
  }
  api::HttpRequest plain;
  plain.method = api::MethodFromName(request.method());
  plain.path = request.path();
  plain.remote_ip = request.remote_ip();
  for (const auto& p : request.params()) plain.params.Add(p.name(), p.value());
  auto owned = std::make_shared<api::OwnedHttpRequest>(plain);
  for (const auto& h : request.headers()) owned->headers.emplace_back(h.name(), h.value());
  // The loop guard: served here, never forwarded again.
  owned->headers.emplace_back(std::string(api::kForwardedHeader), request.from());
  http->DispatchInternal(owned->request, [call, owned](api::HttpResponse response) {
    dnsd::peer::ForwardHttpResponse out;
    out.set_status(response.status);
    out.set_content_type(response.content_type);
    out.set_body(std::move(response.body));
    for (auto& [name, value] : response.headers) {
      auto* h = out.add_headers();
      h->set_name(name);
      h->set_value(value);
    }
    call->Send(out.SerializeAsString());
    call->Finish();
  });
}

bool ClusterNaming::ChecksHealthOf(const registry::ServiceKey& service) const {
  return distro_->IsResponsibleFor(
      common::StrCat(service.namespace_id, "##", service.GroupedName()));
}

api::EphemeralRouting ClusterNaming::Routing() {
  api::EphemeralRouting routing;
  routing.remote_owner = [this](const std::string& client_id) {
    std::string owner = distro_->OwnerOf(client_id);
    return owner == self_ ? std::string() : owner;
  };
  routing.forward = [this](const std::string& owner, const api::HttpRequest& request,
                           std::function<void(std::optional<api::HttpResponse>)> done) {
    node::PeerClient* client = transport_->Client(owner);
    if (!client) return done(std::nullopt);
    dnsd::peer::ForwardHttpRequest out;
    out.set_from(self_);
    out.set_method(std::string(api::MethodName(request.method)));
    out.set_path(request.path);
    out.set_remote_ip(request.remote_ip);
    // Parameters travel decoded (query and form merged), so the body is not needed again.
    for (size_t i = 0; i < request.params.size(); ++i) {
      const auto& [name, value] = request.params.At(i);
      auto* p = out.add_params();
      p->set_name(name);
      p->set_value(value);
    }
    if (request.headers) {
      for (const auto& [name, value] : *request.headers) {
        if (name == "content-length" || name == "transfer-encoding" || name == "connection")
          continue;
        auto* h = out.add_headers();
        h->set_name(name);
        h->set_value(value);
      }
    }
    client->ForwardHttp(std::move(out), kForwardDeadlineMs,
                        [done](absl::Status s, dnsd::peer::ForwardHttpResponse r) {
                          if (!s.ok()) return done(std::nullopt);
                          api::HttpResponse response;
                          response.status = r.status();
                          response.content_type = r.content_type();
                          response.body = std::move(*r.mutable_body());
                          for (const auto& h : r.headers())
                            response.headers.emplace_back(h.name(), h.value());
                          done(std::move(response));
                        });
  };
  return routing;
}

void ClusterNaming::Start(node::RaftCluster& raft, api::HttpServer& http,
                          int64_t snapshot_timeout_ms) {
  raft_.store(&raft);
  http_.store(&http);
  // The first ring should hold every member that is up: a ring of this node alone would take
  // every HTTP client it loads only to hand most of them back a moment later.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  while (std::chrono::steady_clock::now() < until) {
    bool all_up = true;
    for (const auto& m : raft.members()) all_up = all_up && m.state == node::MemberState::kUp;
    if (all_up) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  WatchOnce(raft);
  distro_->LoadSnapshot(snapshot_timeout_ms).IgnoreError();
  distro_->Start();
  watcher_ = std::thread([this] {
    common::SetThreadName("distro-members");
    WatchMembers();
  });
}

void ClusterNaming::WatchOnce(node::RaftCluster& raft) {
  std::set<std::string> up;
  for (const auto& m : raft.members()) {
    if (!m.self && m.state == node::MemberState::kUp) up.insert(m.member.address());
  }
  if (up != last_up_) {
    last_up_ = up;
    distro_->SetUpPeers(up);
  }
}

void ClusterNaming::WatchMembers() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(kWatchEveryMs), [&] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    WatchOnce(*raft_.load());
    lock.lock();
  }
}

void ClusterNaming::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (watcher_.joinable()) watcher_.join();
  // No write may land after Distro's last flush: forwarded requests are refused from now on
  // (their senders serve them), and those already being served finish first.
  serving_forwards_.store(false);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (forwards_in_progress_.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  distro_->Stop();
}

}  // namespace dnsd
