#include "distro/distro.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "common/strings.h"
#include "common/thread_name.h"
#include "distro/distro_wire.h"
#include "spdlog/spdlog.h"

namespace dnsd::distro {

Distro::Distro(std::string self, std::vector<std::string> peers, registry::Registry& registry,
               DistroTransport& transport, const common::Clock& clock, DistroOptions options,
               common::MetricsRegistry& metrics)
    : self_(std::move(self)),
      peers_(std::move(peers)),
      registry_(registry),
      transport_(transport),
      clock_(clock),
      core_(self_, peers_, options),
      sent_clients_(metrics.GetCounter("dnsd_distro_sent_clients_total",
                                       "Client copies sent to peers (a client per peer)")),
      sync_bytes_(metrics.GetCounter(
          "dnsd_distro_sync_bytes_total",
          "Bytes of client data sent to peers (message payloads, before gRPC framing)")),
      verify_bytes_(metrics.GetCounter("dnsd_distro_verify_bytes_total",
                                       "Bytes of owner summaries sent to peers (payloads)")),
      received_clients_(metrics.GetCounter("dnsd_distro_received_clients_total",
                                           "Client copies from peers applied here")),
      refused_clients_(metrics.GetCounter(
          "dnsd_distro_refused_clients_total",
          "Client copies from peers not applied (owned here, or older than the copy held)")),
      bad_messages_(metrics.GetCounter("dnsd_distro_bad_messages_total",
                                       "Distro data from peers that did not decode")),
      failed_calls_(metrics.GetCounter("dnsd_distro_failed_calls_total",
                                       "Distro calls to peers that failed (retried)")),
      verify_mismatches_(
          metrics.GetCounter("dnsd_distro_verify_mismatches_total",
                             "Owner summaries that did not match the copies held here (repaired)")),
      dropped_clients_(
          metrics.GetCounter("dnsd_distro_dropped_clients_total",
                             "Copies removed because their owner no longer has them or was lost")),
      moved_clients_(metrics.GetCounter(
          "dnsd_distro_moved_clients_total",
          "HTTP clients whose ownership moved to or from this node (ring changes)")) {
  metrics.AddGauge("dnsd_distro_clients", "Clients held here (own and copies)", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(core_.clients());
  });
  metrics.AddGauge("dnsd_distro_local_clients", "Clients this node owns", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(core_.local_clients());
  });
  metrics.AddGauge("dnsd_distro_pending_clients", "Client changes waiting to reach peers (sum)",
                   [this] {
                     std::lock_guard lock(mu_);
                     return static_cast<double>(core_.pending_total());
                   });
  metrics.AddGauge("dnsd_distro_replication_lag_ms",
                   "How long the oldest change not yet delivered to a peer that is up has waited",
                   [this] {
                     std::lock_guard lock(mu_);
                     return static_cast<double>(core_.lag_ms(clock_.NowMs()));
                   });
  metrics.AddGauge("dnsd_distro_ready", "1 once the start-up snapshot is loaded",
                   [this] { return ready() ? 1.0 : 0.0; });
  registry_.SetClientListener([this](const std::string& client_id) {
    // Under the registry's writer lock: note and wake, nothing more.
    std::lock_guard lock(mu_);
    core_.OnLocalChange(client_id, clock_.NowMs());
    woken_ = true;
    cv_.notify_one();
  });
}

Distro::~Distro() { Stop(); }

bool Distro::IsPeer(const std::string& node) const {
  std::lock_guard lock(mu_);
  return core_.IsKnownPeer(node);
}

