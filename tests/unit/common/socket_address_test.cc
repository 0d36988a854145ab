#include "common/socket_address.h"

#include <gtest/gtest.h>

namespace dnsd::common {
namespace {

TEST(SocketAddressTest, ParsesHostPortForms) {
  EXPECT_EQ(SocketAddress::FromHostPort("10.0.0.1", 53)->ToString(), "10.0.0.1:53");
  EXPECT_EQ(SocketAddress::FromHostPort("10.0.0.1:5300", 53)->ToString(), "10.0.0.1:5300");
  EXPECT_EQ(SocketAddress::FromHostPort("::1", 53)->ToString(), "[::1]:53");
  EXPECT_EQ(SocketAddress::FromHostPort("[2001:db8::1]:853", 53)->ToString(), "[2001:db8::1]:853");
  EXPECT_FALSE(SocketAddress::FromHostPort("example.com", 53).ok());
  EXPECT_FALSE(SocketAddress::FromHostPort("10.0.0.1:0", 53).ok());
  EXPECT_FALSE(SocketAddress::FromHostPort("10.0.0.1:x", 53).ok());
  EXPECT_FALSE(SocketAddress::FromHostPort("[::1", 53).ok());
  EXPECT_FALSE(SocketAddress::FromIp("10.0.0.1", 70000).ok());
}

TEST(SocketAddressTest, SplitsHostPortWithoutResolving) {
  std::string host;
  int port = 0;
  ASSERT_TRUE(SplitHostPort("nacos-1.example:9848", 0, host, port).ok());
  EXPECT_EQ(host, "nacos-1.example");
  EXPECT_EQ(port, 9848);
  ASSERT_TRUE(SplitHostPort("[fd00::2]:9848", 0, host, port).ok());
  EXPECT_EQ(host, "fd00::2");
  EXPECT_EQ(port, 9848);
  ASSERT_TRUE(SplitHostPort("nacos-1.example", 0, host, port).ok());
  EXPECT_EQ(port, 0) << "no port: the default";
  EXPECT_FALSE(SplitHostPort("nacos-1.example:99999", 0, host, port).ok());
  EXPECT_FALSE(SplitHostPort("[fd00::2", 0, host, port).ok());
}

}  // namespace
}  // namespace dnsd::common
