#include "distro/hash_ring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace dnsd::distro {
namespace {

std::vector<std::string> Members(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back("10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":8848");
  return out;
}

std::vector<std::string> Clients(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    out.push_back("192.168." + std::to_string(i / 60000 % 256) + "." + std::to_string(i % 250) +
                  ":" + std::to_string(20000 + i % 40000) + "#true");
  }
  return out;
}

TEST(HashRingTest, EveryNodeComputesTheSameOwnerWhateverTheListOrder) {
  auto members = Members(5);
  HashRing a(members);
  std::reverse(members.begin(), members.end());
  members.push_back(members[0]);  // a duplicate changes nothing
  HashRing b(members);
  for (const auto& c : Clients(1000)) EXPECT_EQ(a.OwnerOf(c), b.OwnerOf(c));
  EXPECT_EQ(HashRing().OwnerOf("x"), "");
}

TEST(HashRingTest, LoadIsEvenAcrossAHundredMembers) {
  HashRing ring(Members(100));
  std::map<std::string, int> load;
  const auto clients = Clients(200'000);
  for (const auto& c : clients) ++load[ring.OwnerOf(c)];
  ASSERT_EQ(load.size(), 100u);
  int max = 0;
  for (const auto& [m, n] : load) max = std::max(max, n);
  const double mean = clients.size() / 100.0;
  std::printf("100 members, 200000 clients: max/mean load %.3f\n", max / mean);
  EXPECT_LT(max / mean, 1.35);
}

TEST(HashRingTest, AddingOrRemovingAMemberMovesAboutOneNth) {
  const auto clients = Clients(100'000);
  for (int n : {3, 10, 100}) {
    auto members = Members(n);
    HashRing before(members);
    auto fewer = members;
    fewer.erase(fewer.begin() + n / 2);
    HashRing after_remove(fewer);
    auto more = members;
    more.push_back("10.9.9.9:8848");
    HashRing after_add(more);
    int moved_remove = 0, moved_add = 0, moved_modulo = 0;
    for (const auto& c : clients) {
      const std::string& owner = before.OwnerOf(c);
      if (after_remove.OwnerOf(c) != owner) {
        ++moved_remove;
        // Only the removed member's clients move.
        EXPECT_EQ(owner, members[n / 2]);
      }
      if (after_add.OwnerOf(c) != owner) {
        ++moved_add;
        EXPECT_EQ(after_add.OwnerOf(c), "10.9.9.9:8848");  // only to the new member
      }
      const uint64_t h = HashRing::Hash(c);
      if (h % n != h % (n - 1)) ++moved_modulo;
    }
    const double share_remove = moved_remove / double(clients.size());
    const double share_add = moved_add / double(clients.size());
    std::printf(
        "%d members: remove one moves %.3f, add one moves %.3f (1/N = %.3f; hash %% N "
        "moves %.3f)\n",
        n, share_remove, share_add, 1.0 / n, moved_modulo / double(clients.size()));
    EXPECT_LT(share_remove, 1.6 / n);
    EXPECT_GT(share_remove, 0.5 / n);
    EXPECT_LT(share_add, 1.6 / (n + 1));
  }
}

}  // namespace
}  // namespace dnsd::distro
