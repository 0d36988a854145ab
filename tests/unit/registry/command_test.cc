#include "registry/command.h"

#include <gtest/gtest.h>

namespace dnsd::registry {
namespace {

TEST(CommandTest, RoundTripsAllFields) {
  Command c;
  c.type = CommandType::kBatchMetadata;
  c.timestamp_ms = 1234;
  c.service = {"ns", "g", "svc"};
  c.instance.address = {"10.0.0.1", 80, "C1"};
  c.instance.weight = 2.5;
  c.instance.metadata = {{"a", "b"}};
  c.patch.weight = 3;
  c.patch.metadata = Metadata{{"k", "v"}};
  c.meta.protect_threshold = 0.4;
  c.meta.selector_json = R"({"type":"label","expression":"x"})";
  c.targets = {{"10.0.0.2", 81, "DEFAULT"}};
  c.metadata = {{"m", "n"}};
  c.remove_keys = true;
  auto decoded = DecodeCommand(EncodeCommand(c));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->type, c.type);
  EXPECT_EQ(decoded->timestamp_ms, 1234);
  EXPECT_EQ(decoded->service, c.service);
  EXPECT_EQ(decoded->instance.address, c.instance.address);
  EXPECT_EQ(decoded->instance.weight, 2.5);
  EXPECT_EQ(decoded->instance.metadata, c.instance.metadata);
  EXPECT_EQ(decoded->patch.weight, 3);
  EXPECT_FALSE(decoded->patch.enabled.has_value());
  EXPECT_EQ(decoded->patch.metadata, c.patch.metadata);
  EXPECT_EQ(decoded->meta.selector_json, c.meta.selector_json);
  EXPECT_EQ(decoded->targets, c.targets);
  EXPECT_EQ(decoded->metadata, c.metadata);
  EXPECT_TRUE(decoded->remove_keys);
}

TEST(CommandTest, CorruptBytesAreRejected) {
  Command c;
  c.service = {"public", "DEFAULT_GROUP", "s"};
  const std::string bytes = EncodeCommand(c);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeCommand(bytes.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodeCommand(bytes + "x").ok());
  std::string bad_version = bytes;
  bad_version[0] = 9;
  EXPECT_FALSE(DecodeCommand(bad_version).ok());
  std::string bad_type = bytes;
  bad_type[1] = 99;
  EXPECT_FALSE(DecodeCommand(bad_type).ok());
}

TEST(CommandTest, RoundTripsClustersAndHealthCauses) {
  Command c;
  c.type = CommandType::kUpdateCluster;
  c.service = {"ns", "g", "svc"};
  ClusterMeta http;
  http.checker = {HealthCheckType::kHttp, "/health", "X-A|1", 204};
  http.check_port = 9000;
  http.use_instance_port = false;
  http.metadata = {{"zone", "a"}};
  c.meta.clusters = {{"C1", http}, {"C2", ClusterMeta{}}};
  c.instance.health_cause = HealthCause::kCheckTimeout;
  c.health_cause = HealthCause::kCheckBadStatus;
  auto decoded = DecodeCommand(EncodeCommand(c));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->type, CommandType::kUpdateCluster);
  EXPECT_EQ(decoded->meta.clusters, c.meta.clusters);
  EXPECT_EQ(decoded->instance.health_cause, HealthCause::kCheckTimeout);
  EXPECT_EQ(decoded->health_cause, HealthCause::kCheckBadStatus);
}

// Entries written before clusters existed (version 1) still replay: same fields, no tail.
TEST(CommandTest, VersionOneEntriesStillDecode) {
  Command c;
  c.type = CommandType::kSetHealth;
  c.service = {"public", "DEFAULT_GROUP", "db"};
  c.instance.address = {"10.0.0.9", 5432, "DEFAULT"};
  c.healthy = false;
  std::string bytes = EncodeCommand(c);
  bytes.resize(bytes.size() - 6);  // the v2 tail: two causes and an empty cluster count
  bytes[0] = 1;
  auto decoded = DecodeCommand(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->type, CommandType::kSetHealth);
  EXPECT_FALSE(decoded->healthy);
  EXPECT_EQ(decoded->health_cause, HealthCause::kManual);
  EXPECT_TRUE(decoded->meta.clusters.empty());
}

TEST(CommandTest, UnknownHealthCauseOrCheckTypeIsRejected) {
  Command c;
  c.meta.clusters = {{"C", ClusterMeta{}}};
  const std::string bytes = EncodeCommand(c);
  // Layout tail: ..., instance cause, command cause, u32 count, name, checker type, ...
  const size_t name_start = bytes.size() - (4 + 1 + 1 + 4 + 4 + 4 + 4 + 1 + 4);
  std::string bad_cause = bytes;
  bad_cause[name_start - 4 - 1] = 42;
  EXPECT_FALSE(DecodeCommand(bad_cause).ok());
  std::string bad_type = bytes;
  bad_type[name_start + 4 + 1] = 7;
  EXPECT_FALSE(DecodeCommand(bad_type).ok());
}

}  // namespace
}  // namespace dnsd::registry
