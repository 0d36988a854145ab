// The Nacos gRPC `Payload` message (proto/nacos_grpc_service.proto: metadata.type = 3,
// metadata.clientIp = 8, metadata.headers = 7, body = 3 as google.protobuf.Any whose value
// = 2 holds the JSON) in protobuf's wire format, written out by hand for the agent: linking
// libprotobuf for three small messages cost the sidecar ~1.8 MB of resident code (issue 12).
// The decoder follows protobuf's rules: unknown fields of every wire type are skipped, a
// repeated singular field keeps its last value, repeated embedded messages merge; anything
// truncated or malformed is refused. Tests check both directions against the generated code.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::agent {

struct NacosPayload {
  std::string type;       // metadata.type: the request or response class name
  std::string client_ip;  // metadata.clientIp
  std::vector<std::pair<std::string, std::string>> headers;  // metadata.headers
  std::string body;  // body.value: the JSON (body.type_url is neither sent nor kept)
};

std::string EncodePayload(const NacosPayload& payload);
// kInvalidArgument naming what is wrong.
absl::StatusOr<NacosPayload> DecodePayload(std::string_view bytes);

}  // namespace dnsd::agent
