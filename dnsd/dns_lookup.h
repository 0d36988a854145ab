// One DNS question asked of a server the way dig asks it (RD set, EDNS with a 1232-byte
// buffer, UDP or TCP), its answer described as JSON: status (rcode name), authoritative,
// answer / authority / additional records ({name, ttl, class, type, data}) and the Extended
// DNS Errors (RFC 8914: {code, text}). dnsctl's `lookup` and the console's DNS page both use
// it, so each shows exactly what dnsd answered on the wire.
// Thread-safety: a pure function; blocks its thread for up to `timeout_ms`.
#pragma once

#include <json/json.h>

#include <string>

#include "absl/status/statusor.h"

namespace dnsd::dns {

struct LookupRequest {
  std::string server_ip = "127.0.0.1";
  int port = 53;
  std::string name;
  std::string type = "A";
  bool tcp = false;
  int timeout_ms = 3000;
};

// kInvalidArgument for a bad name, type or address; kUnavailable when no answer came.
absl::StatusOr<Json::Value> LookupJson(const LookupRequest& request);

}  // namespace dnsd::dns
