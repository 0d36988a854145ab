// Values exchanged with the Raft core (raft_core.h): log entries, the state that must be
// persisted before a node speaks (hard state), and messages between peers. Plain data; the
// peer transport encodes messages (later, as protobuf).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::raft {

using NodeId = uint64_t;  // 0 means "none"

struct Entry {
  uint64_t term = 0;
  uint64_t index = 0;
  std::string data;  // empty: the no-op a new leader appends
  bool operator==(const Entry&) const = default;
};

// The cluster's configuration: who votes, who only receives the log (learners, which catch
// up before they are promoted), and what each member added at run time said about itself
// (its address, for the driver; the core does not read it).
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  std::map<NodeId, std::string> contexts;
  bool operator==(const ConfState&) const = default;
};

// A membership change, one node at a time (Raft thesis 4.1): it takes effect on every node as
// soon as the entry is in its log, committed or not, and the leader proposes the next one only
// after it committed.
// kSet is the first entry of a new cluster's log (its first leader writes it): the initial
// voters, so that a node that joins later and replays the log from index 1 knows them too.
enum class ConfChangeType : uint8_t { kAddLearner = 1, kPromote = 2, kRemove = 3, kSet = 4 };
struct ConfChange {
  ConfChangeType type = ConfChangeType::kAddLearner;
  NodeId node = 0;             // kSet: unused
  std::string context;         // kAddLearner: what the node says about itself (its address)
  std::vector<NodeId> voters;  // kSet
};

// An entry whose data starts with this byte is a membership change, the core's own; any other
// data belongs to the state machines (the daemon's entries start with a letter).
inline constexpr char kConfChangeMarker = '\0';
inline bool IsConfChange(std::string_view data) {
  return !data.empty() && data.front() == kConfChangeMarker;
}
std::string EncodeConfChange(const ConfChange& change);
absl::StatusOr<ConfChange> DecodeConfChange(std::string_view data);
// `conf` after `change`.
void ApplyConfChange(ConfState& conf, const ConfChange& change);

// The state machines' state after applying entry `index` (of term `term`), which replaces
// the log up to there (log compaction, paper section 7), and the configuration at that index.
struct Snapshot {
  uint64_t index = 0;
  uint64_t term = 0;
  std::shared_ptr<const std::string> data;
  ConfState conf;
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
  kTimeoutNow,         // leader transfer: campaign now, skipping pre-vote and the lease check
  kSnapshot,           // the leader's snapshot, for a follower that needs entries it compacted
  kReadIndex,          // a follower asks the leader for a read index (context identifies the read)
  kReadIndexResponse,  // the leader's answer: index, or reject
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
  // kSnapshot: the snapshot at (log_term, index), and the configuration there.
  std::shared_ptr<const std::string> snapshot;
  ConfState conf;
  // kReadIndex, kReadIndexResponse, and the heartbeats (and their answers) that confirm a read:
  // which read this is about.
  std::string context;
};

// A linearizable read may be served once the state machines have applied `index` (0: the read
// failed, e.g. leadership was lost; try again).
struct ReadState {
  std::string context;
  uint64_t index = 0;
};

}  // namespace dnsd::raft
