// RegistryZone answers DNS for service names straight from the registry (reference dns.md
// part A and C): `[_port._proto.]<service>.svc[.<cluster>.cl][.<group>.grp][.<ns>.ns].<zone>`,
// `.enc` names for services that are not valid host names, `<hex-ip>.addr.<zone>` SRV
// targets, the zone apex (SOA, NS), DNS-F bare names and the Nacos 3.3 compatibility suffix.
//
// Answer sets are built by the registry writer (OnServiceChanged runs as a registry change
// listener, under the registry's writer lock) and published in a CowIndex; DNS workers look
// names up without locks and without allocating.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "common/cow_index.h"
#include "common/metrics.h"
#include "dnsd/dns_wire.h"
#include "dnsd/host_resolver.h"
#include "dnsd/registry_follower.h"
#include "registry/service_view.h"

namespace dnsd::dns {

struct RegistryZoneOptions {
  std::string zone = "nacos.internal.";
  uint32_t ttl = 5;
  uint32_t negative_ttl = 5;  // SOA TTL and MINIMUM
  uint32_t addr_ttl = 3600;   // <hex>.addr names never change meaning
  std::string default_namespace = "public";
  std::string default_group = "DEFAULT_GROUP";
  bool bare_names = false;               // DNS-F: a whole query name equal to a service name
  std::string compat_suffix;             // Nacos 3.3 style `<svc>[.<group>].<suffix>`; empty = off
  std::string ns_address = "127.0.0.1";  // address of ns1.<zone>
  // Like BIND's minimal-responses: SRV answers carry no target addresses in the additional
  // section (clients then resolve the <hex>.addr targets themselves).
  bool minimal_responses = false;
};

// One service's answers at one registry revision: only enabled instances with weight > 0.
// The addresses are packed into one buffer; A/AAAA and SRV records are assembled at query time
// from a host's address, port and weight (a record's 12-byte header is the same for every host
// of a type: storing it per host cost 12 of every 16 bytes of an IPv4 host's record).
struct ServiceAnswers {
  struct Host {
    // An instance registered with an IP answers A/AAAA and SRV (target <hex>.addr). One with a
    // host name is a kNameTarget host for SRV (target: the name) plus a kResolvedAddress host
    // per address the name resolves to, for A/AAAA only. The protect threshold counts
    // instances: kAddress and kNameTarget hosts.
    enum Kind : uint8_t { kAddress, kNameTarget, kResolvedAddress };
    // Widest first and the two flags as bits: 16 bytes a host (one per instance).
    float weight = 1;
    uint32_t offset = 0;  // of its 4 or 16 address bytes in `addresses`; kNameTarget: of its
                          // name in `names`
    uint16_t port = 0;
    uint16_t srv_weight = 1;
    uint16_t cluster = 0;  // index into `clusters`
    Kind kind = kAddress;
    bool v6 : 1 = false;
    bool healthy : 1 = true;
    uint16_t address_len() const { return v6 ? 16 : 4; }
  };
  static_assert(sizeof(Host) == 16, "a Host is per instance: keep it small");
  std::vector<Host> hosts;
  std::vector<uint8_t> addresses;
  std::vector<uint8_t> names;         // SRV targets of host-name instances, uncompressed wire form
  std::vector<std::string> clusters;  // DNS labels (lowercase)
  std::string service_name;           // the Nacos name, to check decoded .enc names
  double protect_threshold = 0;
  // How current the data is, when the zone is fed by a follower (the agent); null otherwise.
  std::shared_ptr<ServiceFreshness> freshness;

  const uint8_t* address(const Host& h) const { return addresses.data() + h.offset; }
  std::string_view target_name(const Host& h) const {
    const uint8_t* start = names.data() + h.offset;
    size_t n = 0;
    while (start[n] != 0) n += start[n] + 1;
    return {reinterpret_cast<const char*>(start), n + 1};
  }
  bool counts_as_instance(const Host& h) const { return h.kind != Host::kResolvedAddress; }
};

// A published name: a service (answers set), an empty non-terminal, or both.
struct NameEntry {
  std::shared_ptr<const ServiceAnswers> answers;
  bool exists_as_ent = false;
};

// What the lookup decided; the pipeline turns it into a response.
// kWait: the name is a service the follower is fetching; park the query and ask again.
enum class ZoneResult { kNotOurs, kAnswered, kWait };

// A name under which the zone answers for a service, and the types it answers with data now.
struct ServiceDnsName {
  std::string name;  // text, with the final dot
  // natural: <name>.svc; encoded: .enc; cluster: one cluster's instances; rfc2782:
  // _<name>._tcp.svc (SRV only); compat: the Nacos 3.3 suffix; bare: the DNS-F whole name.
  std::string form;
  std::string cluster;             // the cluster's label, for the cluster form
  std::vector<std::string> types;  // of "A", "AAAA", "SRV": those with records now
};

class RegistryZone {
 public:
  RegistryZone(RegistryZoneOptions options, common::MetricsRegistry& metrics);

