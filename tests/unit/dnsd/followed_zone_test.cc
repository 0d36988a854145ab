// The registry zone and pipeline with a follower (the agent's rules, dns.md part D), driven by
// a scripted follower: stale answers carry EDE 3 and capped TTLs, expired ones are SERVFAIL +
// EDE 22, misses follow the follower's decision (wait, SERVFAIL + EDE 14/22, NXDOMAIN with
// EDE 19), and the follower is told the service each miss names, with its case.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/metrics.h"
#include "dnsd/query_pipeline.h"
#include "dnsd/registry_follower.h"
#include "dnsd/registry_zone.h"
#include "registry/registry.h"

namespace dnsd::dns {
namespace {

class ScriptedFollower final : public RegistryFollower {
 public:
  std::shared_ptr<ServiceFreshness> FreshnessOf(const registry::ServiceKey& key) override {
    auto& state = states[key.name];
    if (!state) state = std::make_shared<ServiceFreshness>();
    return state;
  }
  MissAction OnMiss(const ServiceGuess& guess, bool may_wait) override {
    misses.push_back(std::string(guess.namespace_label) + "/" + std::string(guess.group_label) +
                     "/" + std::string(guess.name));
    waited.push_back(!may_wait);
    if (on_miss) on_miss();
    return next;
  }
  uint32_t stale_ttl() const override { return 2; }

  std::map<std::string, std::shared_ptr<ServiceFreshness>> states;
  std::vector<std::string> misses;
  std::vector<bool> waited;
  MissAction next = MissAction::kNegative;
  std::function<void()> on_miss;  // runs inside OnMiss: data arriving during a miss
};

// A query in wire form, with an OPT record when `edns`.
std::vector<uint8_t> QueryBytes(const std::string& name, uint16_t type, bool edns = true) {
  std::vector<uint8_t> q = {0x12, 0x34, 0x01, 0x00, 0, 1,
                            0,    0,    0,    0,    0, edns ? uint8_t{1} : uint8_t{0}};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  q.push_back(static_cast<uint8_t>(type >> 8));
  q.push_back(static_cast<uint8_t>(type));
  q.push_back(0);
  q.push_back(1);
  if (edns) {
    const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
    q.insert(q.end(), opt, opt + sizeof(opt));
  }
  return q;
}

struct Answer {
  Verdict verdict = Verdict::kDrop;
  int rcode = -1;
  int ede = 0;
  int answers = 0;
  std::vector<uint32_t> ttls;  // of every record but the OPT
};

// Reads the response far enough for these tests.
Answer Read(const uint8_t* m, size_t size, Verdict verdict) {
  Answer a;
  a.verdict = verdict;
  if (verdict != Verdict::kRespond) return a;
  a.rcode = m[3] & 0xF;
  a.answers = Read16(m + 6);
  const int records = Read16(m + 6) + Read16(m + 8) + Read16(m + 10);
  size_t p = kHeaderSize;
  while (m[p] != 0) p += 1u + m[p];
  p += 5;
  for (int i = 0; i < records && p < size; ++i) {
    while (p < size) {
      if (m[p] == 0) {
        ++p;
        break;
      }
      if ((m[p] & 0xC0) == 0xC0) {
        p += 2;
        break;
      }
      p += 1u + m[p];
    }
    const uint16_t type = Read16(m + p);
    const uint16_t rdlen = Read16(m + p + 8);
    if (type == kTypeOPT) {
      if (rdlen >= 6 && Read16(m + p + 10) == 15) a.ede = Read16(m + p + 14);
    } else {
      a.ttls.push_back(Read32(m + p + 4));
    }
    p += 10u + rdlen;
  }
  return a;
}

class FollowedZoneTest : public ::testing::Test {
 protected:
  FollowedZoneTest() : zone_(Options(), metrics_), pipeline_(zone_, metrics_) {
    zone_.SetFollower(&follower_, metrics_);
    registry_.AddListener([this](const registry::ServiceKey& key,
                                 const std::shared_ptr<const registry::ServiceView>& view) {
      zone_.OnServiceChanged(key, view);
    });
  }
  static RegistryZoneOptions Options() {
    RegistryZoneOptions options;
    options.ttl = 30;
    options.compat_suffix = "nacos.";
    return options;
  }
  void Publish(const std::string& service, const std::vector<std::string>& ips) {
    std::vector<registry::Registry::Publication> pubs;
    const registry::ServiceKey key{"public", "DEFAULT_GROUP", service};
    for (const auto& ip : ips) {
      auto instance = std::make_shared<registry::Instance>();
      instance->address = {ip, 80, "DEFAULT"};
      pubs.push_back({key, std::move(instance), false});
    }
    registry_.ReplaceClient("agent:" + service, std::move(pubs), 1);
  }
  Answer Ask(const std::string& name, uint16_t type = kTypeA, bool may_wait = true) {
    const auto bytes = QueryBytes(name, type);
    Query q;
    auto outcome =
        pipeline_.Process(bytes.data(), bytes.size(), out_, sizeof(out_), false, true, q);
    if (!may_wait && outcome.verdict == Verdict::kWait) {
      outcome = pipeline_.Reanswer(q, out_, sizeof(out_), false, false);
    }
    return Read(out_, outcome.size, outcome.verdict);
  }

