// RegistryZone::NamesOf, the names the console lists for a service: each name it lists answers
// (through the real query pipeline) exactly the types it claims, for the forms of dns.md part C
// (natural, .enc, per cluster, RFC 2782, compatibility suffix, bare names), without short names
// outside the default namespace and group, without a natural name on a case collision or for
// names that are not host names, and with the protect threshold's rule for unhealthy hosts.
// Also the static zones' summaries.
// clang-format off
#include <stdbool.h>
#include <ldns/ldns.h>
// clang-format on

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "dnsd/query_pipeline.h"
#include "dnsd/registry_zone.h"
#include "dnsd/static_zones.h"
#include "registry/registry.h"

namespace dnsd::dns {
namespace {

class ServiceNamesTest : public ::testing::Test {
 protected:
  ServiceNamesTest() : zone_(Options(), metrics_), pipeline_(zone_, metrics_) {
    registry_.AddListener([this](const registry::ServiceKey& key,
                                 const std::shared_ptr<const registry::ServiceView>& view) {
      zone_.OnServiceChanged(key, view);
    });
  }
  static RegistryZoneOptions Options() {
    RegistryZoneOptions options;
    options.compat_suffix = "nacos.";
    options.bare_names = true;
    return options;
  }
  struct Host {
    std::string ip;
    std::string cluster = "DEFAULT";
    bool healthy = true;
  };
  void Publish(const registry::ServiceKey& key, const std::vector<Host>& hosts) {
    std::vector<registry::Registry::Publication> pubs;
    for (const auto& h : hosts) {
      auto instance = std::make_shared<registry::Instance>();
      instance->address = {h.ip, 80, h.cluster};
      instance->healthy = h.healthy;
      pubs.push_back({key, std::move(instance), false});
    }
    registry_.ReplaceClient("client:" + key.namespace_id + key.group + key.name, std::move(pubs),
                            1);
  }
  // The types with records in the answer to (name, each of A, AAAA, SRV); the rcode must be
  // NOERROR for every name the zone lists.
  std::set<std::string> TypesAnswered(const std::string& name) {
    std::set<std::string> out;
    for (const ldns_rr_type type : {LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_SRV}) {
      ldns_pkt* query = nullptr;
      EXPECT_EQ(ldns_pkt_query_new_frm_str(&query, name.c_str(), type, LDNS_RR_CLASS_IN, LDNS_RD),
                LDNS_STATUS_OK);
      uint8_t* wire = nullptr;
      size_t size = 0;
      EXPECT_EQ(ldns_pkt2wire(&wire, query, &size), LDNS_STATUS_OK);
      ldns_pkt_free(query);
      Query q;
      const auto outcome = pipeline_.Process(wire, size, out_, sizeof(out_), false, true, q);
      free(wire);
      ldns_pkt* reply = nullptr;
      EXPECT_EQ(ldns_wire2pkt(&reply, out_, outcome.size), LDNS_STATUS_OK) << name;
      if (reply == nullptr) continue;
      EXPECT_EQ(ldns_pkt_get_rcode(reply), LDNS_RCODE_NOERROR) << name;
      ldns_rr_list* answer = ldns_pkt_answer(reply);
      for (size_t i = 0; i < ldns_rr_list_rr_count(answer); ++i) {
        if (ldns_rr_get_type(ldns_rr_list_rr(answer, i)) == type) {
          out.insert(type == LDNS_RR_TYPE_A ? "A" : type == LDNS_RR_TYPE_AAAA ? "AAAA" : "SRV");
        }
      }
      ldns_pkt_free(reply);
    }
    return out;
  }
  // The rcode of an A query for `name`.
  int Rcode(const std::string& name) {
    ldns_pkt* query = nullptr;
    EXPECT_EQ(
        ldns_pkt_query_new_frm_str(&query, name.c_str(), LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN, LDNS_RD),
        LDNS_STATUS_OK);
    uint8_t* wire = nullptr;
    size_t size = 0;
    EXPECT_EQ(ldns_pkt2wire(&wire, query, &size), LDNS_STATUS_OK);
    ldns_pkt_free(query);
    Query q;
    const auto outcome = pipeline_.Process(wire, size, out_, sizeof(out_), false, true, q);
    free(wire);
    ldns_pkt* reply = nullptr;
    EXPECT_EQ(ldns_wire2pkt(&reply, out_, outcome.size), LDNS_STATUS_OK) << name;
    if (reply == nullptr) return -1;
    const int rcode = ldns_pkt_get_rcode(reply);
    ldns_pkt_free(reply);
    return rcode;
  }
  void Remove(const registry::ServiceKey& key) {
    registry_.ReplaceClient("client:" + key.namespace_id + key.group + key.name, {}, 2);
    registry_.Tick(kLater);
  }
  // Every listed name answers exactly its listed types; returns name -> form.
  std::map<std::string, std::string> CheckedNames(const registry::ServiceKey& key,
                                                  bool* collides = nullptr) {
    std::map<std::string, std::string> forms;
    for (const auto& n : zone_.NamesOf(key, collides)) {
      EXPECT_EQ(TypesAnswered(n.name), std::set<std::string>(n.types.begin(), n.types.end()))
          << n.name;
      forms[n.name] = n.form;
    }
    return forms;
  }

