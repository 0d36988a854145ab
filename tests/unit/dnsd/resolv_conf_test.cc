#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dnsd/forwarder.h"

namespace dnsd::dns {
namespace {

TEST(ResolvConfTest, ReadsNameserversWithSpacesOrTabs) {
  const auto path = std::filesystem::temp_directory_path() / "dnsd-resolv-test.conf";
  {
    std::ofstream out(path);
    out << "# a comment\nsearch example.com\nnameserver 192.0.2.53\nnameserver\t2001:db8::53\n"
           "options ndots:2\n";
  }
  EXPECT_EQ(ReadResolvConf(path.string()),
            (std::vector<std::string>{"192.0.2.53", "2001:db8::53"}));
  std::filesystem::remove(path);
  EXPECT_TRUE(ReadResolvConf("/nonexistent/resolv.conf").empty());
}

}  // namespace
}  // namespace dnsd::dns
