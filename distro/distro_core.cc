#include "distro/distro_core.h"

#include <algorithm>
#include <mutex>

#include "registry/naming_model.h"

namespace dnsd::distro {

const std::string& DistroCore::Member::Intern(const std::string& name) {
  // Member addresses only: a handful per cluster, kept for the life of the process.
  static std::mutex mu;
  static auto* names = new std::set<std::string>();
  std::lock_guard lock(mu);
  return *names->insert(name).first;
}

DistroCore::DistroCore(std::string self, std::vector<std::string> peers, DistroOptions options)
    : self_(std::move(self)), options_(options), ring_({self_}) {
  for (auto& peer : peers) {
    if (peer != self_) peers_[peer];
  }
}

uint64_t DistroCore::DigestOf(const std::string& client_id, uint64_t revision) {
  return HashRing::Hash(client_id + "#" + std::to_string(revision));
}

std::string DistroCore::OwnerOf(const std::string& client_id) const {
  if (registry::IsHttpClientId(client_id)) return ring_.OwnerOf(client_id);
  auto it = records_.find(client_id);
  return it == records_.end() ? self_ : it->second.owner;
}

DistroCore::OwnershipChange DistroCore::SetUpPeers(const std::set<std::string>& up,
                                                   int64_t now_ms) {
  up_.clear();
  for (const auto& peer : up) {
    if (peer == self_) continue;
    peers_[peer];  // a member added at run time starts receiving from now on
    up_.insert(peer);
  }
  std::vector<std::string> members(up_.begin(), up_.end());
  members.push_back(self_);
  ring_ = HashRing(std::move(members));

  OwnershipChange change;
  for (auto& [id, record] : records_) {
    if (record.gone) continue;
    if (!registry::IsHttpClientId(id)) {
      if (IsUp(record.owner)) {
        record.owner_lost_ms = 0;
      } else if (record.owner_lost_ms == 0) {
        record.owner_lost_ms = now_ms;
      }
      continue;
    }
    const std::string& target = ring_.OwnerOf(id);
    if (target == self_ && record.owner != self_) {
      record.owner = self_;
      record.source = self_;
      // The data is the copy's, at its revision; sending it tells every holder the new owner.
      dirty_.emplace(id, now_ms);
      change.adopted.push_back(id);
    } else if (record.owner == self_ && target != self_) {
      dirty_.erase(id);
      for (auto& [peer, state] : peers_) state.pending.erase(id);
      Release(id, record, target, now_ms);
      change.released.push_back(id);
    } else if (record.owner != target && record.owner != self_) {
      // The copy now comes from the new owner, which may not have the data yet (it is being
      // handed over): until its data arrives, its summaries do not remove this copy.
      Retarget(record, target, now_ms);
    }
  }
  return change;
}

void DistroCore::Release(const std::string& client_id, Record& record, const std::string& target,
                         int64_t now_ms) {
  // What this node holds is its own data, not yet the new owner's: the new owner's summaries
  // do not remove it before that owner has sent its copy. The data goes to every peer, not
  // only to `target`: a peer whose ring is not yet this one's may be the owner in its own
  // view, and whichever member the rings settle on then has the data to adopt.
  Retarget(record, target, now_ms);
  record.handoff = true;
  for (auto& [peer, state] : peers_) state.pending.insert(client_id);
}

void DistroCore::Retarget(Record& record, const std::string& owner, int64_t now_ms) {
  record.owner = owner;
  if (record.source != owner) record.retargeted_ms = now_ms;
}

uint64_t DistroCore::NextRevision(uint64_t revision, int64_t now_ms) {
  return std::max(revision + 1, static_cast<uint64_t>(std::max<int64_t>(now_ms, 0)));
}

void DistroCore::OnLocalChange(const std::string& client_id, int64_t now_ms) {
  Record& record = records_[client_id];
  record.owner = self_;
  record.source = self_;
  record.handoff = false;
  record.revision = NextRevision(record.revision, now_ms);
  record.gone = false;
  record.owner_lost_ms = 0;
  dirty_.emplace(client_id, now_ms);  // keeps the first change's time: merged until then + delay
}

DistroCore::Work DistroCore::Poll(int64_t now_ms) {
  Work work;
  for (auto it = dirty_.begin(); it != dirty_.end();) {
    if (now_ms - it->second < options_.sync_delay_ms) {
      ++it;
      continue;
    }
    auto record = records_.find(it->first);
    if (record != records_.end() && record->second.owner == self_) {
      for (auto& [peer, state] : peers_) state.pending.insert(it->first);
      // Written here (a forwarded write, or one whose owner was unreachable) though the ring
      // gives it to another member: that member writes it from now on.
      const std::string& target = ring_.OwnerOf(it->first);
      if (registry::IsHttpClientId(it->first) && target != self_) {
        Release(it->first, record->second, target, now_ms);
        work.released.push_back(it->first);
      }
    }
    it = dirty_.erase(it);
  }
  // Timers of whole records are checked once a second: the sweep visits every client.
  const bool sweep = now_ms - last_sweep_ms_ >= 1000;
  if (sweep) last_sweep_ms_ = now_ms;
  for (auto it = sweep ? records_.begin() : records_.end(); it != records_.end();) {
    const Record& r = it->second;
    const bool expired_tombstone = r.gone && now_ms - r.gone_ms >= options_.tombstone_ms;
    // A gRPC client whose owner is gone, or a copy whose new owner never sent its data (the
    // hand-over was lost with the old owner; a live client registers again with its owner).
    const bool owner_lost =
        !r.gone && !r.handoff &&
        ((r.owner_lost_ms != 0 && now_ms - r.owner_lost_ms >= options_.lost_owner_grace_ms) ||
         (r.source != r.owner && r.owner != self_ &&
          now_ms - r.retargeted_ms >= options_.lost_owner_grace_ms));
    if (owner_lost) work.drop.push_back(it->first);
    if (expired_tombstone || owner_lost) {
      records_.erase(it++);
    } else {
      ++it;
    }
  }
  for (auto& [peer, state] : peers_) {
    if (state.pending.empty() && !state.in_flight) {
      state.waiting_since_ms = 0;
    } else if (state.waiting_since_ms == 0) {
      state.waiting_since_ms = now_ms;
    }
    if (state.next_verify_ms == 0) state.next_verify_ms = now_ms + options_.verify_interval_ms;
    if (state.in_flight || now_ms < state.retry_at_ms || !up_.contains(peer)) continue;
    if (!state.pending.empty()) {
      std::vector<std::string>& batch = work.sync[peer];
      while (!state.pending.empty() && batch.size() < options_.max_batch_clients) {
        batch.push_back(std::move(state.pending.extract(state.pending.begin()).value()));
      }
      state.in_flight = true;
    } else if (now_ms >= state.next_verify_ms) {
      work.verify.push_back(peer);
      state.in_flight = true;
      state.next_verify_ms = now_ms + options_.verify_interval_ms;
    }
  }
  return work;
}

int64_t DistroCore::MsUntilWork(int64_t now_ms) const {
  int64_t next = now_ms + 1000;
  for (const auto& [id, since] : dirty_) next = std::min(next, since + options_.sync_delay_ms);
  for (const auto& [peer, state] : peers_) {
    if (state.in_flight || !up_.contains(peer)) continue;
    if (!state.pending.empty()) next = std::min(next, std::max(state.retry_at_ms, now_ms));
    next = std::min(next, state.next_verify_ms == 0 ? now_ms : state.next_verify_ms);
  }
  return std::max<int64_t>(0, next - now_ms);
}

void DistroCore::FlushAll(int64_t now_ms) {
  for (auto& [id, since] : dirty_) since = now_ms - options_.sync_delay_ms;
  for (auto& [peer, state] : peers_) state.retry_at_ms = 0;
}

size_t DistroCore::undelivered() const {
  size_t n = dirty_.size();
  for (const auto& [peer, state] : peers_) {
    if (up_.contains(peer)) n += state.pending.size() + (state.in_flight ? 1 : 0);
  }
  return n;
}

uint64_t DistroCore::revision(const std::string& client_id) const {
  auto it = records_.find(client_id);
  return it == records_.end() ? 0 : it->second.revision;
}

void DistroCore::MarkGone(const std::string& client_id, int64_t now_ms) {
  auto it = records_.find(client_id);
  if (it == records_.end() || it->second.owner != self_) return;
  it->second.gone = true;
  it->second.gone_ms = now_ms;
}

void DistroCore::OnSyncDone(const std::string& peer, const std::vector<std::string>& clients,
                            bool delivered, int64_t now_ms) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  PeerState& state = it->second;
  state.in_flight = false;
  if (delivered) {
    state.backoff_ms = 0;
    state.retry_at_ms = 0;
    for (const auto& id : clients) {
      auto record = records_.find(id);
      if (record != records_.end() && record->second.owner == peer) record->second.handoff = false;
    }
    return;
  }
  ++syncs_failed_;
  for (const auto& id : clients) {
    auto record = records_.find(id);
    if (record == records_.end()) continue;
    if (record->second.owner == self_ || (record->second.handoff && record->second.owner == peer))
      state.pending.insert(id);
  }
  state.backoff_ms = std::clamp(state.backoff_ms * 2, options_.retry_min_ms, options_.retry_max_ms);
  state.retry_at_ms = now_ms + state.backoff_ms;
}

