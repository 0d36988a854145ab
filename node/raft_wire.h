// Raft messages on the wire between nodes (proto/raft_peer.proto). Decoding checks what the
// core relies on before a message reaches it: a known type, sender and receiver set, entries
// with indexes and terms, and sizes within bounds; anything else is kInvalidArgument (the
// transport counts and drops it).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/raft_types.h"
#include "raft_peer.pb.h"

namespace dnsd::node {

inline constexpr size_t kMaxRaftMessagesPerBatch = 4096;
inline constexpr size_t kMaxRaftEntriesPerMessage = 4096;

std::string EncodeRaftBatch(const std::vector<raft::Message>& messages);
absl::StatusOr<std::vector<raft::Message>> DecodeRaftBatch(std::string_view bytes);
dnsd::peer::RaftBatch ToRaftBatch(const std::vector<raft::Message>& messages);
absl::StatusOr<std::vector<raft::Message>> FromRaftBatch(const dnsd::peer::RaftBatch& batch);

}  // namespace dnsd::node
