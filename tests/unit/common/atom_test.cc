#include "common/atom.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace dnsd::common {
namespace {

TEST(AtomTest, EqualTextsAreOneTextAndOrderLikeStrings) {
  Atom a("zone-a"), b(std::string("zone-a")), c("zone-b");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.data(), b.data());  // one text, not two copies
  EXPECT_NE(a, c);
  EXPECT_LT(a, c);
  EXPECT_EQ(a, "zone-a");
  EXPECT_EQ(a, std::string("zone-a"));
  EXPECT_EQ(std::string_view(c), "zone-b");
  EXPECT_TRUE(Atom().empty());
  EXPECT_EQ(Atom(""), Atom());
  EXPECT_EQ(Atom("DEFAULT").str(), "DEFAULT");
}

TEST(AtomTest, ATextLeavesTheTableWithItsLastAtom) {
  const size_t before = Atom::InternedCount();
  {
    Atom a("only-here-1");
    Atom copy = a;
    Atom moved = std::move(copy);
    EXPECT_TRUE(copy.empty());  // a moved-from Atom is the empty string
    EXPECT_EQ(Atom::InternedCount(), before + 1);
    a = Atom("only-here-2");
    EXPECT_EQ(Atom::InternedCount(), before + 2);
    moved.clear();
    EXPECT_EQ(Atom::InternedCount(), before + 1);  // "only-here-1" had no Atom left
  }
  EXPECT_EQ(Atom::InternedCount(), before);
  // Built-in texts are never in the table.
  Atom d("DEFAULT"), e("");
  EXPECT_EQ(Atom::InternedCount(), before);
}

TEST(AtomTest, ThreadsMakingAndDroppingTheSameTextsAgree) {
  const size_t before = Atom::InternedCount();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < 20000; ++i) {
        Atom a("shared-" + std::to_string(i % 7));
        Atom b = a;
        ASSERT_EQ(a.str(), "shared-" + std::to_string(i % 7));
        if ((i + t) % 3 == 0) b = Atom("shared-" + std::to_string((i + 1) % 7));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(Atom::InternedCount(), before);
}

}  // namespace
}  // namespace dnsd::common
