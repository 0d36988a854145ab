// RegistryFollower is what a registry zone fed from elsewhere (the DNS-F agent, which follows
// a cluster over gRPC) tells the zone about how current its data is (reference dns.md part
// D). The server's own zone has none: its registry is the truth.
//
// The zone consults it in two places:
//  - a hit: the service's answers carry its ServiceFreshness (taken once, when the answers
//    are built). FRESH answers as usual; STALE answers with EDE 3 "Stale Answer" and every TTL
//    capped at stale_ttl(); EXPIRED is SERVFAIL with EDE 22 "No Reachable Authority".
//  - a miss: a query named a service the zone has no data for. The follower decides: the
//    usual NXDOMAIN (it knows the service has no instances), the same as a stale NXDOMAIN
//    (EDE 19), wait for a subscription's first answer (the DNS server parks the query with
//    its waiter and asks again), or SERVFAIL with EDE 14 "Not Ready" / EDE 22. "The registry
//    is unreachable" never becomes NXDOMAIN.
//
// Thread-safety: FreshnessOf runs on the registry writer (under its lock); OnMiss on DNS
// worker threads and must not block for long; ServiceFreshness fields are atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "registry/naming_model.h"

namespace dnsd::dns {

enum class Freshness : uint8_t { kFresh = 0, kStale = 1, kExpired = 2 };

// One followed service's state, written by the follower and read by DNS workers.
struct ServiceFreshness {
  std::atomic<Freshness> state{Freshness::kFresh};
  // Set by DNS workers when a query hits the service; the follower clears it as it notes
  // the service as used (idle services are dropped). A plain load first keeps the cache line
  // shared while the flag is already set.
  std::atomic<bool> queried{false};
  void MarkQueried() {
    if (!queried.load(std::memory_order_relaxed)) queried.store(true, std::memory_order_relaxed);
  }
};

// The service a query names, as the zone parsed it: DNS labels for namespace and group (as
// RegistryZone::LabelFor maps them), the service name from the query (labels as sent, joined
// with dots, or the exact name decoded from an .enc name).
struct ServiceGuess {
  std::string_view namespace_label;
  std::string_view group_label;
  std::string_view name;
};

enum class MissAction : uint8_t {
  kNegative,       // answer as the zone would (NXDOMAIN/NODATA)
  kStaleNegative,  // the same, with EDE 19 "Stale NXDOMAIN Answer" and capped TTLs
  kWait,           // park the query until the service's first data (or the deadline)
  kNotReady,       // SERVFAIL + EDE 14
  kNoAuthority,    // SERVFAIL + EDE 22
};

inline constexpr uint16_t kEdeStaleNxDomain = 19;

class RegistryFollower {
 public:
  virtual ~RegistryFollower() = default;
  // The state object of a service whose answers the zone is building (writer side).
  virtual std::shared_ptr<ServiceFreshness> FreshnessOf(const registry::ServiceKey& key) = 0;
  // A query for a service the zone has no entry for. `may_wait` is false when the query has
  // already waited (its deadline passed, or the server cannot park it).
  virtual MissAction OnMiss(const ServiceGuess& guess, bool may_wait) = 0;
  // The TTL cap of stale answers.
  virtual uint32_t stale_ttl() const = 0;
};

}  // namespace dnsd::dns
