// The replicated log carries the commands of two state machines: naming (durable registry
// commands) and config. An entry is one tag byte naming its state machine followed by that
// machine's command bytes; ApplyLogEntry is the driver's apply function for both.
// Thread-safety: pure functions, plus whatever the state machines' Apply guarantees (they are
// called from the driver thread only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "config/config_command.h"
#include "config/config_store.h"
#include "registry/command.h"
#include "registry/registry.h"

namespace dnsd::api {

inline constexpr char kNamingEntryTag = 'N';
inline constexpr char kConfigEntryTag = 'C';

std::string NamingLogEntry(const registry::Command& command);
std::string ConfigLogEntry(const config::ConfigCommand& command);

// Applies log entry `index`; returns the command's result (or kDataLoss for bytes that do not
// decode).
absl::Status ApplyLogEntry(registry::Registry& registry, config::ConfigStore& config_store,
                           uint64_t index, std::string_view entry);

}  // namespace dnsd::api
