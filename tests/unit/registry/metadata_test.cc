#include "registry/metadata.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>

namespace dnsd::registry {
namespace {

std::string Joined(const Metadata& m) {
  std::string out;
  for (const auto& [k, v] : m) out += k + "=" + v + ";";
  return out;
}

TEST(MetadataTest, KeepsKeysSortedAndUniqueLikeAMap) {
  Metadata m{{"b", "2"}, {"a", "1"}, {"b", "ignored"}};  // the first of a key wins, as std::map
  EXPECT_EQ(Joined(m), "a=1;b=2;");
  EXPECT_FALSE(m.emplace("a", "x").second);
  EXPECT_EQ(m.at("a"), "1");
  m["c"] = "3";
  m.insert_or_assign("a", "one");
  EXPECT_EQ(Joined(m), "a=one;b=2;c=3;");
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(m.contains("c"));
  EXPECT_EQ(m.count("d"), 0u);
  EXPECT_THROW(m.at("d"), std::out_of_range);
  std::map<std::string, std::string> unordered_source{{"z", "26"}, {"y", "25"}};
  Metadata from_range(unordered_source.begin(), unordered_source.end());
  EXPECT_EQ(Joined(from_range), "y=25;z=26;");
}

TEST(MetadataTest, EmptyAfterEraseAndCopiesAreIndependent) {
  Metadata empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.begin(), empty.end());
  EXPECT_EQ(empty.find("a"), empty.end());
  EXPECT_EQ(empty.erase("a"), 0u);
  Metadata m{{"a", "1"}};
  Metadata copy = m;
  copy["a"] = "changed";
  EXPECT_EQ(m.at("a"), "1");
  EXPECT_FALSE(m == copy);
  EXPECT_EQ(m.erase("a"), 1u);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m, Metadata());
  Metadata moved = std::move(copy);
  EXPECT_EQ(moved.at("a"), "changed");
}

}  // namespace
}  // namespace dnsd::registry
