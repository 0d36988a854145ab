// The agent's on-disk snapshot (reference dns.md part D rule 4): the last known list of every
// followed service, so that an agent restarted while no server is reachable still answers
// (stale) at once.
//
// File: one header line `dnsd-agent-snapshot 1 <crc32 of the body, 8 hex> <body bytes>`, then
// a JSON body {"namespace", "written_ms", "services": [{"group", "name", "revision",
// "confirmed_ms", "hosts": [{"ip", "port", "weight", "healthy", "enabled", "cluster",
// "instanceId", "metadata"}]}]}. Written whole to `<path>.tmp`, fsynced, renamed over `path`
// and the directory fsynced: a crash leaves the old file or the new one, never a mix.
// A file that fails any check is refused whole with a message naming what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/service_follower.h"

namespace dnsd::agent {

struct Snapshot {
  std::string namespace_id;
  int64_t written_ms = 0;
  std::vector<SavedService> services;
};

std::string EncodeSnapshot(const Snapshot& snapshot);
absl::StatusOr<Snapshot> DecodeSnapshot(const std::string& bytes);

absl::Status WriteSnapshot(const std::string& path, const Snapshot& snapshot);
// kNotFound when there is no file; kDataLoss (naming the problem) when it is damaged.
absl::StatusOr<Snapshot> ReadSnapshot(const std::string& path);

}  // namespace dnsd::agent
