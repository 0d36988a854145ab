// What dnsctl asks a dnsd (or Nacos) server: HTTP calls to its Open API with the options every
// command shares (server, TLS CA, credentials), answers checked the same way: a transport
// failure, an HTTP error and a v2 envelope with a non-zero code are each turned into a
// Status naming the server's own message.
// Thread-safety: one client per thread.
#pragma once

#include <json/json.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::ctl {

struct ServerOptions {
  std::string server = "127.0.0.1:8848";  // host:port of the HTTP port
  std::string ca_file;                    // set: HTTPS, the server checked against this CA
  std::string token;                      // an access token, or
  std::string username;                   // a user who logs in first
  std::string password;
  int timeout_ms = 10'000;
};

using Params = std::vector<std::pair<std::string, std::string>>;

class NacosHttp {
 public:
  // kInvalidArgument for a malformed server address or an unreadable CA file.
  static absl::StatusOr<NacosHttp> Connect(const ServerOptions& options);

  // The raw answer body of a call that answered 200; kUnavailable when the server could not be
  // reached, kNotFound for 404, kPermissionDenied for 401/403, kFailedPrecondition otherwise,
  // each with the server's message.
  absl::StatusOr<std::string> Call(const std::string& method, const std::string& path,
                                   Params params, int timeout_ms = 0, Params headers = {});
  // A v2 call: the envelope's "data" when its code is 0.
  absl::StatusOr<Json::Value> CallV2(const std::string& method, const std::string& path,
                                     Params params);

 private:
  NacosHttp() = default;
  ServerOptions options_;
  std::string host_;
  int port_ = 0;
  std::string ca_pem_;
  std::string token_;  // after a login
};

absl::StatusOr<Json::Value> ParseJson(const std::string& text);
std::string ToJson(const Json::Value& value, bool pretty = true);

}  // namespace dnsd::ctl
