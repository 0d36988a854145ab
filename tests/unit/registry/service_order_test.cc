#include "registry/service_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace dnsd::registry {
namespace {

std::shared_ptr<const ServiceKey> Key(std::string ns, std::string group, std::string name) {
  return std::make_shared<const ServiceKey>(
      ServiceKey{std::move(ns), std::move(group), std::move(name)});
}

std::vector<std::string> Names(const ServiceOrder::Page& page) {
  std::vector<std::string> out;
  for (const auto& k : page.keys) out.push_back(k->name);
  return out;
}

TEST(ServiceOrderTest, EmptyIndexHasEmptyPages) {
  ServiceOrder order;
  const auto page = order.Range("public", std::string_view("DEFAULT_GROUP"), 0, 10);
  EXPECT_EQ(page.total, 0u);
  EXPECT_TRUE(page.keys.empty());
  EXPECT_EQ(order.Range("public", std::nullopt, 5, 10).total, 0u);
}

TEST(ServiceOrderTest, PagesWithinANamespaceAndGroup) {
  ServiceOrder order;
  for (const char* name : {"c", "a", "e", "b", "d"}) order.Insert(Key("public", "G", name));
  order.Insert(Key("public", "A_GROUP", "z"));
  order.Insert(Key("public", "Z_GROUP", "a"));
  order.Insert(Key("dev", "G", "x"));
  order.Insert(Key("zz", "G", "y"));
  const auto g = std::string_view("G");
  EXPECT_EQ(Names(order.Range("public", g, 0, 2)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Names(order.Range("public", g, 2, 2)), (std::vector<std::string>{"c", "d"}));
  // The last page is short; one past it is empty; a zero limit still counts.
  const auto last = order.Range("public", g, 4, 2);
  EXPECT_EQ(Names(last), (std::vector<std::string>{"e"}));
  EXPECT_EQ(last.total, 5u);
  EXPECT_TRUE(order.Range("public", g, 5, 2).keys.empty());
  EXPECT_TRUE(order.Range("public", g, SIZE_MAX, 2).keys.empty());
  EXPECT_EQ(order.Range("public", g, 0, 0).total, 5u);
  // A whole namespace in (group, name) order.
  EXPECT_EQ(Names(order.Range("public", std::nullopt, 0, 100)),
            (std::vector<std::string>{"z", "a", "b", "c", "d", "e", "a"}));
  EXPECT_EQ(order.Range("dev", std::nullopt, 0, 100).total, 1u);
  EXPECT_EQ(order.Range("nope", std::nullopt, 0, 100).total, 0u);
  EXPECT_EQ(order.Range("public", std::string_view("NO_GROUP"), 0, 100).total, 0u);
  // A namespace whose name is a prefix of another's is its own range.
  order.Insert(Key("publicity", "G", "q"));
  EXPECT_EQ(order.Range("public", std::nullopt, 0, 100).total, 7u);
}

TEST(ServiceOrderTest, DeletesBetweenPagesShiftLaterPages) {
  ServiceOrder order;
  for (int i = 0; i < 10; ++i)
    order.Insert(Key("ns", "g", std::string(1, static_cast<char>('a' + i))));
  const auto g = std::string_view("g");
  EXPECT_EQ(Names(order.Range("ns", g, 0, 3)), (std::vector<std::string>{"a", "b", "c"}));
  order.Erase(ServiceKey{"ns", "g", "b"});
  order.Erase(ServiceKey{"ns", "g", "e"});
  order.Erase(ServiceKey{"ns", "g", "missing"});  // unknown keys are ignored
  // Offset paging sees the list as it is now: page 2 starts at the 4th remaining name.
  EXPECT_EQ(Names(order.Range("ns", g, 3, 3)), (std::vector<std::string>{"f", "g", "h"}));
  EXPECT_EQ(order.Range("ns", g, 0, 0).total, 8u);
  EXPECT_EQ(order.size(), 8u);
}

TEST(ServiceOrderTest, AfterScansInBatchesThroughChanges) {
  ServiceOrder order;
  for (int i = 0; i < 1500; ++i) order.Insert(Key("ns", "g", "k" + std::to_string(10000 + i)));
  std::vector<std::string> seen;
  std::shared_ptr<const ServiceKey> resume;
  for (int batch = 0;; ++batch) {
    const auto keys = order.After(resume.get(), 100);
    if (keys.empty()) break;
    for (const auto& k : keys) seen.push_back(k->name);
    resume = keys.back();
    // Changes between batches: the resume key itself goes, a key behind the scan appears.
    if (batch == 3) {
      order.Erase(*resume);
      order.Insert(Key("ns", "g", "k0"));
    }
  }
  EXPECT_EQ(seen.size(), 1500u);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::find(seen.begin(), seen.end(), "k0"), seen.end()) << "behind the scan";
  EXPECT_TRUE(order.After(nullptr, 0).empty());
}

// Many keys (chunks split and merge) against a std::set, with random ranges.
TEST(ServiceOrderTest, MatchesASortedSetThroughSplitsAndMerges) {
  std::mt19937 random(7);
  ServiceOrder order;
  std::set<ServiceKey> reference;
  const std::vector<std::string> namespaces = {"a", "public", "z"};
  const std::vector<std::string> groups = {"DEFAULT_GROUP", "G1", "G2"};
  auto check = [&] {
    ASSERT_EQ(order.size(), reference.size());
    for (int round = 0; round < 50; ++round) {
      const std::string& ns = namespaces[random() % 3];
      const std::string& group = groups[random() % 3];
      std::vector<std::string> expected;
      for (const auto& k : reference) {
        if (k.namespace_id == ns && k.group == group) expected.push_back(k.name);
      }
      const size_t offset = random() % (expected.size() + 3);
      const size_t limit = random() % 700;
      const auto page = order.Range(ns, std::string_view(group), offset, limit);
      ASSERT_EQ(page.total, expected.size());
      std::vector<std::string> want;
      for (size_t i = offset; i < expected.size() && i < offset + limit; ++i)
        want.push_back(expected[i]);
      ASSERT_EQ(Names(page), want) << ns << " " << group << " " << offset << " " << limit;
    }
  };
  for (int i = 0; i < 20'000; ++i) {
    ServiceKey k{namespaces[random() % 3], groups[random() % 3],
                 "svc-" + std::to_string(random() % 100'000)};
    if (reference.insert(k).second) order.Insert(std::make_shared<const ServiceKey>(k));
  }
  check();
  // Remove most of them, in random order: chunks shrink and merge.
  std::vector<ServiceKey> all(reference.begin(), reference.end());
  std::shuffle(all.begin(), all.end(), random);
  for (size_t i = 0; i < all.size() * 9 / 10; ++i) {
    order.Erase(all[i]);
    reference.erase(all[i]);
  }
  check();
  for (const auto& k : all) {
    if (!reference.contains(k)) continue;
    order.Erase(k);
    reference.erase(k);
  }
  EXPECT_EQ(order.size(), 0u);
  EXPECT_EQ(order.Range("public", std::nullopt, 0, 10).total, 0u);
}

}  // namespace
}  // namespace dnsd::registry
