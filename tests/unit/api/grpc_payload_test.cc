#include "api/grpc_payload.h"

#include <gtest/gtest.h>

namespace dnsd::api {
namespace {

TEST(GrpcPayload, ParsesTypeHeadersTokenAndBody) {
  Payload p = MakePayload("InstanceRequest", R"({"serviceName":"s","requestId":"7"})", "10.0.0.9");
  (*p.mutable_metadata()->mutable_headers())["accessToken"] = "jwt";
  auto r = ParsePayload(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->type, "InstanceRequest");
  EXPECT_EQ(r->client_ip, "10.0.0.9");
  EXPECT_EQ(r->access_token, "jwt");
  EXPECT_EQ(r->request_id, "7");
  EXPECT_EQ(JsonString(r->body, "serviceName"), "s");
}

TEST(GrpcPayload, RejectsBodiesThatAreNotObjects) {
  for (const char* body : {"{not json", "[1,2]", "\"text\"", "1"}) {
    EXPECT_FALSE(ParsePayload(MakePayload("X", body, "")).ok()) << body;
  }
  // An empty body is an empty object (some requests carry nothing).
  EXPECT_TRUE(ParsePayload(MakePayload("HealthCheckRequest", "", "")).ok());
}

TEST(GrpcPayload, LenientAccessorsNeverThrow) {
  Json::Value v;
  Json::Reader().parse(R"({"n":"12","b":"TRUE","d":"0.5","o":{},"i":3})", v);
  EXPECT_EQ(JsonInt(v, "n", 0), 12);
  EXPECT_EQ(JsonInt(v, "i", 0), 3);
  EXPECT_EQ(JsonInt(v, "o", -1), -1);
  EXPECT_TRUE(JsonBool(v, "b", false));
  EXPECT_DOUBLE_EQ(JsonDouble(v, "d", 0), 0.5);
  EXPECT_EQ(JsonString(v, "o", "fallback"), "fallback");
  EXPECT_EQ(JsonString(v, "missing"), "");
}

TEST(GrpcPayload, ResponseBodies) {
  EXPECT_EQ(SuccessBody(), R"({"resultCode":200,"errorCode":0,"success":true})");
  EXPECT_EQ(
      FailureBody(300, "config data not exist"),
      R"({"resultCode":500,"errorCode":300,"message":"config data not exist","success":false})");
}

}  // namespace
}  // namespace dnsd::api
