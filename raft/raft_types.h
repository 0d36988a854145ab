// Values exchanged with the Raft core (raft_core.h): log entries, the state that must be
// persisted before a node speaks (hard state), and messages between peers. Plain data; the
// peer transport encodes messages (later, as protobuf).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace dnsd::raft {

using NodeId = uint64_t;  // 0 means "none"

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  std::string data;  // empty: the no-op a new leader appends
  bool operator==(const Entry&) const = default;
};

// The state machines' state after applying entry `index` (of term `term`), which replaces
// the log up to there (log compaction, paper section 7).
struct Snapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  std::shared_ptr<const std::string> data;
};

// Persisted before any message that depends on it is sent (Raft paper, figure 2).
struct HardState {
  uint64_t term = 0;
  NodeId vote = 0;
  uint64_t commit = 0;
  bool operator==(const HardState&) const = default;
};

enum class MessageType {
  kPreVote,  // would you vote for me at term+1? (changes no state; Raft thesis 9.6)
  kPreVoteResponse,
  kVote,
  kVoteResponse,
  kAppend,  // entries after (log_term, index), with the leader's commit
  kAppendResponse,
  kHeartbeat,  // commit only
  kHeartbeatResponse,
  kTimeoutNow,  // leader transfer: campaign now, skipping pre-vote and the lease check
  kSnapshot,    // the leader's snapshot, for a follower that needs entries it compacted
};

const char* MessageTypeName(MessageType type);

struct Message {
  MessageType type = MessageType::kHeartbeat;
  NodeId from = 0;
  NodeId to = 0;
  uint64_t term = 0;
  // kAppend: the entry before `entries`. kVote/kPreVote: the candidate's last entry.
  // kAppendResponse: the last index now matching (accept) or the rejected index (reject).
  uint64_t log_term = 0;
  uint64_t index = 0;
  std::vector<Entry> entries;
  uint64_t commit = 0;
  bool reject = false;
  // Rejected append: the follower's guess where the logs may agree (fast backtracking).
  uint64_t reject_hint = 0;
  uint64_t reject_hint_term = 0;
  // kVote sent because of a leader transfer: bypasses the receivers' leader lease.
  bool transfer = false;
  // kSnapshot: the snapshot at (log_term, index).
  std::shared_ptr<const std::string> snapshot;
};

}  // namespace dnsd::raft
