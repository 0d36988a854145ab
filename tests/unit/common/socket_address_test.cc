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

}  // namespace
}  // namespace dnsd::common
