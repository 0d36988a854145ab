#include "agent/login.h"

#include <json/json.h>

#include <memory>

#include "api/http_types.h"
#include "common/http_client.h"
#include "common/socket_address.h"
#include "common/strings.h"

namespace dnsd::agent {

absl::StatusOr<LoginResult> LoginToServer(const std::string& host_port, const std::string& username,
                                          const std::string& password, const std::string& ca_pem,
                                          int timeout_ms) {
  auto address = common::SocketAddress::FromHostPort(host_port, 8848);
  if (!address.ok()) {
    return absl::UnavailableError(common::StrCat("login to ", host_port, ": not an address"));
  }
  common::HttpClientRequest request;
  request.host = address->ip();
  request.port = address->port();
  request.method = "POST";
  request.target = "/nacos/v1/auth/users/login";
  request.body =
      common::StrCat("username=", api::UrlEncode(username), "&password=", api::UrlEncode(password));
  request.ca_pem = ca_pem;
  request.timeout_ms = timeout_ms;
  auto answer = common::SendHttpRequest(request);
  if (!answer.ok()) {
    return absl::UnavailableError(
        common::StrCat("login to ", common::ToStd(answer.status().message())));
  }
  if (answer->status != 200) {
    return absl::PermissionDeniedError(
        common::StrCat("login to ", host_port, " refused: ", answer->status, " ", answer->body));
  }
  Json::Value parsed;
  Json::CharReaderBuilder builder;
  std::string errors;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  const std::string& body = answer->body;
  if (!reader->parse(body.data(), body.data() + body.size(), &parsed, &errors) ||
      !parsed.isObject() || !parsed["accessToken"].isString() || !parsed["tokenTtl"].isIntegral()) {
    return absl::UnavailableError(
        common::StrCat("login to ", host_port, ": the answer is not Nacos's login JSON"));
  }
  return LoginResult{parsed["accessToken"].asString(), parsed["tokenTtl"].asInt64()};
}

}  // namespace dnsd::agent
