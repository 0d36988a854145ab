// The agent's hand-written Payload codec checked against protobuf's generated code, both
// ways, and against damaged input.
#include "agent/nacos_payload.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "nacos_grpc_service.pb.h"

namespace dnsd::agent {
namespace {

TEST(NacosPayloadTest, WhatWeEncodeProtobufReads) {
  NacosPayload ours{"SubscribeServiceRequest",
                    "10.1.2.3",
                    {{"accessToken", "tok"}, {"a", ""}},
                    R"({"serviceName":"web","x":"caf\u00e9"})"};
  ::Payload theirs;
  ASSERT_TRUE(theirs.ParseFromString(EncodePayload(ours)));
  EXPECT_EQ(theirs.metadata().type(), ours.type);
  EXPECT_EQ(theirs.metadata().clientip(), ours.client_ip);
  ASSERT_EQ(theirs.metadata().headers().size(), 2u);
  EXPECT_EQ(theirs.metadata().headers().at("accessToken"), "tok");
  EXPECT_EQ(theirs.metadata().headers().at("a"), "");
  EXPECT_EQ(theirs.body().value(), ours.body);

  // Empty fields are left out, as protobuf leaves out proto3 defaults.
  ::Payload empty;
  ASSERT_TRUE(empty.ParseFromString(EncodePayload({})));
  EXPECT_EQ(empty.metadata().type(), "");
  EXPECT_EQ(empty.body().value(), "");
}

TEST(NacosPayloadTest, WhatProtobufEncodesWeRead) {
  ::Payload theirs;
  theirs.mutable_metadata()->set_type("NotifySubscriberRequest");
  theirs.mutable_metadata()->set_clientip("192.0.2.9");
  (*theirs.mutable_metadata()->mutable_headers())["h1"] = "v1";
  (*theirs.mutable_metadata()->mutable_headers())["h2"] = std::string(300, 'v');
  theirs.mutable_body()->set_type_url("type.googleapis.com/whatever");
  theirs.mutable_body()->set_value(std::string(70000, 'j'));  // lengths of several bytes
  auto ours = DecodePayload(theirs.SerializeAsString());
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->type, "NotifySubscriberRequest");
  EXPECT_EQ(ours->client_ip, "192.0.2.9");
  ASSERT_EQ(ours->headers.size(), 2u);
  for (const auto& [k, v] : ours->headers) {
    EXPECT_EQ(v, theirs.metadata().headers().at(k));
  }
  EXPECT_EQ(ours->body, theirs.body().value());
}

TEST(NacosPayloadTest, UnknownFieldsAreSkippedAndRepeatsMerge) {
  std::string bytes;
  // Unknown fields of each wire type before, between and after the known ones.
  bytes += std::string("\x08\x96\x01", 3);                   // field 1, varint 150
  bytes += std::string("\x29", 1) + std::string(8, '\x01');  // field 5, fixed64
  bytes += std::string("\x35", 1) + std::string(4, '\x02');  // field 6, fixed32
  bytes += std::string("\x3a\x03xyz", 5);                    // field 7, bytes
  bytes += EncodePayload({"First", "1.1.1.1", {{"k", "old"}}, "{}"});
  bytes += EncodePayload({"Second", "", {{"k", "new"}}, ""});  // merges into the first
  auto decoded = DecodePayload(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ::Payload theirs;
  ASSERT_TRUE(theirs.ParseFromString(bytes));
  EXPECT_EQ(decoded->type, theirs.metadata().type());
  EXPECT_EQ(decoded->type, "Second");
  EXPECT_EQ(decoded->client_ip, theirs.metadata().clientip());
  EXPECT_EQ(decoded->client_ip, "1.1.1.1");
  ASSERT_EQ(decoded->headers.size(), 1u);
  EXPECT_EQ(decoded->headers[0].second, theirs.metadata().headers().at("k"));
  EXPECT_EQ(decoded->body, theirs.body().value());
}

TEST(NacosPayloadTest, DamageIsRefusedLikeProtobufDoesAndNeverCrashes) {
  const std::string good =
      EncodePayload({"HealthCheckResponse", "127.0.0.1", {{"a", "b"}}, R"({"resultCode":200})"});
  // Every truncation: we accept exactly what protobuf accepts.
  for (size_t n = 0; n < good.size(); ++n) {
    ::Payload theirs;
    const std::string cut = good.substr(0, n);
    EXPECT_EQ(DecodePayload(cut).ok(), theirs.ParseFromString(cut)) << "cut at " << n;
  }
  // Malformed on purpose: a varint over ten bytes, a length past the end, a known field with
  // the wrong wire type, field number 0, a group.
  for (const std::string& bad :
       {std::string(11, '\xff'), std::string("\x12\x7f", 2), std::string("\x10\x01", 2),
        std::string("\x00\x01", 2), std::string("\x13\x14", 2)}) {
    EXPECT_FALSE(DecodePayload(bad).ok()) << testing::PrintToString(bad);
  }
  // Random damage: an answer or a clear error, never a crash (the sanitizer run checks reads).
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string damaged = good;
    for (int j = 0; j < 3; ++j) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    auto decoded = DecodePayload(damaged);
    if (!decoded.ok()) {
      EXPECT_FALSE(decoded.status().message().empty());
    }
  }
}

}  // namespace
}  // namespace dnsd::agent
