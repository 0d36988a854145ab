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
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/cow_index.h"
#include "common/metrics.h"
#include "dnsd/dns_wire.h"
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
};

// One service's answers at one registry revision: only enabled instances with weight > 0.
struct ServiceAnswers {
  struct Host {
    bool v6 = false;
    bool healthy = true;
    uint16_t cluster = 0;  // index into `clusters`
    double weight = 1;
    std::vector<uint8_t> address_rr;  // A/AAAA, owner 0xC00C, pre-encoded
    std::vector<uint8_t> srv_rr;      // SRV, owner 0xC00C, uncompressed target
    std::vector<uint8_t> glue_rdata;  // the 4 or 16 address bytes
  };
  std::vector<Host> hosts;
  std::vector<std::string> clusters;  // DNS labels (lowercase)
  double protect_threshold = 0;
};

// A published name: a service (answers set), an empty non-terminal, or both.
struct NameEntry {
  std::shared_ptr<const ServiceAnswers> answers;
  bool exists_as_ent = false;
};

// What the lookup decided; the pipeline turns it into a response.
enum class ZoneResult { kNotOurs, kAnswered };

class RegistryZone {
 public:
  RegistryZone(RegistryZoneOptions options, common::MetricsRegistry& metrics);

  // Registry change listener (writer side): `view` null means the service was removed.
  void OnServiceChanged(const registry::ServiceKey& key,
                        const std::shared_ptr<const registry::ServiceView>& view);

  // Answers `q` if the name belongs to the registry zone, the compatibility suffix, or (with
  // bare names on) is a registered service name. Writes answer/authority/additional and the
  // rcode; the caller finishes the message.
  ZoneResult Answer(const Query& q, ResponseWriter& w) const;

  const RegistryZoneOptions& options() const { return options_; }
  // Maps a namespace, group or cluster value to its DNS label (dns.md C.3).
  static std::string LabelFor(std::string_view value);
  // The natural DNS form of a service name, or empty if it has none.
  static std::string NaturalForm(std::string_view service);
  // The lossless `.enc` form: base32hex labels, or h-<hash> when too long.
  static std::string EncodedForm(std::string_view service, size_t room);

 private:
  void AnswerApex(const Query& q, ResponseWriter& w) const;
  void AnswerAddr(const Query& q, ResponseWriter& w, std::string_view hex) const;
  // Writes the service's RRset for the query type; false when there is none (NODATA).
  bool AnswerService(const Query& q, ResponseWriter& w, const ServiceAnswers& answers,
                     std::string_view cluster, bool srv_owner) const;
  void Negative(ResponseWriter& w, uint8_t rcode) const;
  bool HasEntry(std::string_view key) const;
  std::shared_ptr<const NameEntry> Lookup(std::string_view key) const;
  std::shared_ptr<const ServiceAnswers> BuildAnswers(const registry::ServiceView& view) const;
  void AddRef(const std::string& key, const std::shared_ptr<const ServiceAnswers>* answers);
  void Release(const std::string& key, bool as_service);
  ZoneResult AnswerCompat(const Query& q, ResponseWriter& w, size_t labels_before) const;

  const RegistryZoneOptions options_;
  WireName apex_;
  WireName compat_apex_;
  WireName mname_;  // ns1.<zone>
  WireName rname_;  // hostmaster.<zone>
  uint8_t ns_rdata_[16];
  uint16_t ns_rdlen_ = 0;
  std::string default_ns_label_;
  std::string default_grp_label_;
  std::atomic<uint32_t> serial_{1};

  // Writer side, serialised by the registry writer lock (and mu_ for safety).
  std::mutex mu_;
  struct Published {
    std::string natural_key;  // empty if none
    std::string encoded_key;
    std::vector<std::string> ent_keys;
  };
  std::map<registry::ServiceKey, Published> published_;
  std::map<std::string, std::set<registry::ServiceKey>> natural_claims_;
  struct RefCounts {
    int ent = 0;
    std::shared_ptr<const ServiceAnswers> answers;
  };
  std::map<std::string, RefCounts> names_;

  common::CowIndex<std::string, NameEntry> index_;
  common::Counter& collisions_;
};

}  // namespace dnsd::dns
