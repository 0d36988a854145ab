// Raft messages on the wire between nodes (proto/raft_peer.proto). Decoding checks what the
// core relies on before a message reaches it: a known type, sender and receiver set, entries
// with indexes and terms, and sizes within bounds; anything else is kInvalidArgument (the
// transport counts and drops it).
// Thread-safety: pure functions.
#pragma once

#include <optional>
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

// Snapshots travel in chunks, so that no call outgrows the peer port's message limit: a
// snapshot larger than `chunk_bytes` becomes several SNAPSHOT messages with the same header,
// each with a piece of the data; any other message is one message.
std::vector<dnsd::peer::RaftMessage> ToWireMessages(const raft::Message& message,
                                                    size_t chunk_bytes);
inline constexpr uint64_t kMaxSnapshotBytes = uint64_t{1} << 32;  // 4 GiB

// Puts a sender's snapshot chunks back together. Chunks come in order (one call in flight per
// peer); a chunk that does not continue the snapshot being assembled starts over or is
// dropped (Raft sends the snapshot again). Memory: one snapshot per sender.
class SnapshotAssembler {
 public:
  // A whole SNAPSHOT message once `chunk` completes one, nullopt while incomplete; an error
  // for a chunk that cannot be part of any snapshot (sizes out of bounds).
  absl::StatusOr<std::optional<dnsd::peer::RaftMessage>> Add(dnsd::peer::RaftMessage chunk);

 private:
  std::optional<dnsd::peer::RaftMessage> partial_;
};

}  // namespace dnsd::node
