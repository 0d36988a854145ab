#include "ctl/nacos_http.h"

#include <memory>

#include "api/http_types.h"
#include "common/files.h"
#include "common/http_client.h"
#include "common/strings.h"

namespace dnsd::ctl {

absl::StatusOr<Json::Value> ParseJson(const std::string& text) {
  Json::Value value;
  Json::CharReaderBuilder builder;
  std::string errors;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  if (!reader->parse(text.data(), text.data() + text.size(), &value, &errors)) {
    return absl::FailedPreconditionError("the server's answer is not JSON: " + text.substr(0, 200));
  }
  return value;
}

std::string ToJson(const Json::Value& value, bool pretty) {
  Json::StreamWriterBuilder builder;
  builder["indentation"] = pretty ? "  " : "";
  return Json::writeString(builder, value);
}

absl::StatusOr<NacosHttp> NacosHttp::Connect(const ServerOptions& options) {
  NacosHttp client;
  client.options_ = options;
  const size_t colon = options.server.rfind(':');
  int64_t port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !common::ParseInt64(std::string_view(options.server).substr(colon + 1), port) || port <= 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        common::StrCat("--server ", options.server, ": expected host:port"));
  }
  client.host_ = options.server.substr(0, colon);
  if (client.host_.size() > 2 && client.host_.front() == '[') {
    client.host_ = client.host_.substr(1, client.host_.size() - 2);
  }
  client.port_ = static_cast<int>(port);
  if (!options.ca_file.empty()) {
    auto pem = common::ReadFileToString(options.ca_file, "--cacert");
    if (!pem.ok()) return pem.status();
    client.ca_pem_ = *std::move(pem);
  }
  client.token_ = options.token;
  return client;
}

absl::StatusOr<std::string> NacosHttp::Call(const std::string& method, const std::string& path,
                                            Params params, int timeout_ms, Params headers) {
  const bool logging_in = path == "/nacos/v1/auth/users/login";
  if (token_.empty() && !options_.username.empty() && !logging_in) {
    auto login = Call("POST", "/nacos/v1/auth/users/login",
                      {{"username", options_.username}, {"password", options_.password}});
    if (!login.ok()) return login.status();
    auto parsed = ParseJson(*login);
    if (!parsed.ok() || !(*parsed)["accessToken"].isString()) {
      return absl::FailedPreconditionError("the login answer has no accessToken");
    }
    token_ = (*parsed)["accessToken"].asString();
  }
  common::HttpClientRequest request;
  request.host = host_;
  request.port = port_;
  request.method = method;
  request.ca_pem = ca_pem_;
  request.timeout_ms = timeout_ms > 0 ? timeout_ms : options_.timeout_ms;
  if (!token_.empty()) request.headers.emplace_back("Authorization", "Bearer " + token_);
  for (auto& header : headers) request.headers.push_back(std::move(header));
  std::string query;
  for (const auto& [name, value] : params) {
    if (!query.empty()) query += '&';
    query += api::UrlEncode(name) + "=" + api::UrlEncode(value);
  }
  // Reads carry their parameters in the query, writes in a form body (as the SDKs do).
  if (method == "GET" || method == "DELETE") {
    request.target = query.empty() ? path : path + "?" + query;
  } else {
    request.target = path;
    request.body = query;
  }
  auto answer = common::SendHttpRequest(request);
  if (!answer.ok()) {
    return absl::UnavailableError(
        common::StrCat("cannot reach the server ", common::ToStd(answer.status().message())));
  }
  if (answer->status == 200) return answer->body;
  std::string message = answer->body;
  if (auto parsed = ParseJson(answer->body); parsed.ok() && parsed->isObject()) {
    // A v2 envelope: its message and data say what went wrong.
    const Json::Value& v = *parsed;
    message = v["message"].isString() ? v["message"].asString() : "";
    if (v["data"].isString()) message += (message.empty() ? "" : ": ") + v["data"].asString();
  }
  const std::string text = common::StrCat("HTTP ", answer->status, ": ", message);
  switch (answer->status) {
    case 404:
      return absl::NotFoundError(text);
    case 401:
    case 403:
      return absl::PermissionDeniedError(text);
    default:
      return absl::FailedPreconditionError(text);
  }
}

absl::StatusOr<Json::Value> NacosHttp::CallV2(const std::string& method, const std::string& path,
                                              Params params) {
  auto body = Call(method, path, std::move(params));
  if (!body.ok()) return body.status();
  auto parsed = ParseJson(*body);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->isObject() || !(*parsed)["code"].isIntegral()) {
    return absl::FailedPreconditionError("the answer is not a v2 envelope: " +
                                         body->substr(0, 200));
  }
  if ((*parsed)["code"].asInt() != 0) {
    return absl::FailedPreconditionError(
        common::StrCat("code ", (*parsed)["code"].asInt(), ": ", (*parsed)["message"].asString()));
  }
  return (*parsed)["data"];
}

}  // namespace dnsd::ctl
