// ServiceFollower is the agent's model of what it follows and how current each service is
// (reference dns.md part D). It takes the lists the NacosClient delivers, the connection's
// ups and downs and the snapshot loaded at start, publishes each service's instances through
// `publish` (the agent's registry, hence its DNS zone), and answers the zone's questions as
// its dns::RegistryFollower:
//
//  - Per service, not per connection: a service is FRESH once a list for it arrived on the
//    current connection (after `fresh_hysteresis_ms` of that connection when it replaces an
//    earlier, lost one), STALE while the connection is down, its subscription was refused or
//    an empty list is held back, and EXPIRED once it has been stale for `max_stale_ms`
//    (0: never). A service's age counts from when it was last known fresh.
//  - Lazy subscription: a query for a service not followed yet subscribes to it; the query
//    waits (the server parks it) until the first list or the deadline, then SERVFAIL + EDE 14
//    (EDE 22 while no server is reachable). Services nobody asked for during
//    `idle_unsubscribe_ms` are dropped (not the pinned ones, `agent.services`).
//  - Push-empty protection: an empty list for a service that had instances is held back for
//    `push_empty_grace_ms` (the service answers STALE meanwhile), then applied if nothing
//    newer came; a server restarting empty must not blank the workload's view. A list does
//    not say whether its service was deleted, so the follower asks (`check_exists`, again
//    every kExistenceCheckMs while holding): a deleted service's empty list applies at once.
//
// Thread-safety: every method may be called from any thread. `publish` and `subscribe` are
// called with the follower's lock held and must not call back into it (they hand work on:
// the registry's writer, the client's queue); `data_arrived` is called without it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/nacos_client.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "dnsd/registry_follower.h"
#include "registry/naming_model.h"

namespace dnsd::agent {

struct FollowerOptions {
  std::string namespace_id = "public";
  std::vector<registry::ServiceKey> pinned;   // followed from start, never idle
  int64_t max_stale_ms = 24 * 3600 * 1000;    // 0: stale data never expires
  uint32_t stale_ttl = 5;                     // TTL cap of stale answers (seconds)
  int64_t idle_unsubscribe_ms = 3600 * 1000;  // 0: never
  int64_t push_empty_grace_ms = 30'000;       // 0: no protection
  int64_t fresh_hysteresis_ms = 2'000;
  size_t max_services = 10'000;  // beyond this, new names are not followed (SERVFAIL)
};

// A service's instances, shared by the follower, the agent's registry and the snapshot's
// writer: one copy of each, replaced whole by the next list (never changed in place).
using HostList = std::vector<std::shared_ptr<const registry::Instance>>;
// The list as the agent's registry holds it: every instance marked ephemeral (a remote
// client's copy there, whatever it is on the server).
HostList ToHostList(const std::vector<registry::Instance>& instances);

// A service as saved in the snapshot and restored from it.
struct SavedService {
  registry::ServiceKey key;
  HostList hosts;
  int64_t revision = 0;      // the server's stamp of the list (lastRefTime)
  int64_t confirmed_ms = 0;  // when it was last known current
};

// One line of the status page.
struct ServiceStatus {
  registry::ServiceKey key;
  std::string state;  // "syncing", "fresh", "stale", "expired"
  size_t instances = 0;
  int64_t age_ms = 0;   // since last known current (0 while fresh)
  int64_t idle_ms = 0;  // since last queried
  bool pinned = false;
  bool empty_held = false;  // an empty list is held back
};

class ServiceFollower final : public dns::RegistryFollower {
 public:
  struct Hooks {
    std::function<void(const registry::ServiceKey&)> subscribe;
    std::function<void(const registry::ServiceKey&)> unsubscribe;
    // Replaces the service's published instances (an empty list removes it).
    std::function<void(const registry::ServiceKey&, const HostList&)> publish;
    std::function<void()> data_arrived;  // a service got its first list: wake parked queries
    // Asks whether a service still exists (answered through OnExistence); optional.
    std::function<void(const registry::ServiceKey&)> check_exists;
  };

  ServiceFollower(FollowerOptions options, const common::Clock& clock, Hooks hooks,
                  common::MetricsRegistry& metrics);

