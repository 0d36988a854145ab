#include "agent/service_follower.h"

#include <algorithm>

#include "dnsd/registry_zone.h"
#include "spdlog/spdlog.h"

namespace dnsd::agent {

using dns::Freshness;
using dns::MissAction;

namespace {
constexpr int64_t kExistenceCheckMs = 2000;
}  // namespace

ServiceFollower::ServiceFollower(FollowerOptions options, const common::Clock& clock, Hooks hooks,
                                 common::MetricsRegistry& metrics)
    : options_(std::move(options)),
      clock_(clock),
      hooks_(std::move(hooks)),
      namespace_label_(dns::RegistryZone::LabelFor(options_.namespace_id)),
      default_group_label_(dns::RegistryZone::LabelFor(registry::kDefaultGroup)),
      push_empty_protected_(metrics.GetCounter(
          "dnsd_agent_push_empty_protected_total",
          "Empty lists held back for a service that had instances (push-empty protection)")),
      push_empty_applied_(metrics.GetCounter(
          "dnsd_agent_push_empty_applied_total",
          "Held-back empty lists applied after the grace period with nothing newer")),
      push_empty_deleted_(metrics.GetCounter(
          "dnsd_agent_push_empty_deleted_total",
          "Empty lists applied at once because their service was deleted (not protected)")),
      idle_dropped_(metrics.GetCounter("dnsd_agent_idle_unsubscribed_total",
                                       "Services unsubscribed after going unqueried")),
      over_limit_(metrics.GetCounter("dnsd_agent_services_over_limit_total",
                                     "Queries for new services refused at agent.max_services")),
      subscriptions_refused_(metrics.GetCounter("dnsd_agent_subscriptions_refused_total",
                                                "Subscriptions the server refused")) {}

void ServiceFollower::Start() {
  std::lock_guard lock(mu_);
  for (const auto& key : options_.pinned) Follow(key, /*pinned=*/true);
}

ServiceFollower::Followed& ServiceFollower::Follow(const registry::ServiceKey& key, bool pinned) {
  auto [it, added] = followed_.try_emplace(key);
  Followed& f = it->second;
  f.pinned = f.pinned || pinned;
  if (added) {
    f.last_used_ms = clock_.NowMs();
    {
      std::lock_guard lock(freshness_mu_);
      freshness_[key] = f.freshness;
    }
    hooks_.subscribe(key);
  }
  return f;
}

void ServiceFollower::Update(Followed& f, int64_t now) {
  const bool fresh = connected_ && f.generation == generation_ && !f.refused &&
                     f.empty_since_ms == 0 && now >= fresh_from_ms_;
  Freshness state = Freshness::kFresh;
  if (fresh) {
    f.confirmed_ms = now;
  } else {
    const bool expired = options_.max_stale_ms > 0 && now - f.confirmed_ms >= options_.max_stale_ms;
    state = expired ? Freshness::kExpired : Freshness::kStale;
  }
  f.freshness->state.store(state, std::memory_order_relaxed);
}

HostList ToHostList(const std::vector<registry::Instance>& instances) {
  HostList hosts;
  hosts.reserve(instances.size());
  for (const auto& instance : instances) {
    auto copy = std::make_shared<registry::Instance>(instance);
    copy->ephemeral = true;
    hosts.push_back(std::move(copy));
  }
  return hosts;
}

void ServiceFollower::OnList(const ServiceUpdate& update) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    auto it = followed_.find(update.key);
    if (it == followed_.end()) return;  // dropped meanwhile
    Followed& f = it->second;
    const int64_t now = clock_.NowMs();
    f.generation = generation_;
    f.refused = false;
    if (update.hosts.empty() && !f.hosts.empty() && options_.push_empty_grace_ms > 0) {
      if (f.empty_since_ms == 0) {
        f.empty_since_ms = now;
        push_empty_protected_.Inc();
        spdlog::warn("agent: {} came with no instances; keeping its {} for {} ms",
                     update.key.GroupedName(), f.hosts.size(), options_.push_empty_grace_ms);
        f.checked_ms = now;
        if (hooks_.check_exists) hooks_.check_exists(update.key);
      }
      Update(f, now);
      return;
    }
    first = !f.has_data;
    f.empty_since_ms = 0;
    f.has_data = true;
    f.hosts = ToHostList(update.hosts);
    f.revision = update.last_ref_time_ms;
    Update(f, now);
    hooks_.publish(update.key, f.hosts);
    dirty_ = true;
  }
  if (first && hooks_.data_arrived) hooks_.data_arrived();
}

