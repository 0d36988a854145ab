#include "api/log_entries.h"

namespace dnsd::api {

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

absl::Status ApplyLogEntry(registry::Registry& registry, config::ConfigStore& config_store,
                           uint64_t index, std::string_view entry) {
  if (entry.empty()) return absl::DataLossError("empty log entry");
  switch (entry.front()) {
    case kNamingEntryTag: {
      auto command = registry::DecodeCommand(entry.substr(1));
      if (!command.ok()) return command.status();
      return registry.Apply(*command).status();
    }
    case kConfigEntryTag: {
      // The config store persists its state; at start-up the entries it already holds need
      // not even be decoded.
      if (index <= config_store.applied_index()) return absl::OkStatus();
      auto command = config::DecodeConfigCommand(entry.substr(1));
      if (!command.ok()) return command.status();
      return config_store.Apply(index, *command);
    }
    default:
      return absl::DataLossError("log entry for an unknown state machine");
  }
}

}  // namespace dnsd::api