  // Subscribes to the pinned services; call once the hooks can take work.
  void Start();
  // From the client: a subscription's answer or a push.
  void OnList(const ServiceUpdate& update);
  // From the client: a connection is set up (its subscriptions follow) or lost.
  void OnConnection(bool connected);
  // From the client: whether a service whose empty list is held back still exists. A deleted
  // service is not protected: its empty list applies at once.
  void OnExistence(const registry::ServiceKey& key, bool exists);
  // From the client: the server refused a subscription (this service only goes stale).
  void OnSubscriptionFailed(const registry::ServiceKey& key);
  // At start, before any list: the snapshot's services, published as stale (or expired).
  void Restore(const std::vector<SavedService>& services);
  // Expiry, promotion after the hysteresis, held-back empty lists, idle services.
  void Tick();

  // What the snapshot should hold now, and whether anything changed since the last call.
  std::vector<SavedService> Saved() const;
  bool TakeDirty();
  void MarkDirty();
  // Ready: a snapshot was loaded, or a server was connected with every pinned service's list;
  // it then stays ready through outages.
  bool Ready() const;
  bool connected() const;
  std::vector<ServiceStatus> Status() const;
  // Counts by state and the oldest age, in one pass without copying (for /metrics).
  enum StateName { kSyncing, kFreshState, kStaleState, kExpiredState, kStateCount };
  static constexpr const char* kStateNames[kStateCount] = {"syncing", "fresh", "stale", "expired"};
  struct Summary {
    size_t by_state[kStateCount] = {};
    int64_t oldest_age_ms = 0;
  };
  Summary Summarize() const;
  size_t size() const;

  // dns::RegistryFollower
  std::shared_ptr<dns::ServiceFreshness> FreshnessOf(const registry::ServiceKey& key) override;
  dns::MissAction OnMiss(const dns::ServiceGuess& guess, bool may_wait) override;
  uint32_t stale_ttl() const override { return options_.stale_ttl; }

 private:
  struct Followed {
    std::shared_ptr<dns::ServiceFreshness> freshness = std::make_shared<dns::ServiceFreshness>();
    bool pinned = false;
    bool has_data = false;  // a list arrived, or the snapshot had one
    HostList hosts;
    int64_t revision = 0;
    int64_t confirmed_ms = 0;
    int64_t generation = -1;  // the connection whose list it holds
    int64_t last_used_ms = 0;
    int64_t empty_since_ms = 0;  // an empty list held back since then
    int64_t checked_ms = 0;      // when its existence was last asked about
    bool refused = false;        // the server refused the subscription
  };
  Followed& Follow(const registry::ServiceKey& key, bool pinned);
  static StateName StateOf(const Followed& f);
  // Since last known current; 0 while fresh or syncing.
  static int64_t AgeOf(const Followed& f, StateName state, int64_t now);
  // Recomputes the state from the connection, the list's generation and the age.
  void Update(Followed& f, int64_t now);
  void Drop(std::map<registry::ServiceKey, Followed>::iterator it);
  // Publishes the empty list that push-empty protection held back.
  void ApplyHeldEmpty(const registry::ServiceKey& key, Followed& f);
  dns::MissAction Unavailable() const;

  const FollowerOptions options_;
  const common::Clock& clock_;
  const Hooks hooks_;
  const std::string namespace_label_;
  const std::string default_group_label_;

  mutable std::mutex mu_;
  std::map<registry::ServiceKey, Followed> followed_;
  bool connected_ = false;
  int64_t generation_ = 0;
  bool ever_lost_ = false;
  int64_t fresh_from_ms_ = 0;  // lists of this connection make services fresh from then
  bool snapshot_loaded_ = false;
  mutable bool ready_ = false;  // latched by Ready()
  bool dirty_ = false;

  // FreshnessOf runs under the registry writer while mu_ may be held: its own lock.
  mutable std::mutex freshness_mu_;
  std::map<registry::ServiceKey, std::shared_ptr<dns::ServiceFreshness>> freshness_;

  common::Counter& push_empty_protected_;
  common::Counter& push_empty_applied_;
  common::Counter& push_empty_deleted_;
  common::Counter& idle_dropped_;
  common::Counter& over_limit_;
  common::Counter& subscriptions_refused_;
};

}  // namespace dnsd::agent