void ServiceFollower::OnConnection(bool connected) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  if (connected) {
    ++generation_;
    // A connection replacing a lost one proves itself before its lists count as fresh.
    fresh_from_ms_ = ever_lost_ ? now + options_.fresh_hysteresis_ms : now;
  } else {
    ever_lost_ = true;
  }
  connected_ = connected;
  for (auto& [key, f] : followed_) {
    if (!connected && f.freshness->state.load() == Freshness::kFresh) f.confirmed_ms = now;
    if (f.has_data) Update(f, now);
  }
}

void ServiceFollower::OnExistence(const registry::ServiceKey& key, bool exists) {
  std::lock_guard lock(mu_);
  auto it = followed_.find(key);
  if (it == followed_.end() || exists || it->second.empty_since_ms == 0) return;
  spdlog::info("agent: {} was deleted; its empty list applies", key.GroupedName());
  push_empty_deleted_.Inc();
  ApplyHeldEmpty(key, it->second);
  Update(it->second, clock_.NowMs());
}

void ServiceFollower::ApplyHeldEmpty(const registry::ServiceKey& key, Followed& f) {
  f.empty_since_ms = 0;
  f.hosts.clear();
  hooks_.publish(key, f.hosts);
  dirty_ = true;
}

void ServiceFollower::OnSubscriptionFailed(const registry::ServiceKey& key) {
  std::lock_guard lock(mu_);
  auto it = followed_.find(key);
  if (it == followed_.end()) return;
  subscriptions_refused_.Inc();
  it->second.refused = true;
  Update(it->second, clock_.NowMs());
}

void ServiceFollower::Restore(const std::vector<SavedService>& services) {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  for (const auto& saved : services) {
    if (saved.key.namespace_id != options_.namespace_id) continue;
    Followed& f = Follow(saved.key, /*pinned=*/false);
    if (f.has_data) continue;
    f.has_data = true;
    f.hosts = saved.hosts;
    f.revision = saved.revision;
    f.confirmed_ms = std::min(saved.confirmed_ms, now);
    Update(f, now);
    hooks_.publish(saved.key, f.hosts);
  }
  snapshot_loaded_ = snapshot_loaded_ || !services.empty();
}

void ServiceFollower::Drop(std::map<registry::ServiceKey, Followed>::iterator it) {
  hooks_.unsubscribe(it->first);
  if (!it->second.hosts.empty()) hooks_.publish(it->first, {});
  {
    std::lock_guard lock(freshness_mu_);
    freshness_.erase(it->first);
  }
  followed_.erase(it);
  dirty_ = true;
}

void ServiceFollower::Tick() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  for (auto it = followed_.begin(); it != followed_.end();) {
    Followed& f = it->second;
    if (f.freshness->queried.exchange(false, std::memory_order_relaxed)) f.last_used_ms = now;
    if (!f.pinned && options_.idle_unsubscribe_ms > 0 &&
        now - f.last_used_ms >= options_.idle_unsubscribe_ms) {
      idle_dropped_.Inc();
      spdlog::info("agent: {} not queried for {} ms, unsubscribing", it->first.GroupedName(),
                   now - f.last_used_ms);
      Drop(it++);
      continue;
    }
    if (f.empty_since_ms != 0 && now - f.checked_ms >= kExistenceCheckMs && hooks_.check_exists) {
      f.checked_ms = now;
      hooks_.check_exists(it->first);
    }
    if (f.empty_since_ms != 0 && now - f.empty_since_ms >= options_.push_empty_grace_ms) {
      // Nothing newer came during the grace period: the service has no instances.
      push_empty_applied_.Inc();
      ApplyHeldEmpty(it->first, f);
    }
    if (f.has_data) Update(f, now);
    ++it;
  }
}

std::vector<SavedService> ServiceFollower::Saved() const {
  std::lock_guard lock(mu_);
  std::vector<SavedService> out;
  out.reserve(followed_.size());
  for (const auto& [key, f] : followed_) {
    if (!f.has_data) continue;
    out.push_back({key, f.hosts, f.revision, f.confirmed_ms});
  }
  return out;
}

bool ServiceFollower::TakeDirty() {
  std::lock_guard lock(mu_);
  return std::exchange(dirty_, false);
}

void ServiceFollower::MarkDirty() {
  std::lock_guard lock(mu_);
  dirty_ = true;
}

