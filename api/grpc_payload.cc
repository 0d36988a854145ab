#include "api/grpc_payload.h"

#include <memory>

#include "api/json_writer.h"
#include "common/strings.h"

namespace dnsd::api {

absl::StatusOr<GrpcRequest> ParsePayload(const Payload& payload) {
  GrpcRequest request;
  request.type = payload.metadata().type();
  request.client_ip = payload.metadata().clientip();
  for (const auto& [k, v] : payload.metadata().headers()) request.headers.emplace(k, v);
  if (auto it = request.headers.find("accessToken"); it != request.headers.end()) {
    request.access_token = it->second;
  }
  const std::string& json = payload.body().value();
  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  builder["stackLimit"] = 64;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  std::string errors;
  if (json.empty()) {
    request.body = Json::Value(Json::objectValue);
  } else if (!reader->parse(json.data(), json.data() + json.size(), &request.body, &errors) ||
             !request.body.isObject()) {
    return absl::InvalidArgumentError(
        common::StrCat("the body of a ", request.type, " is not a JSON object: ", errors));
  }
  request.request_id = JsonString(request.body, "requestId");
  return request;
}

Payload MakePayload(std::string_view type, std::string json, std::string_view server_ip) {
  Payload payload;
  payload.mutable_metadata()->set_type(std::string(type));
  payload.mutable_metadata()->set_clientip(std::string(server_ip));
  payload.mutable_body()->set_value(std::move(json));
  return payload;
}

std::string SuccessBody(std::string_view fields) {
  return common::StrCat(R"({"resultCode":200,"errorCode":0,"success":true)", fields, "}");
}

std::string FailureBody(int error_code, std::string_view message, std::string_view fields) {
  std::string quoted;
  JsonWriter::AppendQuoted(quoted, message);
  return common::StrCat(R"({"resultCode":500,"errorCode":)", error_code, R"(,"message":)", quoted,
                        R"(,"success":false)", fields, "}");
}

std::string JsonString(const Json::Value& object, const char* key, std::string_view fallback) {
  const Json::Value& v = object[key];
  if (v.isString()) return v.asString();
  if (v.isNumeric() || v.isBool()) return v.asString();
  return std::string(fallback);
}

bool JsonBool(const Json::Value& object, const char* key, bool fallback) {
  const Json::Value& v = object[key];
  if (v.isBool()) return v.asBool();
  if (v.isString()) {
    if (common::EqualsIgnoreCase(v.asString(), "true")) return true;
    if (common::EqualsIgnoreCase(v.asString(), "false")) return false;
  }
  return fallback;
}

int64_t JsonInt(const Json::Value& object, const char* key, int64_t fallback) {
  const Json::Value& v = object[key];
  if (v.isInt64()) return v.asInt64();
  if (v.isString()) {
    int64_t out;
    if (common::ParseInt64(v.asString(), out)) return out;
  }
  return fallback;
}

double JsonDouble(const Json::Value& object, const char* key, double fallback) {
  const Json::Value& v = object[key];
  if (v.isNumeric()) return v.asDouble();
  if (v.isString()) {
    double out;
    if (common::ParseDouble(v.asString(), out)) return out;
  }
  return fallback;
}

}  // namespace dnsd::api
