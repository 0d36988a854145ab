#include "node/raft_cluster.h"

#include <chrono>
#include <random>

#include "common/strings.h"
#include "common/thread_name.h"
#include "node/durable_state.h"
#include "node/peer_auth.h"
#include "node/raft_wire.h"
#include "spdlog/spdlog.h"

namespace dnsd::node {
namespace {

constexpr char kRaftMethod[] = "/dnsd.peer.Peer/Raft";
constexpr char kForwardMethod[] = "/dnsd.peer.Peer/Forward";
// How often a write that waits for a leader looks again.
constexpr int kLeaderRetryMs = 50;
// Members that exchanged nothing for this long are probed.
constexpr int64_t kProbeEveryMs = 500;
// A member not heard from for this long is DOWN; before that, once a call failed, SUSPICIOUS.
constexpr int64_t kDownAfterMs = 10'000;

int64_t SteadyNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* MemberStateName(MemberState state) {
  switch (state) {
    case MemberState::kUp:
      return "UP";
    case MemberState::kSuspicious:
      return "SUSPICIOUS";
    case MemberState::kDown:
      return "DOWN";
  }
  return "DOWN";
}

// One write on its way: proposed here, or forwarded, until it has a result or runs out of time.
struct RaftCluster::Attempt {
  std::string entry;
  DoneFn done;
  int64_t deadline_ms;  // steady clock
};

RaftCluster::RaftCluster(RaftClusterOptions options, common::MetricsRegistry& metrics)
    : options_(std::move(options)),
      self_id_(options_.standalone ? kStandaloneRaftId
                                   : options_.membership.self_member().raft_id()),
      metrics_(metrics),
      bad_peer_messages_(metrics.GetCounter(
          "dnsd_peer_bad_messages_total",
          "Peer calls refused: unparsable, malformed or from a node that is not a member")),
      forwarded_writes_(metrics.GetCounter("dnsd_raft_forwarded_writes_total",
                                           "Writes this node forwarded to the Raft leader")),
      forward_failures_(metrics.GetCounter(
          "dnsd_raft_forward_failures_total",
          "Forwarded writes whose leader did not answer (outcome unknown to the client)")),
      received_forwards_(metrics.GetCounter("dnsd_raft_received_forwards_total",
                                            "Writes other members forwarded to this node")) {
  auto sum = [this](auto field) {
    return [this, field] {
      double total = 0;
      for (const auto& [id, peer] : Peers()) total += static_cast<double>(field(peer->stats()));
      return total;
    };
  };
  metrics.AddGauge("dnsd_peer_raft_messages_sent_total", "Raft messages delivered to peers",
                   sum([](const PeerClientStats& s) { return s.raft_sent.load(); }));
  metrics.AddGauge("dnsd_peer_raft_messages_dropped_total",
                   "Raft messages dropped because a peer's queue was full (peer slow or gone)",
                   sum([](const PeerClientStats& s) { return s.raft_dropped.load(); }));
  metrics.AddGauge("dnsd_peer_raft_failed_calls_total",
                   "Raft calls to peers that failed (peer down, link cut, deadline)",
                   sum([](const PeerClientStats& s) { return s.raft_failed_calls.load(); }));
}

absl::StatusOr<std::unique_ptr<RaftCluster>> RaftCluster::Create(RaftClusterOptions options,
                                                                 ApplyFn apply,
                                                                 common::MetricsRegistry& metrics) {
  if (options.membership.members.empty()) {
    return absl::InvalidArgumentError("a Raft cluster needs its member list");
  }
  std::unique_ptr<RaftCluster> cluster(new RaftCluster(std::move(options), metrics));
  const auto& membership = cluster->options_.membership;

  raft::RaftNodeOptions raft_options;
  raft_options.core.id = cluster->self_id_;
  if (cluster->options_.standalone) {
    raft_options.core.voters = {cluster->self_id_};
  } else {
    for (const auto& member : membership.members) {
      // A joining node starts with no configuration: it learns it from the leader's log.
      if (!cluster->options_.join) raft_options.core.voters.push_back(member.raft_id());
      if (member.raft_id() != cluster->self_id_) cluster->other_ids_.insert(member.raft_id());
    }
  }
  // The only voter leads without waiting for an election timeout (a restart of a single node
  // takes writes at once).
  raft_options.campaign_at_start =
      raft_options.core.voters.size() == 1 && raft_options.core.voters[0] == cluster->self_id_;
  raft_options.min_free_bytes = cluster->options_.min_free_bytes;
  raft_options.fatal = cluster->options_.fatal;
  raft_options.core.election_ticks = cluster->options_.election_ticks;
  auto rng = std::make_shared<std::mt19937_64>(std::random_device{}());
  raft_options.core.random = [rng](uint64_t n) { return n == 0 ? 0 : (*rng)() % n; };
  raft_options.dir = cluster->options_.raft_dir;
  raft_options.tick_ms = cluster->options_.tick_ms;
  raft_options.env = cluster->options_.env;
  raft_options.compact_every = cluster->options_.compact_every;
  raft_options.take_snapshot = cluster->options_.take_snapshot;
  raft_options.restore = cluster->options_.restore;
  auto node = raft::RaftNode::Create(std::move(raft_options), *cluster, std::move(apply));
  if (!node.ok()) return node.status();
  cluster->raft_ = std::move(*node);

  auto loop = common::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  cluster->timers_ = std::move(*loop);
  return cluster;
}

RaftCluster::~RaftCluster() { Stop(0); }

absl::Status RaftCluster::Listen() {
  net::GrpcTransportOptions transport;
  transport.address = options_.peer_listen_address;
  transport.port =
      options_.peer_port >= 0 ? options_.peer_port : options_.membership.self_member().peer_port();
  transport.metrics_prefix = "dnsd_peer";
  // Raft batches carry up to 4096 entries of up to a config's size each.
  transport.max_message_bytes = 64 * 1024 * 1024;
  transport.max_connections = 1024;
  transport.keepalive_time_ms = 10'000;
  transport.unary_methods[kRaftMethod] = [this](std::shared_ptr<net::GrpcCall> call,
                                                std::string message) {
    OnRaftCall(std::move(call), std::move(message));
  };
  transport.unary_methods[kForwardMethod] = [this](std::shared_ptr<net::GrpcCall> call,
                                                   std::string message) {
    OnForwardCall(std::move(call), std::move(message));
  };
  for (auto& [method, handler] : options_.peer_methods) transport.unary_methods[method] = handler;
  transport.tls = options_.peer_tls;
  if (!options_.cluster_key.empty()) {
    transport.call_auth_header = std::string(kPeerAuthHeader);
    transport.check_call_auth = [key = options_.cluster_key](std::string_view credential) {
      const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count();
      return VerifyPeerCredential(key, credential, now_s);
    };
  }
  auto server = net::GrpcTransport::Start(std::move(transport), metrics_);
  if (!server.ok()) {
    return absl::UnavailableError(
        common::StrCat("peer port: ", common::ToStd(server.status().message())));
  }
  server_ = std::move(*server);
  return absl::OkStatus();
}

std::string RaftCluster::TargetOf(const cluster::Member& member) const {
  if (options_.peer_target) return options_.peer_target(member);
  return common::StrCat(
      member.ip.find(':') == std::string::npos ? member.ip : "[" + member.ip + "]", ":",
      options_.peer_port >= 0 ? options_.peer_port : member.peer_port());
}

void RaftCluster::Start() {
  {
    std::lock_guard lock(peers_mu_);
    for (const auto& member : options_.membership.members) {
      if (options_.standalone || member.raft_id() == self_id_) continue;
      peers_.emplace(member.raft_id(),
                     std::make_unique<PeerClient>(TargetOf(member), options_.snapshot_chunk_bytes,
                                                  options_.cluster_key, options_.peer_tls_client));
    }
  }
  timers_->RunEvery(kProbeEveryMs, [this] {
    // Members added at run time get their client here too, before anything is sent to them.
    const raft::ConfState conf = raft_->status().conf;
    for (const auto& ids : {conf.voters, conf.learners}) {
      for (raft::NodeId id : ids) Peer(id);
    }
    for (auto& [id, peer] : Peers()) peer->Probe(kProbeEveryMs);
  });
  timer_thread_ = std::thread([this] {
    common::SetThreadName("raft-timers");
    timers_->Run();
  });
  raft_->Start();
}

void RaftCluster::Stop(int transfer_ms) {
  if (stopped_.exchange(true)) return;
  if (transfer_ms > 0 && raft_ && raft_->status().role == raft::Role::kLeader) {
    // Hand over to the follower that answers (the core picks it only once it is up to date).
    const raft::ConfState conf = raft_->status().conf;
    for (const auto& [id, peer] : Peers()) {
      if (!peer->reachable() ||
          std::find(conf.voters.begin(), conf.voters.end(), id) == conf.voters.end()) {
        continue;  // only a voter can lead
      }
      raft_->TransferLeader(id);
      const int64_t until = SteadyNowMs() + transfer_ms;
      while (SteadyNowMs() < until && raft_->status().leader == self_id_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      spdlog::info("Raft: leadership {} to node {}",
                   raft_->status().leader == id ? "handed over" : "not yet taken", id);
      break;
    }
  }
  if (server_) server_->Shutdown(0);
  if (raft_) raft_->Stop();
  if (timers_) timers_->Stop();
  if (timer_thread_.joinable()) timer_thread_.join();
  std::map<raft::NodeId, std::unique_ptr<PeerClient>> peers;
  {
    std::lock_guard lock(peers_mu_);
    peers.swap(peers_);
  }
  peers.clear();  // cancels calls in flight and waits for their callbacks
}

PeerClient* RaftCluster::Peer(raft::NodeId id) {
  std::lock_guard lock(peers_mu_);
  if (auto it = peers_.find(id); it != peers_.end()) return it->second.get();
  if (id == self_id_ || stopped_.load()) return nullptr;
  // A member added at run time: its address is the context it was added with.
  const raft::ConfState conf = raft_->status().conf;
  auto context = conf.contexts.find(id);
  if (context == conf.contexts.end()) return nullptr;
  auto member = cluster::ParseMember(context->second);
  if (!member.ok() || member->raft_id() != id) return nullptr;
  auto [it, inserted] = peers_.emplace(
      id, std::make_unique<PeerClient>(TargetOf(*member), options_.snapshot_chunk_bytes,
                                       options_.cluster_key, options_.peer_tls_client));
  spdlog::info("Raft: peer {} ({}) added", id, context->second);
  return it->second.get();
}

PeerClient* RaftCluster::PeerByAddress(const std::string& address) {
  auto member = cluster::ParseMember(address);
  if (!member.ok() || !IsKnownPeer(member->raft_id())) return nullptr;
  return Peer(member->raft_id());
}

std::vector<std::pair<raft::NodeId, PeerClient*>> RaftCluster::Peers() const {
  std::lock_guard lock(peers_mu_);
  std::vector<std::pair<raft::NodeId, PeerClient*>> out;
  for (const auto& [id, peer] : peers_) out.emplace_back(id, peer.get());
  return out;
}

bool RaftCluster::IsKnownPeer(raft::NodeId id) const {
  if (other_ids_.contains(id)) return true;
  const raft::ConfState conf = raft_->status().conf;
  return std::find(conf.voters.begin(), conf.voters.end(), id) != conf.voters.end() ||
         std::find(conf.learners.begin(), conf.learners.end(), id) != conf.learners.end();
}

void RaftCluster::ChangeMembership(MembershipChange change, const std::string& address,
                                   DoneFn done) {
  auto member = cluster::ParseMember(address);
  if (!member.ok()) {
    done(absl::InvalidArgumentError(common::StrCat("member address ", address, ": ",
                                                   common::ToStd(member.status().message()))));
    return;
  }
  raft::ConfChange conf_change;
  conf_change.node = member->raft_id();
  conf_change.context = member->address();
  switch (change) {
    case MembershipChange::kAddLearner:
      conf_change.type = raft::ConfChangeType::kAddLearner;
      break;
    case MembershipChange::kPromote:
      conf_change.type = raft::ConfChangeType::kPromote;
      break;
    case MembershipChange::kRemove:
      conf_change.type = raft::ConfChangeType::kRemove;
      break;
  }
  // Through the same door as writes: proposed here when leading, forwarded otherwise.
  Propose(raft::EncodeConfChange(conf_change), std::move(done));
}

int RaftCluster::peer_port() const { return server_ ? server_->port() : 0; }

const cluster::Member* RaftCluster::MemberById(raft::NodeId id) const {
  for (const auto& member : options_.membership.members) {
    if (member.raft_id() == id) return &member;
  }
  return nullptr;
}

std::string RaftCluster::AddressOf(raft::NodeId id) const {
  if (id == 0) return "";
  if (const cluster::Member* member = MemberById(id)) return member->address();
  const raft::ConfState conf = raft_->status().conf;
  auto it = conf.contexts.find(id);
  return it == conf.contexts.end() ? "" : it->second;
}

std::vector<MemberStatus> RaftCluster::members() const {
  const int64_t now = SteadyNowMs();
  const int64_t wall = WallNowMs();
  const raft::ConfState conf = raft_->status().conf;
  auto in = [](const std::vector<raft::NodeId>& ids, raft::NodeId id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
  };
  // The members listed at start, then those added at run time.
  std::vector<cluster::Member> listed = options_.membership.members;
  for (const auto& [id, context] : conf.contexts) {
    auto member = cluster::ParseMember(context);
    if (member.ok() && !MemberById(id)) listed.push_back(*member);
  }
  const auto peers = Peers();
  std::vector<MemberStatus> out;
  for (const auto& member : listed) {
    MemberStatus status;
    status.member = member;
    status.raft_id = member.raft_id();
    status.self = status.raft_id == self_id_;
    status.raft_membership = in(conf.voters, status.raft_id)     ? "VOTER"
                             : in(conf.learners, status.raft_id) ? "LEARNER"
                                                                 : "";
    auto peer = std::find_if(peers.begin(), peers.end(),
                             [&](const auto& p) { return p.first == status.raft_id; });
    if (status.self) {
      status.state = MemberState::kUp;
      status.last_contact_ms = wall;
    } else if (peer != peers.end()) {
      const int64_t last = peer->second->stats().last_success_ms.load(std::memory_order_relaxed);
      if (peer->second->reachable()) {
        status.state = MemberState::kUp;
      } else if (last != 0 && now - last < kDownAfterMs) {
        status.state = MemberState::kSuspicious;
      }
      status.last_contact_ms = last == 0 ? 0 : wall - (now - last);
    }
    out.push_back(status);
  }
  return out;
}

void RaftCluster::Send(const raft::Message& message) {
  PeerClient* peer = Peer(message.to);
  if (peer == nullptr) return;
  if (message.type == raft::MessageType::kSnapshot && options_.expand_snapshot &&
      message.snapshot) {
    auto expanded = options_.expand_snapshot(*message.snapshot);
    if (!expanded.ok()) {
      // Not sent: the follower asks again (its heartbeat answers re-open the probe).
      spdlog::warn("Raft: no snapshot for node {}: {}", message.to,
                   common::ToStd(expanded.status().message()));
      return;
    }
    raft::Message full = message;
    full.snapshot = std::make_shared<const std::string>(*std::move(expanded));
    peer->SendRaft(full);
    return;
  }
  peer->SendRaft(message);
}

void RaftCluster::OnRaftCall(std::shared_ptr<net::GrpcCall> call, std::string message) {
  dnsd::peer::RaftBatch wire;
  if (!wire.ParseFromString(message)) {
    bad_peer_messages_.Inc();
    call->Finish(net::kGrpcInvalidArgument, "Raft batch does not parse");
    return;
  }
  // Snapshot chunks wait here until their snapshot is whole; the rest passes through.
  dnsd::peer::RaftBatch whole;
  for (auto& m : *wire.mutable_messages()) {
    if (m.type() != dnsd::peer::RaftMessage::SNAPSHOT || m.snapshot_size() == 0) {
      *whole.add_messages() = std::move(m);
      continue;
    }
    if (!IsKnownPeer(m.from())) {
      bad_peer_messages_.Inc();
      call->Finish(net::kGrpcPermissionDenied, "snapshot chunk from a node that is not a member");
      return;
    }
    std::lock_guard lock(assemblers_mu_);
    auto assembled = assemblers_[m.from()].Add(std::move(m));
    if (!assembled.ok()) {
      bad_peer_messages_.Inc();
      call->Finish(net::kGrpcInvalidArgument, std::string(assembled.status().message()));
      return;
    }
    if (*assembled) *whole.add_messages() = std::move(**assembled);
  }
  auto batch = FromRaftBatch(whole);
  if (!batch.ok()) {
    bad_peer_messages_.Inc();
    call->Finish(net::kGrpcInvalidArgument, std::string(batch.status().message()));
    return;
  }
  for (auto& m : *batch) {
    if (m.to != self_id_ || !IsKnownPeer(m.from)) {
      bad_peer_messages_.Inc();
      call->Finish(net::kGrpcPermissionDenied,
                   common::StrCat("Raft message from node ", m.from, " to node ", m.to,
                                  ": not a member of this cluster, or not for this node"));
      return;
    }
  }
  for (auto& m : *batch) raft_->Receive(std::move(m));
  call->Send(std::string());  // RaftAck{}
  call->Finish();
}

void RaftCluster::OnForwardCall(std::shared_ptr<net::GrpcCall> call, std::string message) {
  dnsd::peer::ForwardRequest request;
  if (!request.ParseFromString(message) || request.entry().empty()) {
    bad_peer_messages_.Inc();
    call->Finish(net::kGrpcInvalidArgument, "not a ForwardRequest with an entry");
    return;
  }
  if (!IsKnownPeer(request.from())) {
    bad_peer_messages_.Inc();
    call->Finish(net::kGrpcPermissionDenied, "forwarded write from a node that is not a member");
    return;
  }
  received_forwards_.Inc();
  // Proposed here or refused; never forwarded further (loop guard).
  raft_->Propose(std::move(*request.mutable_entry()), [call](absl::Status s, uint64_t index) {
    dnsd::peer::ForwardResponse response;
    raft::NodeId leader = 0;
    if (raft::IsNotLeader(s, &leader)) {
      response.set_not_leader(true);
      response.set_leader(leader);
    }
    response.set_code(static_cast<int>(s.code()));
    response.set_message(std::string(s.message()));
    response.set_index(index);
    call->Send(response.SerializeAsString());
    call->Finish();
  });
}

void RaftCluster::Propose(std::string entry, DoneFn done) {
  auto attempt = std::make_shared<Attempt>(
      Attempt{std::move(entry), std::move(done), SteadyNowMs() + options_.propose_timeout_ms});
  TryPropose(std::move(attempt));
}

void RaftCluster::Barrier(DoneFn done) {
  TryRead(std::make_shared<DoneFn>(std::move(done)), SteadyNowMs() + options_.propose_timeout_ms);
}

void RaftCluster::TryRead(std::shared_ptr<DoneFn> done, int64_t deadline_ms) {
  // ReadIndex: no log entry; the leader confirms with a quorum that it still leads.
  raft_->ReadIndex([this, done, deadline_ms](absl::Status s) {
    if (s.ok() || stopped_.load() || SteadyNowMs() + kLeaderRetryMs > deadline_ms) {
      (*done)(s.ok() ? s
                     : absl::UnavailableError(common::StrCat("no leader confirmed the read (",
                                                             common::ToStd(s.message()), ")")));
      return;
    }
    // No leader yet, or one that has not committed in its term: try again shortly.
    timers_->RunAfter(kLeaderRetryMs, [this, done, deadline_ms] { TryRead(done, deadline_ms); });
  });
}

void RaftCluster::TryPropose(std::shared_ptr<Attempt> attempt) {
  raft_->Propose(attempt->entry, [this, attempt](absl::Status s, uint64_t) {
    raft::NodeId leader = 0;
    if (!raft::IsNotLeader(s, &leader)) {
      attempt->done(s);  // this node led: the state machine's result, applied here
      return;
    }
    if (leader == 0 || leader == self_id_) return RetryLater(attempt, s);
    ForwardTo(leader, attempt);
  });
}

void RaftCluster::RetryLater(std::shared_ptr<Attempt> attempt, absl::Status why) {
  if (stopped_.load() || SteadyNowMs() + kLeaderRetryMs > attempt->deadline_ms) {
    attempt->done(absl::UnavailableError(
        common::StrCat("the cluster has no reachable leader (", common::ToStd(why.message()),
                       "); the write was not applied, try again")));
    return;
  }
  timers_->RunAfter(kLeaderRetryMs, [this, attempt] { TryPropose(attempt); });
}

void RaftCluster::ForwardTo(raft::NodeId leader, std::shared_ptr<Attempt> attempt) {
  PeerClient* found = Peer(leader);
  if (found == nullptr) {
    return RetryLater(attempt, absl::UnavailableError("the leader is not in the member list"));
  }
  PeerClient& peer = *found;
  if (!peer.connected()) {
    // Nothing sent yet: waiting for the connection (or a new leader) is safe.
    return RetryLater(attempt, absl::UnavailableError(common::StrCat("the leader ", peer.target(),
                                                                     " is unreachable")));
  }
  forwarded_writes_.Inc();
  dnsd::peer::ForwardRequest request;
  request.set_entry(attempt->entry);
  request.set_from(self_id_);
  const int remaining =
      static_cast<int>(std::max<int64_t>(attempt->deadline_ms - SteadyNowMs(), 1));
  peer.Forward(
      std::move(request), remaining,
      [this, attempt, target = peer.target()](absl::Status transport,
                                              dnsd::peer::ForwardResponse response) {
        if (!transport.ok()) {
          if (transport.code() == absl::StatusCode::kResourceExhausted) {
            attempt->done(absl::UnavailableError(transport.message()));
            return;
          }
          forward_failures_.Inc();
          attempt->done(absl::UnavailableError(common::StrCat(
              "the leader ", target, " did not answer (", common::ToStd(transport.message()),
              "); the write may or may not have been applied")));
          return;
        }
        if (response.not_leader()) {
          // Refused before proposing: safe to try again with the leader it names.
          return RetryLater(attempt, absl::UnavailableError(response.message()));
        }
        absl::Status result(static_cast<absl::StatusCode>(response.code()), response.message());
        if (response.index() == 0 || stopped_.load()) {
          attempt->done(result);
          return;
        }
        // Answer once this node has applied the write too (read-your-writes here),
        // or after forward_apply_wait_ms (it is committed either way).
        auto once = std::make_shared<std::atomic<bool>>(false);
        auto finish = [attempt, once](absl::Status status) {
          if (!once->exchange(true)) attempt->done(status);
        };
        raft_->WhenApplied(response.index(), [finish, result] { finish(result); });
        timers_->RunAfter(options_.forward_apply_wait_ms, [finish, result] { finish(result); });
      });
}

}  // namespace dnsd::node
