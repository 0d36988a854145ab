// Proposer is the one door for durable writes: every API (HTTP v1/v2, gRPC) hands its log
// entry (node/log_entries.h) here and gets the state machine's result back once the entry is
// applied, or a failure that says the write was not made (or that its outcome is unknown).
//
// Implementation: RaftCluster (node/raft_cluster.h: the Raft leader proposes, a follower
// forwards to the leader; a single node is a group of one). Tests may implement it.
//
// Thread-safety: Propose() may be called from any thread; `done` runs on a driver or RPC
// thread and must only hand the result back to the caller's loop.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"

namespace dnsd::node {

class Proposer {
 public:
  using DoneFn = std::function<void(absl::Status)>;
  virtual ~Proposer() = default;
  virtual void Propose(std::string entry, DoneFn done) = 0;
  // Calls `done` (OK) once this node's state holds every write acknowledged, anywhere, before
  // the call: what a linearizable read waits for. An error when that cannot be known (no
  // quorum). In a cluster it is Raft's ReadIndex.
  virtual void Barrier(DoneFn done) = 0;
};

}  // namespace dnsd::node