  common::MetricsRegistry metrics_;
  static constexpr int64_t kLater = 1'000'000;  // past the empty-service TTL of every test
  registry::Registry registry_{registry::RegistryOptions{}};
  RegistryZone zone_;
  QueryPipeline pipeline_;
  uint8_t out_[4096];
};

TEST_F(ServiceNamesTest, DefaultNamespaceAndGroupHaveShortNamesAndEveryForm) {
  const registry::ServiceKey key{"public", "DEFAULT_GROUP", "Web"};
  Publish(key, {{"10.0.0.1", "east"}, {"2001:db8::1", "west"}});
  bool collides = true;
  const auto forms = CheckedNames(key, &collides);
  EXPECT_FALSE(collides);
  const std::map<std::string, std::string> expected = {
      {"web.svc.nacos.internal.", "natural"},
      {"web.svc.default-group.grp.public.ns.nacos.internal.", "natural"},
      {"_web._tcp.svc.nacos.internal.", "rfc2782"},
      {"_web._tcp.svc.default-group.grp.public.ns.nacos.internal.", "rfc2782"},
      {"web.nacos.", "compat"},
      {"web.default-group.nacos.", "compat"},
      {"web.", "bare"},
      {"atim4.enc.nacos.internal.", "encoded"},
      {"atim4.enc.default-group.grp.public.ns.nacos.internal.", "encoded"},
      {"web.svc.east.cl.default-group.grp.public.ns.nacos.internal.", "cluster"},
      {"web.svc.west.cl.default-group.grp.public.ns.nacos.internal.", "cluster"},
  };
  EXPECT_EQ(forms, expected);
  const auto names = zone_.NamesOf(key);
  EXPECT_EQ(names.front().types, (std::vector<std::string>{"A", "AAAA", "SRV"}));
}

TEST_F(ServiceNamesTest, OtherNamespacesAndGroupsHaveOnlyQualifiedNames) {
  const registry::ServiceKey key{"team-a", "orders", "api.v2"};
  Publish(key, {{"10.0.0.2"}});
  const auto forms = CheckedNames(key);
  for (const auto& [name, form] : forms) {
    EXPECT_NE(name.find(".orders.grp.team-a.ns.nacos.internal."), std::string::npos) << name;
  }
  EXPECT_TRUE(forms.contains("api.v2.svc.orders.grp.team-a.ns.nacos.internal."));
  // Two labels: no RFC 2782 owner (_api.v2._tcp is not one label) and no compatibility name.
  for (const auto& [name, form] : forms) EXPECT_TRUE(form != "rfc2782" && form != "compat");
}

TEST_F(ServiceNamesTest, CollisionsAndNonHostNamesLeaveOnlyEncodedNames) {
  const registry::ServiceKey upper{"public", "DEFAULT_GROUP", "Pay"};
  const registry::ServiceKey lower{"public", "DEFAULT_GROUP", "pay"};
  Publish(upper, {{"10.0.1.1"}});
  Publish(lower, {{"10.0.1.2"}});
  bool collides = false;
  auto forms = CheckedNames(upper, &collides);
  EXPECT_TRUE(collides);
  ASSERT_FALSE(forms.empty());
  for (const auto& [name, form] : forms) {
    EXPECT_TRUE(form == "encoded" || form == "cluster") << name;
    EXPECT_NE(name.find(".enc."), std::string::npos) << name;
  }
  const registry::ServiceKey dubbo{"public", "DEFAULT_GROUP", "providers:com.foo.Api:1.0.0:"};
  Publish(dubbo, {{"10.0.1.3"}});
  collides = true;
  forms = CheckedNames(dubbo, &collides);
  EXPECT_FALSE(collides) << "no natural name is not a collision";
  for (const auto& [name, form] : forms) EXPECT_NE(name.find(".enc."), std::string::npos) << name;
  // The collision over (the other service gone): the remaining one has its natural name back.
  registry_.ReplaceClient("client:publicDEFAULT_GROUPpay", {}, 2);
  registry_.Tick(kLater);
  EXPECT_TRUE(CheckedNames(upper).contains("pay.svc.nacos.internal."));
}

// A natural name can be a service's, an empty non-terminal of a dotted one ("api.pay" makes
// "pay" exist), and claimed by colliding services at once; it answers by the rules while any of
// them holds it (a collided name answers only as an empty non-terminal) and is gone (NXDOMAIN)
// when the last one goes, in any order.
TEST_F(ServiceNamesTest, NaturalNameSharedByCollisionsAndEmptyNonTerminals) {
  const registry::ServiceKey lower{"public", "DEFAULT_GROUP", "pay"};
  const registry::ServiceKey upper{"public", "DEFAULT_GROUP", "Pay"};
  const registry::ServiceKey dotted{"public", "DEFAULT_GROUP", "api.pay"};
  const std::string pay = "pay.svc.nacos.internal.";
  for (int order = 0; order < 3; ++order) {
    Publish(dotted, {{"10.0.3.1"}});
    EXPECT_EQ(Rcode(pay), LDNS_RCODE_NOERROR) << "an empty non-terminal";
    EXPECT_TRUE(TypesAnswered(pay).empty());
    Publish(lower, {{"10.0.3.2"}});
    EXPECT_EQ(TypesAnswered(pay), (std::set<std::string>{"A", "SRV"}));
    Publish(upper, {{"10.0.3.3"}});
    EXPECT_TRUE(TypesAnswered(pay).empty()) << "collided: only the .enc names answer";
    std::vector<registry::ServiceKey> removal = {dotted, lower, upper};
    std::rotate(removal.begin(), removal.begin() + order, removal.end());
    for (size_t i = 0; i < removal.size(); ++i) {
      Remove(removal[i]);
      const bool lower_left =
          std::find(removal.begin() + i + 1, removal.end(), lower) != removal.end();
      const bool upper_left =
          std::find(removal.begin() + i + 1, removal.end(), upper) != removal.end();
      const bool dotted_left =
          std::find(removal.begin() + i + 1, removal.end(), dotted) != removal.end();
      if (lower_left != upper_left) {
        // One claimant left: the name is its own again.
        EXPECT_EQ(TypesAnswered(pay), (std::set<std::string>{"A", "SRV"})) << order << i;
      } else if (dotted_left) {
        EXPECT_EQ(Rcode(pay), LDNS_RCODE_NOERROR) << order << i;
        EXPECT_TRUE(TypesAnswered(pay).empty()) << order << i;
      } else {
        // Collided (the name is no one's) or all gone.
        EXPECT_EQ(Rcode(pay), LDNS_RCODE_NXDOMAIN) << order << i;
      }
    }
  }
}

// A group's and a namespace's names, and the marker names above them, are empty
// non-terminals while any service of theirs is there (counted, so that adding or removing one
// of many services leaves them alone) and NXDOMAIN once the last one goes (RFC 8020).
TEST_F(ServiceNamesTest, GroupAndNamespaceNamesLastAsLongAsTheirServices) {
  const std::string group = "orders.grp.team-a.ns.nacos.internal.";
  const std::vector<std::string> namespace_names = {"team-a.ns.nacos.internal.",
                                                    "grp.team-a.ns.nacos.internal."};
  const std::string markers = "ns.nacos.internal.";
  std::vector<registry::ServiceKey> services;
  for (int i = 0; i < 3; ++i) services.push_back({"team-a", "orders", "s" + std::to_string(i)});
  const registry::ServiceKey other_group{"team-a", "billing", "b"};
  EXPECT_EQ(Rcode(group), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(Rcode(markers), LDNS_RCODE_NXDOMAIN);
  for (const auto& key : services) Publish(key, {{"10.0.4.1"}});
  Publish(other_group, {{"10.0.4.2"}});
  for (size_t i = 0; i < services.size(); ++i) {
    EXPECT_EQ(Rcode(group), LDNS_RCODE_NOERROR) << i;
    EXPECT_TRUE(TypesAnswered(group).empty()) << i;
    for (const auto& name : namespace_names) EXPECT_EQ(Rcode(name), LDNS_RCODE_NOERROR) << name;
    EXPECT_EQ(Rcode(markers), LDNS_RCODE_NOERROR) << i;
    Remove(services[i]);
  }
  EXPECT_EQ(Rcode(group), LDNS_RCODE_NXDOMAIN);
  for (const auto& name : namespace_names) {
    EXPECT_EQ(Rcode(name), LDNS_RCODE_NOERROR) << name << ": billing is still there";
  }
  EXPECT_EQ(TypesAnswered("b.svc.billing.grp.team-a.ns.nacos.internal."),
            (std::set<std::string>{"A", "SRV"}));
  Remove(other_group);
  for (const auto& name : namespace_names) EXPECT_EQ(Rcode(name), LDNS_RCODE_NXDOMAIN) << name;
  EXPECT_EQ(Rcode(markers), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(Rcode("grp.nacos.internal."), LDNS_RCODE_NXDOMAIN) << "nothing in the default one";
  Publish(services[0], {{"10.0.4.3"}});
  EXPECT_EQ(Rcode(group), LDNS_RCODE_NOERROR) << "back with a service";
  EXPECT_EQ(Rcode("grp.nacos.internal."), LDNS_RCODE_NXDOMAIN);
  Publish({"public", "DEFAULT_GROUP", "web"}, {{"10.0.4.4"}});
  EXPECT_EQ(Rcode("grp.nacos.internal."), LDNS_RCODE_NOERROR);
  EXPECT_EQ(Rcode("cl.nacos.internal."), LDNS_RCODE_NOERROR);
  EXPECT_EQ(Rcode("grp.orders.grp.team-a.ns.nacos.internal."), LDNS_RCODE_NXDOMAIN);
  EXPECT_EQ(Rcode("ns.team-a.ns.nacos.internal."), LDNS_RCODE_NXDOMAIN);
}

TEST_F(ServiceNamesTest, UnhealthyHostsCountOnlyUnderTheProtectThreshold) {
  const registry::ServiceKey key{"public", "DEFAULT_GROUP", "mixed"};
  // One healthy v4 host, one unhealthy v6 host: the v6 one is not answered (1/2 > 0).
  Publish(key, {{"10.0.2.1"}, {"2001:db8::2", "DEFAULT", false}});
  auto names = zone_.NamesOf(key);
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.front().types, (std::vector<std::string>{"A", "SRV"}));
  CheckedNames(key);
  // Nobody healthy: the threshold is reached and every enabled host is answered.
  Publish(key, {{"10.0.2.1", "DEFAULT", false}, {"2001:db8::2", "DEFAULT", false}});
  names = zone_.NamesOf(key);
  EXPECT_EQ(names.front().types, (std::vector<std::string>{"A", "AAAA", "SRV"}));
  CheckedNames(key);
}

TEST_F(ServiceNamesTest, UnknownAndDroppedServicesHaveNoNames) {
  EXPECT_TRUE(zone_.NamesOf({"public", "DEFAULT_GROUP", "absent"}).empty());
  const registry::ServiceKey key{"public", "DEFAULT_GROUP", "gone"};
  Publish(key, {{"10.0.3.1"}});
  EXPECT_FALSE(zone_.NamesOf(key).empty());
  EXPECT_EQ(zone_.service_count(), 1u);
  // Without instances the names stay (NODATA) until the empty service is dropped.
  registry_.ReplaceClient("client:publicDEFAULT_GROUPgone", {}, 2);
  const auto names = zone_.NamesOf(key);
  ASSERT_FALSE(names.empty());
  for (const auto& n : names) EXPECT_TRUE(n.types.empty()) << n.name;
  CheckedNames(key);
  registry_.Tick(kLater);
  EXPECT_TRUE(zone_.NamesOf(key).empty());
  EXPECT_EQ(zone_.service_count(), 0u);
}

TEST(StaticZoneSummaryTest, CountsNamesRecordsAndReadsTheSerial) {
  const auto dir = std::filesystem::temp_directory_path() / "dnsd-zone-summary-test";
  std::filesystem::create_directories(dir);
  const auto file = (dir / "a.zone").string();
  std::ofstream(file) << "$ORIGIN a.test.\n$TTL 60\n"
                         "@ IN SOA ns1.a.test. admin.a.test. 2026120301 3600 600 86400 60\n"
                         "  IN NS ns1.a.test.\nns1 IN A 127.0.0.1\n"
                         "www IN A 192.0.2.1\nwww IN A 192.0.2.2\n";
  StaticZones zones;
  EXPECT_TRUE(zones.Reload({file}).empty());
  const auto summaries = zones.Summaries();
  ASSERT_EQ(summaries.size(), 1u);
  EXPECT_EQ(summaries[0].zone, "a.test.");
  EXPECT_EQ(summaries[0].file, file);
  EXPECT_EQ(summaries[0].names, 3u);    // apex, ns1, www
  EXPECT_EQ(summaries[0].records, 5u);  // SOA, NS, A, 2 x A
  EXPECT_EQ(summaries[0].serial, 2026120301u);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnsd::dns