void DistroCore::OnVerifyDone(const std::string& peer, bool delivered, int64_t now_ms) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  it->second.in_flight = false;
  // A verify that did not get through is due again after the retry delay, not a whole interval.
  if (!delivered) it->second.next_verify_ms = now_ms + options_.retry_min_ms;
}

void DistroCore::Resend(const std::string& peer, const std::vector<std::string>& clients) {
  auto it = peers_.find(peer);
  if (it == peers_.end()) return;
  for (const auto& id : clients) {
    auto record = records_.find(id);
    if (record != records_.end() && record->second.owner == self_) it->second.pending.insert(id);
  }
}

DistroCore::Summary DistroCore::LocalSummary(bool with_list) const {
  Summary summary;
  for (const auto& [id, record] : records_) {
    if (record.owner != self_ || record.gone) continue;
    ++summary.count;
    summary.digest += DigestOf(id, record.revision);
    if (with_list) summary.clients.emplace_back(id, record.revision);
  }
  std::sort(summary.clients.begin(), summary.clients.end());
  return summary;
}

DistroCore::Accept DistroCore::OnRemote(const std::string& from, const std::string& client_id,
                                        uint64_t revision, bool gone, int64_t now_ms) {
  const bool http = registry::IsHttpClientId(client_id);
  auto it = records_.find(client_id);
  if (it != records_.end() && it->second.owner == self_) {
    // This node writes the client. A later write made elsewhere (during a partition, by a
    // member whose ring differed, or handed over) wins; an earlier one is refused, and the
    // sender is sent this node's copy.
    Record& record = it->second;
    if (revision <= record.revision) return Accept::kRefused;
    record.revision = revision;
    record.gone = gone;
    record.gone_ms = gone ? now_ms : 0;
    record.handoff = false;
    return gone ? Accept::kApply : Accept::kAdopt;
  }
  if (it != records_.end() && revision < it->second.revision) return Accept::kStale;
  Record& record = records_[client_id];
  record.revision = revision;
  record.gone = gone;
  record.gone_ms = gone ? now_ms : 0;
  record.owner_lost_ms = 0;
  record.handoff = false;
  record.source = from;
  const std::string owner = http ? ring_.OwnerOf(client_id) : from;
  if (owner == self_ && !gone) {
    // The ring gives it to this node: handed over, or sent by a member whose ring is behind.
    record.owner = self_;
    record.source = self_;
    dirty_.emplace(client_id, now_ms);  // tells every holder who writes it now
    return Accept::kAdopt;
  }
  Retarget(record, owner, now_ms);
  dirty_.erase(client_id);
  return Accept::kApply;
}

