// Reading and writing Nacos gRPC Payloads (protocol reference §6.1): the message type is
// metadata.type, the body is JSON in Any.value, request headers are metadata.headers.
// Responses carry the common fields (resultCode, errorCode, message, success) plus their
// own; failures the client can act on are ErrorResponse or the expected response type with
// resultCode 500 and an errorCode.
//
// Thread-safety: pure functions.
#pragma once

#include <json/json.h>

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nacos_grpc_service.pb.h"

namespace dnsd::api {

// Nacos gRPC error codes (errorCode) used here.
enum GrpcErrorCode : int {
  kGrpcNotFound = 300,  // also "config data not exist" for ConfigQuery
  kGrpcUnregistered = 301,
  kGrpcNoHandler = 302,
  kGrpcInvalidParam = 400,
  kGrpcNoRight = 403,
  kGrpcServerError = 500,
  kGrpcUnparsable = 502,
};

struct GrpcRequest {
  std::string type;
  Json::Value body;  // an object
  std::map<std::string, std::string> headers;
  std::string client_ip;     // what the client says its address is
  std::string access_token;  // headers["accessToken"], passed on for authentication
  std::string principal;     // who the authorizer found the caller to be ("" with auth off)
  std::string request_id;    // body.requestId, echoed in acks
};

// Fails (kInvalidArgument) when the body is not a JSON object.
absl::StatusOr<GrpcRequest> ParsePayload(const Payload& payload);
Payload MakePayload(std::string_view type, std::string json, std::string_view server_ip);

// {"resultCode":200,"errorCode":0,"success":true<fields>} where `fields` is "" or
// ",\"key\":value,...".
std::string SuccessBody(std::string_view fields = "");
// The same shape for a failure of type `type` (resultCode 500).
std::string FailureBody(int error_code, std::string_view message, std::string_view fields = "");

// JSON accessors that never throw: a wrong type reads as the fallback.
std::string JsonString(const Json::Value& object, const char* key, std::string_view fallback = "");
bool JsonBool(const Json::Value& object, const char* key, bool fallback);
int64_t JsonInt(const Json::Value& object, const char* key, int64_t fallback);
double JsonDouble(const Json::Value& object, const char* key, double fallback);

}  // namespace dnsd::api
