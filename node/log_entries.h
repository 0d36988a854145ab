// The replicated log carries the commands of three state machines: naming (durable registry
// commands), config, and auth (users, roles, permissions). An entry is one tag byte naming its
// state machine followed by that machine's command bytes; ApplyLogEntry is the driver's apply
// function for both. Thread-safety: pure functions, plus whatever the state machines' Apply
// guarantees (they are called from the driver thread only).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "auth/auth_command.h"
#include "auth/auth_store.h"
#include "config/config_command.h"
#include "config/config_store.h"
#include "registry/command.h"
#include "registry/registry.h"

namespace dnsd::node {

inline constexpr char kNamingEntryTag = 'N';
inline constexpr char kConfigEntryTag = 'C';
inline constexpr char kAuthEntryTag = 'A';

// The state machines a log entry may address.
struct StateMachines {
  registry::Registry& registry;
  config::ConfigStore& config;
  auth::AuthStore& auth;
};

std::string NamingLogEntry(const registry::Command& command);
std::string ConfigLogEntry(const config::ConfigCommand& command);
std::string AuthLogEntry(const auth::AuthCommand& command);

// Applies log entry `index`; returns the command's result, kInternal for bytes that do not
// decode (a no-op, the same on every replay), or a storage failure of the config store
// (common::IsStorageFailure: nothing was applied, apply the same entry again later).
// Every entry advances the config store's applied index, which is how start-up sees a log
// that lost acknowledged entries.
absl::Status ApplyLogEntry(const StateMachines& machines, uint64_t index, std::string_view entry);

}  // namespace dnsd::node