bool ServiceFollower::Ready() const {
  std::lock_guard lock(mu_);
  // Once ready it stays so: an outage is what the stale answers are for, and a sidecar that
  // turned unready with the registry would take its workload out of service too.
  if (snapshot_loaded_ || ready_) return true;
  ready_ = connected_ && std::all_of(followed_.begin(), followed_.end(), [](const auto& entry) {
             return !entry.second.pinned || entry.second.has_data;
           });
  return ready_;
}

bool ServiceFollower::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

size_t ServiceFollower::size() const {
  std::lock_guard lock(mu_);
  return followed_.size();
}

std::vector<ServiceStatus> ServiceFollower::Status() const {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  std::vector<ServiceStatus> out;
  out.reserve(followed_.size());
  for (const auto& [key, f] : followed_) {
    ServiceStatus s;
    s.key = key;
    s.pinned = f.pinned;
    s.instances = f.hosts.size();
    s.empty_held = f.empty_since_ms != 0;
    s.idle_ms = now - f.last_used_ms;
    const StateName state = StateOf(f);
    s.state = kStateNames[state];
    s.age_ms = AgeOf(f, state, now);
    out.push_back(std::move(s));
  }
  return out;
}

ServiceFollower::StateName ServiceFollower::StateOf(const Followed& f) {
  if (!f.has_data) return kSyncing;
  switch (f.freshness->state.load(std::memory_order_relaxed)) {
    case Freshness::kFresh:
      return kFreshState;
    case Freshness::kStale:
      return kStaleState;
    case Freshness::kExpired:
      break;
  }
  return kExpiredState;
}

int64_t ServiceFollower::AgeOf(const Followed& f, StateName state, int64_t now) {
  return state == kStaleState || state == kExpiredState ? now - f.confirmed_ms : 0;
}

ServiceFollower::Summary ServiceFollower::Summarize() const {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.NowMs();
  Summary summary;
  for (const auto& [key, f] : followed_) {
    const StateName state = StateOf(f);
    ++summary.by_state[state];
    summary.oldest_age_ms = std::max(summary.oldest_age_ms, AgeOf(f, state, now));
  }
  return summary;
}

std::shared_ptr<dns::ServiceFreshness> ServiceFollower::FreshnessOf(
    const registry::ServiceKey& key) {
  std::lock_guard lock(freshness_mu_);
  auto it = freshness_.find(key);
  // A service published but no longer followed (a race with Drop) reads as stale.
  if (it != freshness_.end()) return it->second;
  auto orphan = std::make_shared<dns::ServiceFreshness>();
  orphan->state = Freshness::kStale;
  return orphan;
}

MissAction ServiceFollower::Unavailable() const {
  return connected_ ? MissAction::kNotReady : MissAction::kNoAuthority;
}

MissAction ServiceFollower::OnMiss(const dns::ServiceGuess& guess, bool may_wait) {
  // Another namespace is not ours to follow: it has no names here.
  if (guess.namespace_label != namespace_label_) return MissAction::kNegative;
  std::lock_guard lock(mu_);
  if (guess.name.empty()) {
    // A hashed .enc name: only data could say which service it is.
    return connected_ ? MissAction::kNegative : MissAction::kStaleNegative;
  }
  registry::ServiceKey key{options_.namespace_id,
                           guess.group_label == default_group_label_
                               ? std::string(registry::kDefaultGroup)
                               : std::string(guess.group_label),
                           std::string(guess.name)};
  auto it = followed_.find(key);
  if (it == followed_.end()) {
    if (followed_.size() >= options_.max_services) {
      over_limit_.Inc();
      return Unavailable();
    }
    Follow(key, /*pinned=*/false);
    return may_wait ? MissAction::kWait : Unavailable();
  }
  Followed& f = it->second;
  f.last_used_ms = clock_.NowMs();
  if (!f.has_data) {
    if (f.refused) return Unavailable();
    return may_wait ? MissAction::kWait : Unavailable();
  }
  // Followed, with data, and no entry in the zone: it has no instances to answer with.
  switch (f.freshness->state.load(std::memory_order_relaxed)) {
    case Freshness::kFresh:
      return MissAction::kNegative;
    case Freshness::kStale:
      return MissAction::kStaleNegative;
    case Freshness::kExpired:
      break;
  }
  return MissAction::kNoAuthority;
}

}  // namespace dnsd::agent