  // Set before the zone is fed or queried, by a process that follows a registry elsewhere.
  // Counts its answers in `metrics` (dnsd_dns_follower_answers_total{kind}).
  void SetFollower(RegistryFollower* follower, common::MetricsRegistry& metrics);
  bool followed() const { return follower_ != nullptr; }
  // Set before the zone is fed: resolves the host names instances use instead of IPs, and
  // rebuilds the services using a name when its addresses change. Without one, host-name
  // instances answer SRV only.
  void SetHostResolver(HostResolver* resolver);

  // Bulk loading (a restart's snapshot and log, before DNS serves): names added or removed
  // between the two are seen by queries at EndBulk, and the name index copies each of its
  // parts once, not once per name (CowIndex batches). Writer side, like OnServiceChanged.
  void BeginBulk();
  void EndBulk();

  // Registry change listener (writer side): `view` null means the service was removed.
  void OnServiceChanged(const registry::ServiceKey& key,
                        const std::shared_ptr<const registry::ServiceView>& view);

  // Answers `q` if the name belongs to the registry zone, the compatibility suffix, or (with
  // bare names on) is a registered service name. Writes answer/authority/additional and the
  // rcode (and the EDE and TTL cap of the follower's rules); the caller finishes the message.
  // `may_wait` false: a query that has waited already is answered now whatever the follower
  // knows.
  ZoneResult Answer(const Query& q, ResponseWriter& w, bool may_wait = true) const;

  const RegistryZoneOptions& options() const { return options_; }
  uint32_t serial() const { return serial_.load(std::memory_order_relaxed); }
  size_t service_count() const;
  // The names the zone answers to for `key` now, shortest first; empty when the service has
  // no answers published. `natural_collides` tells why a service has no natural name.
  std::vector<ServiceDnsName> NamesOf(const registry::ServiceKey& key,
                                      bool* natural_collides = nullptr) const;
  // Maps a namespace, group or cluster value to its DNS label (dns.md C.3).
  static std::string LabelFor(std::string_view value);
  // The natural DNS form of a service name, or empty if it has none.
  static std::string NaturalForm(std::string_view service);
  // The same into caller memory (no allocation); false if there is none or it does not fit.
  static bool NaturalFormInto(std::string_view service, char* out, size_t capacity, size_t& size);
  // The lossless `.enc` form: base32hex labels, or h-<hash> when too long.
  static std::string EncodedForm(std::string_view service, size_t room);

 private:
  void AnswerApex(const Query& q, ResponseWriter& w) const;
  void AnswerAddr(const Query& q, ResponseWriter& w, std::string_view hex) const;
  // Writes the service's RRset for the query type; false when there is none (NODATA).
  bool AnswerService(const Query& q, ResponseWriter& w, const ServiceAnswers& answers,
                     std::string_view cluster, bool srv_owner) const;
  void Negative(ResponseWriter& w, uint8_t rcode) const;
  // The follower's rules for a service with an entry: false when they settle the answer
  // (SERVFAIL for expired data); a stale answer gets its EDE and TTL cap.
  bool FreshnessAllows(ResponseWriter& w, const ServiceAnswers& answers) const;
  // AnswerService or NODATA, after the follower's rules.
  void AnswerHit(const Query& q, ResponseWriter& w, const ServiceAnswers& answers,
                 std::string_view cluster, bool srv_owner) const;
  // The follower's rules for a service name without an entry: kWait, kAnswered (SERVFAIL),
  // or kNotOurs for "go on with the usual negative answer" (with EDE 19 when stale) — unless
  // `late` is set: the service's data was published after the caller looked `key` up (the
  // follower had it when asked), and that entry answers.
  ZoneResult MissRules(ResponseWriter& w, const ServiceGuess& guess, bool may_wait,
                       std::string_view key, const NameEntry*& late) const;
  bool HasEntry(std::string_view key) const;
  // Valid until this thread looks the same name up again and finds it changed.
  const NameEntry* Lookup(std::string_view key) const;
  // `host_names`, when given, receives the host names the answers use (sorted, unique).
  std::shared_ptr<ServiceAnswers> BuildAnswers(
      const registry::ServiceView& view, std::vector<std::string>* host_names = nullptr) const;
  // The resolver's change of `host`: rebuilds every service that uses it.
  void OnHostChanged(const std::string& host);
  // Publishes new answers for a known service under its natural and .enc names.
  void PublishAnswers(const registry::ServiceKey& key,
                      const std::shared_ptr<const ServiceAnswers>& answers);
  void AddRef(const std::string& key, const std::shared_ptr<const ServiceAnswers>* answers);
  void Release(const std::string& key, bool as_service);
  ZoneResult AnswerCompat(const Query& q, ResponseWriter& w, size_t labels_before,
                          bool may_wait) const;