absl::Status Distro::LoadSnapshot(int64_t timeout_ms) {
  std::vector<std::string> order;
  for (const auto& peer : peers_) {
    if (peer != self_) order.push_back(peer);
  }
  std::shuffle(order.begin(), order.end(), std::mt19937(std::random_device{}()));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    size_t refused = 0;
    for (const auto& peer : order) {
      std::mutex m;
      std::condition_variable cv;
      bool done = false;
      absl::Status status;
      dnsd::peer::DistroSnapshotResponse response;
      dnsd::peer::DistroSnapshotRequest request;
      request.set_from(self_);
      transport_.Snapshot(peer, request, [&](absl::Status s, dnsd::peer::DistroSnapshotResponse r) {
        std::lock_guard lock(m);
        status = std::move(s);
        response = std::move(r);
        done = true;
        cv.notify_one();
      });
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return done; });
      }
      if (!status.ok()) {
        // A peer that does not count this node as a member yet (it is being added) will
        // answer once it does; one that is unreachable has nothing to give.
        if (status.code() == absl::StatusCode::kPermissionDenied) ++refused;
        spdlog::info("distro: no snapshot from {}: {}", peer, common::ToStd(status.message()));
        continue;
      }
      if (!response.ready()) continue;  // loading itself: its copy may be incomplete
      LoadFrom(peer, response);
      ready_.store(true, std::memory_order_release);
      return absl::OkStatus();
    }
    if (refused == 0 || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  // No peer is serving: the whole cluster is starting, or this node is cut off. Either way
  // what it holds is all there is; the others' data arrives by sync and verify.
  spdlog::info("distro: no peer had data to load; starting with this node's own");
  ready_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

void Distro::LoadFrom(const std::string& peer, const dnsd::peer::DistroSnapshotResponse& response) {
  const int64_t now = clock_.NowMs();
  size_t loaded = 0;
  for (const auto& held : response.clients()) {
    auto publications = DecodeClient(held.client());
    if (!publications.ok()) {
      bad_messages_.Inc();
      continue;
    }
    const std::string& id = held.client().id();
    const bool own = held.owner() == self_;
    if (own && !registry::IsHttpClientId(id)) continue;  // its connection died with us
    DistroCore::Accept accept = DistroCore::Accept::kAdopt;
    if (!own) {
      std::lock_guard lock(mu_);
      accept =
          core_.OnRemote(held.owner(), id, held.client().revision(), publications->empty(), now);
    }
    if (accept == DistroCore::Accept::kStale || accept == DistroCore::Accept::kRefused) continue;
    registry_.ReplaceClient(id, std::move(*publications), now);
    if (accept == DistroCore::Accept::kAdopt && !own) registry_.SetClientLocal(id, true, now);
    if (own) {
      // This node's own HTTP client from before a restart: it writes it again.
      registry_.SetClientLocal(id, true, now);
      std::lock_guard lock(mu_);
      core_.OnLocalChange(id, now);
    }
    ++loaded;
  }
  spdlog::info("distro: loaded {} clients from {}", loaded, peer);
  // The loaded copies' owners are the peer's view; the ring decides which are this node's.
  DistroCore::OwnershipChange change;
  {
    std::lock_guard lock(mu_);
    const std::set<std::string> up = core_.up_peers();
    change = core_.SetUpPeers(up, now);
  }
  ApplyOwnership(change);
}

void Distro::Start() {
  if (peers_.empty() || (peers_.size() == 1 && peers_[0] == self_)) {
    ready_.store(true, std::memory_order_release);
  }
  thread_ = std::thread([this] {
    common::SetThreadName("distro");
    Run();
  });
}

void Distro::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (!thread_.joinable()) return;
  thread_.join();
  // Changes acknowledged in the last sync_delay_ms have not left yet: send them before going,
  // for up to two seconds (a peer that is slow or gone does not hold the shutdown longer).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    DistroCore::Work work;
    {
      std::lock_guard lock(mu_);
      core_.FlushAll(clock_.NowMs());
      if (core_.undelivered() == 0) break;
      work = core_.Poll(clock_.NowMs());
    }
    for (const auto& [peer, clients] : work.sync) SendSync(peer, clients);
    for (const auto& peer : work.verify) SendVerify(peer, /*with_list=*/false);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(10));
  }
}

std::optional<Distro::PeerReplication> Distro::ReplicationTowards(const std::string& peer) const {
  std::lock_guard lock(mu_);
  if (peer == self_ || !core_.IsKnownPeer(peer)) return std::nullopt;
  return PeerReplication{core_.pending(peer), core_.peer_lag_ms(peer, clock_.NowMs()),
                         core_.up_peers().contains(peer)};
}

void Distro::SetUpPeers(const std::set<std::string>& up) {
  DistroCore::OwnershipChange change;
  {
    std::lock_guard lock(mu_);
    change = core_.SetUpPeers(up, clock_.NowMs());
    woken_ = true;
  }
  cv_.notify_one();
  ApplyOwnership(change);
}

