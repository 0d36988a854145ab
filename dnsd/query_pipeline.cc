#include "dnsd/query_pipeline.h"

#include <algorithm>
#include <cstring>
#include <ctime>

#include "common/strings.h"
#include "dnsd/static_zones.h"

namespace dnsd::dns {

QueryPipeline::QueryPipeline(const RegistryZone& registry_zone, common::MetricsRegistry& metrics)
    : registry_zone_(registry_zone) {
  const char* types[] = {"A", "AAAA", "SRV", "ANY", "other"};
  for (int i = 0; i < 5; ++i) {
    by_type_[i] = &metrics.GetCounter("dnsd_dns_queries_total", "DNS queries by type",
                                      common::StrCat("qtype=\"", types[i], "\""));
  }
  const char* rcodes[] = {"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"};
  for (int i = 0; i < 6; ++i) {
    by_rcode_[i] = &metrics.GetCounter("dnsd_dns_responses_total", "DNS responses by rcode",
                                       common::StrCat("rcode=\"", rcodes[i], "\""));
  }
  badvers_ = &metrics.GetCounter("dnsd_dns_responses_total", "DNS responses by rcode",
                                 "rcode=\"BADVERS\"");
  const char* zones[] = {"registry", "static", "forward"};
  for (int i = 0; i < 3; ++i) {
    by_zone_[i] = &metrics.GetCounter("dnsd_dns_queries_by_zone_total",
                                      "DNS queries by the zone that answered",
                                      common::StrCat("zone=\"", zones[i], "\""));
  }
  dropped_ = &metrics.GetCounter("dnsd_dns_dropped_packets_total",
                                 "Packets dropped without an answer (too short, or responses)");
  const char* cookie_kinds[kCookieKinds] = {"client_only", "valid", "invalid"};
  for (int k = 0; k < kCookieKinds; ++k) {
    cookies_seen_[k] =
        &metrics.GetCounter("dnsd_dns_cookies_total",
                            "Queries with a DNS cookie, by what their server cookie was (none, "
                            "ours, not ours or stale)",
                            common::StrCat("server_cookie=\"", cookie_kinds[k], "\""));
  }
}

size_t QueryPipeline::ResponseLimit(const Query& q, bool tcp) {
  if (tcp) return 65535;
  if (!q.edns.present) return 512;
  return std::clamp<size_t>(q.edns.udp_size, 512, kOurUdpSize);
}

void QueryPipeline::CountRcode(uint8_t rcode) const {
  if (rcode < 6) by_rcode_[rcode]->Inc();
}

size_t QueryPipeline::Error(const Query& q, bool has_question, bool with_opt, uint16_t rcode,
                            uint8_t* out, size_t out_cap) const {
  ResponseWriter w(out, out_cap);
  w.Begin(q, has_question, 512, with_opt ? OptSize(false) : 0);
  w.SetRcode(rcode);
  if (rcode == kRcodeBadVers) {
    badvers_->Inc();
  } else {
    CountRcode(static_cast<uint8_t>(rcode));
  }
  return w.Finish(q, with_opt);
}

void QueryPipeline::AnswerCookie(Query& q, const sockaddr_storage& client) const {
  const auto now_s = static_cast<uint32_t>(time(nullptr));
  const uint8_t* client_cookie = q.edns.cookie;
  if (q.edns.server_cookie_size == 0) {
    cookies_seen_[0]->Inc();
  } else {
    q.cookie_valid =
        cookies_->Valid(client_cookie, client_cookie + 8, q.edns.server_cookie_size, client, now_s);
    cookies_seen_[q.cookie_valid ? 1 : 2]->Inc();
  }
  std::memcpy(q.cookie_reply, client_cookie, 8);
  cookies_->Make(client_cookie, client, now_s, q.cookie_reply + 8);
  q.cookie_out = true;
}

PipelineOutcome QueryPipeline::Process(const uint8_t* in, size_t in_size, uint8_t* out,
                                       size_t out_cap, bool tcp, bool may_forward, Query& q,
                                       const sockaddr_storage* client) const {
  bool has_question = false;
  switch (ParseQuery(in, in_size, q, has_question)) {
    case ParseStatus::kDrop:
      dropped_->Inc();
      return {Verdict::kDrop, 0};
    case ParseStatus::kFormErr:
      return {Verdict::kRespond, Error(q, has_question, false, kRcodeFormErr, out, out_cap)};
    case ParseStatus::kFormErrEdns:
      return {Verdict::kRespond, Error(q, has_question, true, kRcodeFormErr, out, out_cap)};
    case ParseStatus::kNotImp:
      return {Verdict::kRespond, Error(q, has_question, false, kRcodeNotImp, out, out_cap)};
    case ParseStatus::kOk:
      break;
  }
  if (cookies_ != nullptr && client != nullptr && q.edns.has_cookie) AnswerCookie(q, *client);
  switch (q.qtype) {
    case kTypeA:
      by_type_[0]->Inc();
      break;
    case kTypeAAAA:
      by_type_[1]->Inc();
      break;
    case kTypeSRV:
      by_type_[2]->Inc();
      break;
    case kTypeANY:
      by_type_[3]->Inc();
      break;
    default:
      by_type_[4]->Inc();
  }
  if (q.edns.present && q.edns.version > 0) {
    return {Verdict::kRespond, Error(q, true, true, kRcodeBadVers, out, out_cap)};
  }
  // Zone transfers are not offered; other meta types (MAILB, MAILA, 128-254) are not
  // implemented. Ordinary unknown types fall through and get NODATA/NXDOMAIN.
  if (q.qtype == kTypeAXFR || q.qtype == 251) {
    return {Verdict::kRespond, Error(q, true, q.edns.present, kRcodeRefused, out, out_cap)};
  }
  if (q.qtype == 253 || q.qtype == 254 || (q.qtype >= 128 && q.qtype < 251)) {
    return {Verdict::kRespond, Error(q, true, q.edns.present, kRcodeNotImp, out, out_cap)};
  }
  return AnswerParsed(q, out, out_cap, tcp, may_forward, /*may_wait=*/true);
}

PipelineOutcome QueryPipeline::Reanswer(const Query& q, uint8_t* out, size_t out_cap, bool tcp,
                                        bool may_wait) const {
  return AnswerParsed(q, out, out_cap, tcp, /*may_forward=*/false, may_wait);
}

PipelineOutcome QueryPipeline::AnswerParsed(const Query& q, uint8_t* out, size_t out_cap, bool tcp,
                                            bool may_forward, bool may_wait) const {
  ResponseWriter w(out, out_cap);
  // A followed zone may add an EDE (stale data, not ready): room for it is kept.
  w.Begin(q, true, ResponseLimit(q, tcp), q.edns.present ? OptSize(registry_zone_.followed()) : 0);
  if (q.qclass == kClassIN || q.qclass == kTypeANY) {
    const ZoneResult result = registry_zone_.Answer(q, w, may_wait);
    if (result == ZoneResult::kWait) return {Verdict::kWait, 0};
    if (result == ZoneResult::kAnswered) {
      by_zone_[0]->Inc();
      const size_t size = w.Finish(q, q.edns.present);
      CountRcode(static_cast<uint8_t>(out[3] & 0xF));
      return {Verdict::kRespond, size};
    }
    if (static_zones_ != nullptr && static_zones_->Answer(q, w)) {
      by_zone_[1]->Inc();
      const size_t size = w.Finish(q, q.edns.present);
      CountRcode(static_cast<uint8_t>(out[3] & 0xF));
      return {Verdict::kRespond, size};
    }
  }
  if (forwarding_ && may_forward) {
    by_zone_[2]->Inc();
    return {Verdict::kForward, 0};
  }
  w.SetRcode(kRcodeRefused);
  CountRcode(kRcodeRefused);
  return {Verdict::kRespond, w.Finish(q, q.edns.present)};
}

size_t QueryPipeline::Refuse(const Query& q, bool tcp, uint8_t* out, size_t out_cap) const {
  ResponseWriter w(out, out_cap);
  w.Begin(q, true, ResponseLimit(q, tcp), q.edns.present ? OptSize(false) : 0);
  w.SetRcode(kRcodeRefused);
  CountRcode(kRcodeRefused);
  return w.Finish(q, q.edns.present);
}

size_t QueryPipeline::Truncated(const Query& q, uint8_t* out, size_t out_cap) const {
  ResponseWriter w(out, out_cap);
  w.Begin(q, true, ResponseLimit(q, false), q.edns.present ? OptSize(false) : 0);
  w.SetTc();
  return w.Finish(q, q.edns.present);
}

}  // namespace dnsd::dns