bool DistroCore::SummaryMatches(const std::string& from, uint64_t count, uint64_t digest) const {
  uint64_t held = 0;
  uint64_t sum = 0;
  for (const auto& [id, record] : records_) {
    if (record.owner != from || record.source != from || record.gone) continue;
    ++held;
    sum += DigestOf(id, record.revision);
  }
  return held == count && sum == digest;
}

DistroCore::VerifyAnswer DistroCore::CompareList(
    const std::string& from, const std::vector<std::pair<std::string, uint64_t>>& listed) {
  VerifyAnswer answer;
  absl::flat_hash_map<std::string, uint64_t> by_id(listed.begin(), listed.end());
  for (const auto& [id, revision] : listed) {
    auto it = records_.find(id);
    if (it == records_.end() || revision > it->second.revision) {
      answer.resend.push_back(id);  // missing here, or the sender's write is later
    } else if (revision == it->second.revision && it->second.owner == from) {
      it->second.source = from;  // the same data its owner holds
    }
  }
  for (auto it = records_.begin(); it != records_.end();) {
    const Record& r = it->second;
    // Only a copy that `from` itself sent, as the owner, is its to remove; one being handed
    // to it is not in its list yet.
    if (r.owner == from && r.source == from && !r.gone && !r.handoff &&
        !by_id.contains(it->first)) {
      answer.drop.push_back(it->first);
      records_.erase(it++);
    } else {
      ++it;
    }
  }
  return answer;
}

std::vector<DistroCore::Held> DistroCore::HeldClients() const {
  std::vector<Held> held;
  for (const auto& [id, record] : records_) {
    if (!record.gone) held.push_back(Held{id, record.owner, record.revision});
  }
  std::sort(held.begin(), held.end(),
            [](const Held& a, const Held& b) { return a.client_id < b.client_id; });
  return held;
}

size_t DistroCore::clients() const {
  size_t n = 0;
  for (const auto& [id, record] : records_) n += record.gone ? 0 : 1;
  return n;
}

size_t DistroCore::local_clients() const {
  size_t n = 0;
  for (const auto& [id, record] : records_) n += !record.gone && record.owner == self_ ? 1 : 0;
  return n;
}

int64_t DistroCore::lag_ms(int64_t now_ms) const {
  int64_t lag = 0;
  for (const auto& [peer, state] : peers_) {
    if (up_.contains(peer) && state.waiting_since_ms != 0)
      lag = std::max(lag, now_ms - state.waiting_since_ms);
  }
  return lag;
}

int64_t DistroCore::peer_lag_ms(const std::string& peer, int64_t now_ms) const {
  auto it = peers_.find(peer);
  if (it == peers_.end() || it->second.waiting_since_ms == 0) return 0;
  return now_ms - it->second.waiting_since_ms;
}

size_t DistroCore::pending_total() const {
  size_t n = 0;
  for (const auto& [peer, state] : peers_) n += state.pending.size();
  return n;
}

bool DistroCore::IsKnownPeer(const std::string& node) const { return peers_.contains(node); }

size_t DistroCore::pending(const std::string& peer) const {
  auto it = peers_.find(peer);
  return it == peers_.end() ? 0 : it->second.pending.size();
}

}  // namespace dnsd::distro
