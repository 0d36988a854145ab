// Two kinds of state-machine failure that are not a command's result.
//
// A storage failure is a status that says "this state could not be written (disk full, I/O
// error); nothing changed, try the same thing again later", as opposed to the result of a
// command. State machines mark such statuses; the log driver retries them instead of handing
// them to a client as the command's answer.
//
// A damaged state is a state machine whose own files turned out unreadable while running:
// it cannot go on; the daemon stops and the next start rebuilds it from the log.
// Thread-safety: pure functions.
#pragma once

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"

namespace dnsd::common {

inline constexpr absl::string_view kStorageFailurePayload = "dnsd.storage-failure";

inline absl::Status StorageFailure(absl::string_view message) {
  absl::Status status = absl::UnavailableError(message);
  status.SetPayload(kStorageFailurePayload, absl::Cord("1"));
  return status;
}

inline bool IsStorageFailure(const absl::Status& status) {
  return status.GetPayload(kStorageFailurePayload).has_value();
}

inline constexpr absl::string_view kStateDamagedPayload = "dnsd.state-damaged";

inline absl::Status StateDamaged(absl::string_view message) {
  absl::Status status = absl::DataLossError(message);
  status.SetPayload(kStateDamagedPayload, absl::Cord("1"));
  return status;
}

inline bool IsStateDamaged(const absl::Status& status) {
  return status.GetPayload(kStateDamagedPayload).has_value();
}

}  // namespace dnsd::common
