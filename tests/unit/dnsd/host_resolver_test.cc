#include "dnsd/host_resolver.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dnsd/dns_wire.h"

namespace dnsd::dns {
namespace {

// A response to `id` for db.example. with the given answer records (raw bytes after the
// question), `flags` as in the header.
std::vector<uint8_t> Response(uint16_t id, uint16_t flags, uint16_t qtype, uint16_t answers,
                              const std::vector<uint8_t>& records) {
  std::vector<uint8_t> m = {static_cast<uint8_t>(id >> 8),
                            static_cast<uint8_t>(id),
                            static_cast<uint8_t>(flags >> 8),
                            static_cast<uint8_t>(flags),
                            0,
                            1,
                            0,
                            static_cast<uint8_t>(answers),
                            0,
                            0,
                            0,
                            0};
  const uint8_t name[] = {2, 'd', 'b', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};
  for (uint8_t b : name) m.push_back(b);
  for (uint8_t b :
       {static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), uint8_t{0}, uint8_t{1}}) {
    m.push_back(b);
  }
  for (uint8_t b : records) m.push_back(b);  // (GCC 12 warns falsely on insert() here)
  return m;
}

// A record owned by the question's name (pointer 0xC00C).
std::vector<uint8_t> Record(uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
  std::vector<uint8_t> r = {0xC0,
                            0x0C,
                            static_cast<uint8_t>(type >> 8),
                            static_cast<uint8_t>(type),
                            0,
                            1,
                            static_cast<uint8_t>(ttl >> 24),
                            static_cast<uint8_t>(ttl >> 16),
                            static_cast<uint8_t>(ttl >> 8),
                            static_cast<uint8_t>(ttl),
                            static_cast<uint8_t>(rdata.size() >> 8),
                            static_cast<uint8_t>(rdata.size())};
  for (uint8_t b : rdata) r.push_back(b);
  return r;
}

TEST(HostResolverTest, ParsesAddressesAndTheSmallestTtlOfAChain) {
  std::vector<uint8_t> records = Record(5, 30, {4, 'r', 'e', 'a', 'l', 0xC0, 0x0F});  // CNAME
  auto a1 = Record(kTypeA, 60, {10, 0, 0, 1});
  auto a2 = Record(kTypeA, 20, {10, 0, 0, 2});
  for (uint8_t b : a1) records.push_back(b);
  for (uint8_t b : a2) records.push_back(b);
  const auto msg = Response(7, 0x8180, kTypeA, 3, records);
  HostAddresses out;
  uint32_t ttl = UINT32_MAX;
  uint8_t rcode = 99;
  ASSERT_TRUE(HostResolver::ParseAnswer(msg.data(), msg.size(), 7, kTypeA, out, ttl, rcode));
  EXPECT_EQ(rcode, 0);
  EXPECT_EQ(ttl, 20u);
  ASSERT_EQ(out.v4.size(), 2u);
  EXPECT_EQ(out.v4[1][3], 2);
  EXPECT_TRUE(out.v6.empty());
}

TEST(HostResolverTest, RefusesWhatIsNotAnAnswerToOurQuery) {
  const auto a = Record(kTypeA, 60, {10, 0, 0, 1});
  HostAddresses out;
  uint32_t ttl = UINT32_MAX;
  uint8_t rcode = 0;
  auto good = Response(7, 0x8180, kTypeA, 1, a);
  EXPECT_FALSE(HostResolver::ParseAnswer(good.data(), good.size(), 8, kTypeA, out, ttl, rcode))
      << "another id";
  EXPECT_FALSE(HostResolver::ParseAnswer(good.data(), good.size(), 7, kTypeAAAA, out, ttl, rcode))
      << "another question type";
  auto query = Response(7, 0x0100, kTypeA, 1, a);
  EXPECT_FALSE(HostResolver::ParseAnswer(query.data(), query.size(), 7, kTypeA, out, ttl, rcode));
  auto truncated = Response(7, 0x8380, kTypeA, 1, a);
  EXPECT_FALSE(
      HostResolver::ParseAnswer(truncated.data(), truncated.size(), 7, kTypeA, out, ttl, rcode));
  for (size_t cut = 0; cut < good.size(); ++cut) {
    HostAddresses partial;
    EXPECT_FALSE(HostResolver::ParseAnswer(good.data(), cut, 7, kTypeA, partial, ttl, rcode))
        << cut;
  }
  auto lying_count = Response(7, 0x8180, kTypeA, 5, a);
  EXPECT_FALSE(HostResolver::ParseAnswer(lying_count.data(), lying_count.size(), 7, kTypeA, out,
                                         ttl, rcode));
  // A record of the asked type with a wrong length is skipped, not read past.
  auto odd = Response(7, 0x8180, kTypeA, 1, Record(kTypeA, 60, {10, 0, 0}));
  HostAddresses none;
  ASSERT_TRUE(HostResolver::ParseAnswer(odd.data(), odd.size(), 7, kTypeA, none, ttl, rcode));
  EXPECT_TRUE(none.v4.empty());
  auto nx = Response(7, 0x8183, kTypeA, 0, {});
  ASSERT_TRUE(HostResolver::ParseAnswer(nx.data(), nx.size(), 7, kTypeA, none, ttl, rcode));
  EXPECT_EQ(rcode, kRcodeNxDomain);
}

}  // namespace
}  // namespace dnsd::dns
