#include "node/log_entries.h"

#include "common/status_macros.h"
#include "common/strings.h"

namespace dnsd::node {

std::string NamingLogEntry(const registry::Command& command) {
  std::string entry(1, kNamingEntryTag);
  entry += registry::EncodeCommand(command);
  return entry;
}

std::string ConfigLogEntry(const config::ConfigCommand& command) {
  std::string entry(1, kConfigEntryTag);
  entry += config::EncodeConfigCommand(command);
  return entry;
}

std::string AuthLogEntry(const auth::AuthCommand& command) {
  std::string entry(1, kAuthEntryTag);
  entry += auth::EncodeAuthCommand(command);
  return entry;
}

absl::Status ApplyLogEntry(const StateMachines& machines, uint64_t index, std::string_view entry) {
  registry::Registry& registry = machines.registry;
  config::ConfigStore& config_store = machines.config;
  if (entry.empty()) return absl::InternalError("empty log entry");
  switch (entry.front()) {
    case kNamingEntryTag: {
      auto command = registry::DecodeCommand(entry.substr(1));
      // The registry lives in memory and is rebuilt from the whole log at every start; the
      // index is recorded first, so a storage failure leaves the registry untouched too.
      DNSD_RETURN_IF_ERROR(config_store.RecordApplied(index));
      if (!command.ok()) {
        return absl::InternalError(
            common::StrCat("log entry ", index, ": ", command.status().message()));
      }
      return registry.Apply(*command).status();
    }
    case kConfigEntryTag: {
      // The config store persists its state; at start-up the entries it already holds need
      // not even be decoded.
      if (index <= config_store.applied_index()) return absl::OkStatus();
      auto command = config::DecodeConfigCommand(entry.substr(1));
      if (!command.ok()) {
        DNSD_RETURN_IF_ERROR(config_store.RecordApplied(index));
        return absl::InternalError(
            common::StrCat("log entry ", index, ": ", command.status().message()));
      }
      return config_store.Apply(index, *command);
    }
    case kAuthEntryTag: {
      // Auth data lives in memory like the registry's durable part: rebuilt from the snapshot
      // and the log at every start.
      auto command = auth::DecodeAuthCommand(entry.substr(1));
      DNSD_RETURN_IF_ERROR(config_store.RecordApplied(index));
      if (!command.ok()) {
        return absl::InternalError(
            common::StrCat("log entry ", index, ": ", command.status().message()));
      }
      return machines.auth.Apply(*command);
    }
    default:
      DNSD_RETURN_IF_ERROR(config_store.RecordApplied(index));
      return absl::InternalError(
          common::StrCat("log entry ", index, " is for an unknown state machine"));
  }
}

}  // namespace dnsd::node
