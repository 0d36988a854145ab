// libFuzzer target for what auth reads from a client: the access token (auth/jwt.h) and the
// request parameters the guard reads to decide what a request touches (RequiredAccess, for
// every route family and method). Properties checked beyond "no crash": the fuzzer does not
// know the key, so a token that verifies must be our own encoding of its claims (anything else
// would be a forgery or a second spelling), and a parameter set never yields a resource
// outside the naming and config types.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/auth_http_api.h"
#include "api/http_types.h"
#include "auth/jwt.h"

namespace {

const std::string kKey(32, 'k');
constexpr std::string_view kPaths[] = {
    "/nacos/v1/ns/instance",          "/nacos/v2/ns/instance/list",   "/nacos/v1/cs/configs",
    "/nacos/v1/cs/configs/listener",  "/nacos/v2/cs/config",          "/nacos/v1/auth/users",
    "/nacos/v1/ns/operator/switches", "/nacos/v1/console/namespaces", "/x"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  auto claims = dnsd::auth::VerifyToken(kKey, input, 1'700'000'000);
  if (claims.ok() && dnsd::auth::SignToken(kKey, *claims) != input) {
    // Only our own encoding of the claims carries our signature; anything else verifying
    // would mean a second spelling (or a forgery).
    std::abort();
  }

  if (size < 2) return 0;
  dnsd::api::HttpRequest request;
  request.path = std::string(kPaths[data[0] % std::size(kPaths)]);
  request.method = static_cast<dnsd::api::Method>(data[1] % 7);
  dnsd::api::ParseFormInto(input.substr(2), request.params);
  auto need = dnsd::api::RequiredAccess(request);
  if (need.ok()) {
    for (const auto& [resource, action] : need->resources) {
      if (resource.type != "naming" && resource.type != "config") std::abort();
    }
  }
  return 0;
}
