// QueryPipeline turns one query packet into one response, in the order the reference
// (dns.md part A/B) requires: decode and validate (FORMERR, NOTIMP, BADVERS), then the
// registry zone, then static zones, then (asynchronously) the forwarder. It owns no state
// beyond counters, so one instance serves every worker thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/metrics.h"
#include "dnsd/cookies.h"
#include "dnsd/dns_wire.h"
#include "dnsd/registry_zone.h"

namespace dnsd::dns {

class StaticZones;

enum class Verdict {
  kRespond,  // `size` bytes of response are in the output buffer
  kDrop,     // nothing to send (not a query, or too short to answer)
  kForward,  // not ours: the caller hands the parsed query to the forwarder
  kWait,     // a followed registry is fetching the service: the caller parks the parsed
             // query with its waiter, which calls Reanswer
};

struct PipelineOutcome {
  Verdict verdict = Verdict::kDrop;
  size_t size = 0;
};

class QueryPipeline {
 public:
  QueryPipeline(const RegistryZone& registry_zone, common::MetricsRegistry& metrics);
  void SetStaticZones(const StaticZones* zones) { static_zones_ = zones; }
  void SetForwardingEnabled(bool enabled) { forwarding_ = enabled; }
  static constexpr int kCookieKinds = 3;  // no server cookie, a valid one, an invalid one

  // `query` receives the parsed query (used by the forwarder on kForward). `may_forward` is
  // false for clients outside the forwarding allow-list: they get REFUSED for foreign names.
  // `client`, when given, is who sent the query: with cookies set, a query carrying a client
  // cookie gets a server cookie for that address (and `query.cookie_valid` says whether it
  // returned a good one).
  PipelineOutcome Process(const uint8_t* in, size_t in_size, uint8_t* out, size_t out_cap, bool tcp,
                          bool may_forward, Query& query,
                          const sockaddr_storage* client = nullptr) const;
  // DNS Cookies (RFC 7873/9018) for queries that carry one; before queries arrive.
  void SetCookies(const DnsCookies* cookies) { cookies_ = cookies; }
  // Answers again a query for which Process said kWait. `may_wait` false once the query's
  // deadline has passed (the answer is then whatever is known: data, or SERVFAIL + EDE 14).
  PipelineOutcome Reanswer(const Query& q, uint8_t* out, size_t out_cap, bool tcp,
                           bool may_wait) const;
  // REFUSED for a query that asked for forwarding from a client that may not forward.
  size_t Refuse(const Query& q, bool tcp, uint8_t* out, size_t out_cap) const;
  // An empty answer with TC set (rate limiting's "slip": the client retries over TCP).
  size_t Truncated(const Query& q, uint8_t* out, size_t out_cap) const;

  // The response limit for a query: 65535 over TCP; over UDP the client's EDNS size capped
  // at ours (1232), or 512 without EDNS.
  static size_t ResponseLimit(const Query& q, bool tcp);

  void CountRcode(uint8_t rcode) const;

 private:
  PipelineOutcome AnswerParsed(const Query& q, uint8_t* out, size_t out_cap, bool tcp,
                               bool may_forward, bool may_wait) const;
  size_t Error(const Query& q, bool has_question, bool with_opt, uint16_t rcode, uint8_t* out,
               size_t out_cap) const;

  const RegistryZone& registry_zone_;
  const StaticZones* static_zones_ = nullptr;
  bool forwarding_ = false;
  common::Counter* by_type_[5];   // A, AAAA, SRV, ANY, other
  common::Counter* by_rcode_[6];  // NOERROR..REFUSED
  common::Counter* badvers_;
  common::Counter* by_zone_[3];  // registry, static, forward
  common::Counter* dropped_;
  const DnsCookies* cookies_ = nullptr;
  common::Counter* cookies_seen_[kCookieKinds];
  void AnswerCookie(Query& q, const sockaddr_storage& client) const;
};

}  // namespace dnsd::dns
