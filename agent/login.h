// The agent's login to a Nacos-auth server, as Nacos SDKs do it: POST
// /nacos/v1/auth/users/login on the server's HTTP port (its gRPC port − 1000) with the user
// name and password, over HTTPS when a CA is given (the server's certificate is checked
// against it and against the address). The answer's accessToken then rides in every gRPC
// request's headers until it is renewed.
// Thread-safety: a pure function (blocking, bounded by `timeout_ms`); called on the agent's
// client thread.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace dnsd::agent {

struct LoginResult {
  std::string access_token;
  int64_t ttl_s = 0;
};

// `host_port`: the server's HTTP address. `ca_pem`: empty for plain HTTP.
absl::StatusOr<LoginResult> LoginToServer(const std::string& host_port, const std::string& username,
                                          const std::string& password, const std::string& ca_pem,
                                          int timeout_ms);

}  // namespace dnsd::agent
