// A small blocking HTTP/1.1 client for dnsd's own tools (the agent's login, dnsctl): one
// request per connection (`Connection: close`), the answer read until the server closes,
// over TLS when a CA is given (the certificate checked against it and against the address or
// name dialled). Not for serving paths: it blocks its thread for up to `timeout_ms`.
// Thread-safety: a pure function.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::common {

struct HttpClientRequest {
  std::string host;  // an IP address or a name (resolved with getaddrinfo)
  int port = 80;
  std::string method = "GET";
  std::string target = "/";  // path and query
  std::string body;          // sent as a form unless content_type says otherwise
  std::string content_type = "application/x-www-form-urlencoded";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string ca_pem;  // non-empty: HTTPS
  int timeout_ms = 5000;
};

struct HttpClientResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased
  std::string body;
};

// kUnavailable when the server cannot be reached or the answer is not HTTP; an HTTP error
// status is a response, not a failure.
absl::StatusOr<HttpClientResponse> SendHttpRequest(const HttpClientRequest& request);

}  // namespace dnsd::common
