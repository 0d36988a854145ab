#include "cluster/members.h"

#include <gtest/gtest.h>

namespace dnsd::cluster {
namespace {

TEST(MembersTest, ParsesNacosClusterConf) {
  auto members = ParseClusterConf(
      "# three nodes\n127.0.0.1:8848\n127.0.0.2  # default port\n"
      "127.0.0.3:18848, [::1]:9000\r\n\n",
      "cluster.conf");
  ASSERT_TRUE(members.ok()) << members.status();
  ASSERT_EQ(members->size(), 4u);
  EXPECT_EQ((*members)[0].address(), "127.0.0.1:8848");
  EXPECT_EQ((*members)[1].http_port, 8848);
  EXPECT_EQ((*members)[2].http_port, 18848);
  EXPECT_EQ((*members)[3].address(), "[::1]:9000");
}

TEST(MembersTest, PortsDeriveTheNacosWay) {
  auto m = ParseMember("10.0.0.1:8848");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->grpc_port(), 9848);
  EXPECT_EQ(m->peer_port(), 9849);
  EXPECT_EQ(m->raft_port(), 7848);
}

TEST(MembersTest, BadEntriesNameTheLine) {
  auto bad = ParseClusterConf("127.0.0.1\nnot-an-ip:80\n", "cluster.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("cluster.conf:2"), std::string::npos)
      << bad.status();
  EXPECT_FALSE(ParseMember("127.0.0.1:0").ok());
  EXPECT_FALSE(ParseMember("127.0.0.1:70000").ok());
  EXPECT_FALSE(ParseMember("127.0.0.1:999").ok()) << "no room for the Raft port";
  EXPECT_FALSE(ParseMember("127.0.0.1:64600").ok()) << "no room for the peer port";
  EXPECT_FALSE(ParseMember("[::1").ok());
}

TEST(MembersTest, MembershipFindsThisNodeAndRefusesDuplicates) {
  const Member self{"127.0.0.2", 8848};
  auto list = ParseClusterConf("127.0.0.3\n127.0.0.1\n127.0.0.2\n", "c");
  ASSERT_TRUE(list.ok());
  auto membership = BuildMembership(*list, self);
  ASSERT_TRUE(membership.ok()) << membership.status();
  EXPECT_EQ(membership->self_member(), self);
  EXPECT_EQ(membership->members.front().ip, "127.0.0.1") << "sorted, so every node agrees";
  EXPECT_FALSE(membership->single_node());

  EXPECT_FALSE(BuildMembership({self, self}, self).ok());
  auto missing = BuildMembership({Member{"127.0.0.1", 8848}}, self);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("127.0.0.2:8848"), std::string::npos);

  auto alone = BuildMembership({}, self);
  ASSERT_TRUE(alone.ok());
  EXPECT_TRUE(alone->single_node());
}

TEST(MembersTest, RaftIdsAreStableAndDistinct) {
  const Member a{"127.0.0.1", 8848}, b{"127.0.0.1", 8849};
  EXPECT_EQ(a.raft_id(), Member({"127.0.0.1", 8848}).raft_id());
  EXPECT_NE(a.raft_id(), b.raft_id());
  EXPECT_NE(a.raft_id(), 0u);
}

}  // namespace
}  // namespace dnsd::cluster
