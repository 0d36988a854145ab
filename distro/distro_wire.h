// Conversions between the registry's publications and the peer messages of dnsd.peer
// (proto/raft_peer.proto). Decoding validates what a peer sent: a malformed instance is an
// error for that client (counted by the caller), never a crash.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft_peer.pb.h"
#include "registry/registry.h"

namespace dnsd::distro {

void EncodeClient(const std::string& client_id, uint64_t revision,
                  const std::vector<registry::Registry::Publication>& publications,
                  dnsd::peer::DistroClient& out);
absl::StatusOr<std::vector<registry::Registry::Publication>> DecodeClient(
    const dnsd::peer::DistroClient& client);

}  // namespace dnsd::distro