void Distro::ApplyOwnership(const DistroCore::OwnershipChange& change) {
  const int64_t now = clock_.NowMs();
  for (const auto& id : change.adopted) spdlog::debug("distro: adopted {}", id);
  for (const auto& id : change.released) spdlog::debug("distro: released {}", id);
  for (const auto& id : change.adopted) registry_.SetClientLocal(id, true, now);
  for (const auto& id : change.released) registry_.SetClientLocal(id, false, now);
  moved_clients_.Inc(change.adopted.size() + change.released.size());
  if (!change.adopted.empty() || !change.released.empty()) {
    spdlog::info("distro: ring changed; adopted {} HTTP clients, released {}",
                 change.adopted.size(), change.released.size());
  }
}

std::string Distro::OwnerOf(const std::string& client_id) const {
  std::lock_guard lock(mu_);
  return core_.OwnerOf(client_id);
}

bool Distro::IsResponsibleFor(std::string_view key) const {
  std::lock_guard lock(mu_);
  return core_.RingOwnerOf(key) == self_;
}

void Distro::Run() {
  for (;;) {
    DistroCore::Work work;
    {
      std::unique_lock lock(mu_);
      // Until the core's next deadline, or until a change, a call's end or a ring change.
      const int64_t wait_ms = core_.MsUntilWork(clock_.NowMs());
      cv_.wait_for(lock, std::chrono::milliseconds(wait_ms), [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
      work = core_.Poll(clock_.NowMs());
    }
    const int64_t now = clock_.NowMs();
    for (const auto& id : work.drop) {
      spdlog::debug("distro: {} dropped: its owner was lost", id);
      registry_.ReplaceClient(id, {}, now);
      dropped_clients_.Inc();
    }
    if (!work.released.empty()) ApplyOwnership({.adopted = {}, .released = work.released});
    for (const auto& [peer, clients] : work.sync) SendSync(peer, clients);
    for (const auto& peer : work.verify) SendVerify(peer, /*with_list=*/false);
  }
}

void Distro::SendSync(const std::string& peer, const std::vector<std::string>& clients) {
  dnsd::peer::DistroSyncRequest request;
  request.set_from(self_);
  const int64_t now = clock_.NowMs();
  for (const auto& id : clients) {
    auto publications = registry_.ClientPublications(id);
    uint64_t revision;
    {
      std::lock_guard lock(mu_);
      if (publications.empty()) core_.MarkGone(id, now);
      revision = core_.revision(id);
    }
    EncodeClient(id, revision, publications, *request.add_clients());
  }
  sent_clients_.Inc(clients.size());
  sync_bytes_.Inc(request.ByteSizeLong());
  transport_.Sync(peer, std::move(request),
                  [this, peer, clients](absl::Status s, dnsd::peer::DistroSyncResponse) {
                    if (!s.ok()) failed_calls_.Inc();
                    {
                      std::lock_guard lock(mu_);
                      core_.OnSyncDone(peer, clients, s.ok(), clock_.NowMs());
                      woken_ = true;
                    }
                    cv_.notify_one();
                  });
}

void Distro::SendVerify(const std::string& peer, bool with_list) {
  dnsd::peer::DistroVerifyRequest request;
  request.set_from(self_);
  {
    std::lock_guard lock(mu_);
    auto summary = core_.LocalSummary(with_list);
    request.set_count(summary.count);
    request.set_digest(summary.digest);
    request.set_listed(with_list);
    for (auto& [id, revision] : summary.clients) {
      request.add_ids(id);
      request.add_revisions(revision);
    }
  }
  verify_bytes_.Inc(request.ByteSizeLong());
  transport_.Verify(peer, std::move(request),
                    [this, peer, with_list](absl::Status s, dnsd::peer::DistroVerifyResponse r) {
                      if (!s.ok()) failed_calls_.Inc();
                      if (s.ok() && r.need_list() && !with_list) {
                        SendVerify(peer, /*with_list=*/true);  // the same turn goes on
                        return;
                      }
                      {
                        std::lock_guard lock(mu_);
                        if (s.ok()) {
                          core_.Resend(peer, {r.resend().begin(), r.resend().end()});
                        }
                        core_.OnVerifyDone(peer, s.ok(), clock_.NowMs());
                        woken_ = true;
                      }
                      cv_.notify_one();
                    });
}

dnsd::peer::DistroSyncResponse Distro::HandleSync(const dnsd::peer::DistroSyncRequest& request) {
  dnsd::peer::DistroSyncResponse response;
  if (!IsPeer(request.from())) {
    bad_messages_.Inc();
    return response;
  }
  const int64_t now = clock_.NowMs();
  for (const auto& client : request.clients()) {
    auto publications = DecodeClient(client);
    if (!publications.ok()) {
      bad_messages_.Inc();
      spdlog::warn("distro: bad client data from {}: {}", request.from(),
                   common::ToStd(publications.status().message()));
      continue;
    }
    DistroCore::Accept accept;
    {
      std::lock_guard lock(mu_);
      accept = core_.OnRemote(request.from(), client.id(), client.revision(), publications->empty(),
                              now);
    }
    spdlog::debug("distro: {} from {} rev {} ({} instances): {}", client.id(), request.from(),
                  client.revision(), publications->size(), static_cast<int>(accept));
    if (accept == DistroCore::Accept::kStale || accept == DistroCore::Accept::kRefused) {
      refused_clients_.Inc();
      if (accept == DistroCore::Accept::kRefused) {
        // This node owns it and its write is the later one: the sender gets this copy.
        response.add_refused(client.id());
        std::lock_guard lock(mu_);
        core_.Resend(request.from(), {client.id()});
      }
      continue;
    }
    registry_.ReplaceClient(client.id(), std::move(*publications), now);
    if (accept == DistroCore::Accept::kAdopt) {
      registry_.SetClientLocal(client.id(), true, now);
      moved_clients_.Inc();
    }
    received_clients_.Inc();
  }
  return response;
}

dnsd::peer::DistroVerifyResponse Distro::HandleVerify(
    const dnsd::peer::DistroVerifyRequest& request) {
  dnsd::peer::DistroVerifyResponse response;
  if (!IsPeer(request.from()) || request.ids_size() != request.revisions_size()) {
    bad_messages_.Inc();
    return response;
  }
  DistroCore::VerifyAnswer answer;
  {
    std::lock_guard lock(mu_);
    if (!request.listed()) {
      if (!core_.SummaryMatches(request.from(), request.count(), request.digest())) {
        verify_mismatches_.Inc();
        response.set_need_list(true);
      }
      return response;
    }
    std::vector<std::pair<std::string, uint64_t>> listed;
    listed.reserve(request.ids_size());
    for (int i = 0; i < request.ids_size(); ++i)
      listed.emplace_back(request.ids(i), request.revisions(i));
    answer = core_.CompareList(request.from(), listed);
  }
  const int64_t now = clock_.NowMs();
  for (const auto& id : answer.drop) {
    spdlog::debug("distro: {} dropped: {}'s summary does not list it", id, request.from());
    registry_.ReplaceClient(id, {}, now);
    dropped_clients_.Inc();
  }
  for (auto& id : answer.resend) response.add_resend(std::move(id));
  return response;
}

absl::StatusOr<dnsd::peer::DistroSnapshotResponse> Distro::HandleSnapshot(
    const dnsd::peer::DistroSnapshotRequest& request) {
  dnsd::peer::DistroSnapshotResponse response;
  if (!IsPeer(request.from())) {
    bad_messages_.Inc();
    return absl::PermissionDeniedError(
        common::StrCat(request.from(), " is not a member (yet) of this node's cluster"));
  }
  response.set_ready(ready());
  std::vector<DistroCore::Held> held;
  {
    std::lock_guard lock(mu_);
    held = core_.HeldClients();
  }
  for (const auto& h : held) {
    auto publications = registry_.ClientPublications(h.client_id);
    if (publications.empty()) continue;
    auto* out = response.add_clients();
    out->set_owner(h.owner);
    EncodeClient(h.client_id, h.revision, publications, *out->mutable_client());
  }
  return response;
}

}  // namespace dnsd::distro