  common::MetricsRegistry metrics_;
  ScriptedFollower follower_;
  registry::Registry registry_{registry::RegistryOptions{}};
  RegistryZone zone_;
  QueryPipeline pipeline_;
  uint8_t out_[4096];
};

TEST_F(FollowedZoneTest, FreshAnswersAreUnchanged) {
  Publish("web", {"10.0.0.1", "10.0.0.2"});
  const Answer a = Ask("web.svc.nacos.internal");
  EXPECT_EQ(a.rcode, kRcodeNoError);
  EXPECT_EQ(a.answers, 2);
  EXPECT_EQ(a.ede, 0);
  EXPECT_EQ(a.ttls[0], 30u);
  EXPECT_TRUE(follower_.states["web"]->queried.load()) << "a hit marks the service used";
  EXPECT_TRUE(follower_.misses.empty());
}

TEST_F(FollowedZoneTest, StaleAnswersCarryEde3AndCappedTtls) {
  Publish("web", {"10.0.0.1"});
  follower_.states["web"]->state = Freshness::kStale;
  for (const std::string name :
       {"web.svc.nacos.internal", "web.nacos", "_web._tcp.svc.nacos.internal"}) {
    const Answer a = Ask(name, name[0] == '_' ? kTypeSRV : kTypeA);
    EXPECT_EQ(a.rcode, kRcodeNoError) << name;
    EXPECT_EQ(a.ede, kEdeStaleAnswer) << name;
    ASSERT_FALSE(a.ttls.empty()) << name;
    for (uint32_t ttl : a.ttls) EXPECT_LE(ttl, 2u) << name;
  }
  // NODATA of a stale service: its SOA's TTL is capped too.
  const Answer nodata = Ask("web.svc.nacos.internal", kTypeAAAA);
  EXPECT_EQ(nodata.rcode, kRcodeNoError);
  EXPECT_EQ(nodata.answers, 0);
  EXPECT_EQ(nodata.ede, kEdeStaleAnswer);
  for (uint32_t ttl : nodata.ttls) EXPECT_LE(ttl, 2u);
}

TEST_F(FollowedZoneTest, ExpiredDataIsServfailWithEde22) {
  Publish("web", {"10.0.0.1"});
  follower_.states["web"]->state = Freshness::kExpired;
  const Answer a = Ask("web.svc.nacos.internal");
  EXPECT_EQ(a.rcode, kRcodeServFail);
  EXPECT_EQ(a.answers, 0);
  EXPECT_EQ(a.ede, kEdeNoReachableAuthority);
  EXPECT_NE(metrics_.RenderPrometheus().find(
                "dnsd_dns_follower_answers_total{kind=\"servfail_no_authority\"} 1"),
            std::string::npos);
}

// The list arrives between the zone's lookup and the follower's answer (which then says the
// service has data): the data answers, not an NXDOMAIN, on every form of the name.
TEST_F(FollowedZoneTest, DataPublishedDuringAMissAnswers) {
  int published = 0;
  follower_.on_miss = [&] {
    if (published++ == 0) Publish("late", {"10.0.0.9"});
  };
  follower_.next = MissAction::kNegative;
  Answer a = Ask("late.svc.nacos.internal");
  EXPECT_EQ(a.rcode, kRcodeNoError);
  EXPECT_EQ(a.answers, 1);
  EXPECT_EQ(a.ede, 0);

  for (const auto& [service, name, type] :
       std::vector<std::tuple<std::string, std::string, uint16_t>>{
           {"compat", "compat.nacos", kTypeA}, {"rfc", "_rfc._tcp.svc.nacos.internal", kTypeSRV}}) {
    published = 0;
    follower_.on_miss = [&, service = service] {
      if (published++ == 0) Publish(service, {"10.0.0.10"});
    };
    a = Ask(name, type);
    EXPECT_EQ(a.rcode, kRcodeNoError) << name;
    EXPECT_EQ(a.answers, 1) << name;
  }
  // A stale negative with data that came meanwhile: the data, with the stale rules of the
  // entry (here fresh: no EDE 19 left behind).
  published = 0;
  follower_.next = MissAction::kStaleNegative;
  follower_.on_miss = [&] {
    if (published++ == 0) Publish("latest", {"10.0.0.11"});
  };
  a = Ask("latest.svc.nacos.internal");
  EXPECT_EQ(a.rcode, kRcodeNoError);
  EXPECT_EQ(a.answers, 1);
  EXPECT_EQ(a.ede, 0);
  // Without data arriving, the negative stands.
  follower_.on_miss = nullptr;
  follower_.next = MissAction::kNegative;
  EXPECT_EQ(Ask("never.svc.nacos.internal").rcode, kRcodeNxDomain);
}

TEST_F(FollowedZoneTest, MissesAskTheFollowerWithTheNameAsSent) {
  follower_.next = MissAction::kNegative;
  EXPECT_EQ(Ask("OrderService.svc.nacos.internal").rcode, kRcodeNxDomain);
  EXPECT_EQ(Ask("a.b.svc.G1.grp.nacos.internal").rcode, kRcodeNxDomain);
  EXPECT_EQ(Ask("_http._tcp.api.svc.nacos.internal", kTypeSRV).rcode, kRcodeNxDomain);
  EXPECT_EQ(Ask("_pay._tcp.svc.nacos.internal", kTypeSRV).rcode, kRcodeNxDomain);
  EXPECT_EQ(Ask("Compat.g2.nacos").rcode, kRcodeNxDomain);
  // "Orders" in base32hex: the exact name, case and all.
  EXPECT_EQ(Ask("9tp68pbiec.enc.nacos.internal").rcode, kRcodeNxDomain);
  EXPECT_EQ(Ask("web.svc.dev.ns.nacos.internal").rcode, kRcodeNxDomain);
  EXPECT_EQ(follower_.misses,
            (std::vector<std::string>{"public/default-group/OrderService", "public/g1/a.b",
                                      "public/default-group/api", "public/default-group/pay",
                                      "public/g2/Compat", "public/default-group/Orders",
                                      "dev/default-group/web"}));
  // Names that are not services never reach it.
  follower_.misses.clear();
  Ask("nacos.internal", kTypeSOA);
  Ask("0a000001.addr.nacos.internal");
  Ask("www.example.org");
  EXPECT_TRUE(follower_.misses.empty());
}

TEST_F(FollowedZoneTest, MissDecisions) {
  follower_.next = MissAction::kWait;
  EXPECT_EQ(Ask("new.svc.nacos.internal").verdict, Verdict::kWait);
  EXPECT_FALSE(follower_.waited.back());
  // Past its deadline the parked query is asked again, without waiting.
  const auto bytes = QueryBytes("new.svc.nacos.internal", kTypeA);
  Query q;
  pipeline_.Process(bytes.data(), bytes.size(), out_, sizeof(out_), false, true, q);
  follower_.next = MissAction::kNotReady;
  const auto outcome = pipeline_.Reanswer(q, out_, sizeof(out_), false, /*may_wait=*/false);
  Answer a = Read(out_, outcome.size, outcome.verdict);
  EXPECT_EQ(a.rcode, kRcodeServFail);
  EXPECT_EQ(a.ede, kEdeNotReady);
  EXPECT_TRUE(follower_.waited.back()) << "asked with may_wait false";
  follower_.next = MissAction::kNoAuthority;
  a = Ask("new.svc.nacos.internal");
  EXPECT_EQ(a.rcode, kRcodeServFail);
  EXPECT_EQ(a.ede, kEdeNoReachableAuthority);
  follower_.next = MissAction::kStaleNegative;
  a = Ask("new.svc.nacos.internal");
  EXPECT_EQ(a.rcode, kRcodeNxDomain);
  EXPECT_EQ(a.ede, kEdeStaleNxDomain);
  for (uint32_t ttl : a.ttls) EXPECT_LE(ttl, 2u);
}

TEST_F(FollowedZoneTest, AServiceArrivingWhileParkedIsAnsweredOnTheRetry) {
  follower_.next = MissAction::kWait;
  const auto bytes = QueryBytes("late.svc.nacos.internal", kTypeA);
  Query q;
  ASSERT_EQ(
      pipeline_.Process(bytes.data(), bytes.size(), out_, sizeof(out_), false, true, q).verdict,
      Verdict::kWait);
  Publish("late", {"10.9.9.9"});
  const auto outcome = pipeline_.Reanswer(q, out_, sizeof(out_), false, true);
  const Answer a = Read(out_, outcome.size, outcome.verdict);
  EXPECT_EQ(a.rcode, kRcodeNoError);
  EXPECT_EQ(a.answers, 1);
  EXPECT_EQ(Read16(out_), 0x1234) << "the answer carries the parked query's id";
}

}  // namespace
}  // namespace dnsd::dns