  const RegistryZoneOptions options_;
  const uint64_t instance_id_;
  RegistryFollower* follower_ = nullptr;
  // What the follower's rules made of answers: stale, stale NXDOMAIN, SERVFAIL not ready,
  // SERVFAIL expired or unreachable.
  enum FollowerAnswer { kStaleAnswer, kStaleNxDomain, kServFailNotReady, kServFailNoAuthority };
  common::Counter* follower_answers_[4] = {};
  WireName apex_;
  std::string addr_suffix_;  // "\x04addr" + apex, the tail of every SRV target
  WireName compat_apex_;
  WireName mname_;  // ns1.<zone>
  WireName rname_;  // hostmaster.<zone>
  uint8_t ns_rdata_[16];
  uint16_t ns_rdlen_ = 0;
  std::string default_ns_label_;
  std::string default_grp_label_;
  std::atomic<uint32_t> serial_{1};
  // How many services have names here: read by queries for the bare `ns.<zone>` marker name
  // (an empty non-terminal while any service is named below it).
  std::atomic<size_t> services_named_{0};

  // Writer side, serialised by the registry writer lock (and mu_ for safety, and for the
  // console's NamesOf).
  mutable std::mutex mu_;
  // Per service: only what every update needs. The natural, .enc and empty non-terminal keys
  // are derived again when needed (each update, collisions, removal), which keeps this small:
  // an entry is the shared key and 24 bytes.
  struct Published {
    std::shared_ptr<const ServiceAnswers> answers;
    bool has_natural = false;  // the service has a natural name (it may collide)
    // The .enc name needs its own index entry only without a usable natural name (none, case
    // collision) or for the hash form; otherwise a decoded .enc name finds the natural entry.
    bool encoded_indexed = false;
  };
  // Keeps the resolver's interest and host_users_ in step with the service's host names.
  // `hosts`: the names the service's answers use now (BuildAnswers), sorted and unique.
  void TrackHosts(const registry::ServiceKey& key,
                  const std::shared_ptr<const registry::ServiceView>& view,
                  std::vector<std::string> hosts);
  struct DerivedKeys {
    std::string natural_key;
    std::string encoded_key;
    bool encoded_is_hash = false;
    std::vector<std::string> ent_keys;
  };
  DerivedKeys KeysFor(const registry::ServiceKey& key) const;
  // KeysFor(key).natural_key alone (empty if the service has no natural name).
  std::string NaturalKeyFor(const registry::ServiceKey& key) const;
  size_t NameRoom() const;  // how long a service label may be under the apex
  void IndexEncoded(const registry::ServiceKey& key, Published& p);
  // Hash maps: the keys share long prefixes ("public\x01default-group\x01..."), which makes
  // ordered maps spend their time in memcmp. Keyed by the views' own shared keys.
  absl::flat_hash_map<std::shared_ptr<const registry::ServiceKey>, Published,
                      registry::SharedServiceKeyHash, registry::SharedServiceKeyEq>
      published_;
  // Every name the index holds, with what it is: a service's answers, an empty non-terminal of
  // `ent` services, and for a natural name the services claiming it (almost always one; two or
  // more collide, and then none of them answers there). A name stays while anything refers to it.
  using Claimants = absl::InlinedVector<std::shared_ptr<const registry::ServiceKey>, 1>;
  struct RefCounts {
    int ent = 0;
    std::shared_ptr<const ServiceAnswers> answers;
    Claimants claims;
  };
  absl::flat_hash_map<std::string, RefCounts> names_;
  // Services with host-name instances: the view to rebuild their answers from when one of
  // their names resolves differently, and those names.
  struct HostNamed {
    std::shared_ptr<const registry::ServiceView> view;
    std::vector<std::string> hosts;
  };
  absl::flat_hash_map<registry::ServiceKey, HostNamed> host_named_;

  HostResolver* resolver_ = nullptr;
  absl::flat_hash_map<std::string, std::set<registry::ServiceKey>> host_users_;

  common::CowIndex<std::string, NameEntry> index_;
  common::Counter& collisions_;
};

}  // namespace dnsd::dns
