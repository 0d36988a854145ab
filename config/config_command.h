// ConfigCommand is one durable change to the config state machine. The API builds it (with
// the proposer's timestamp and the client's address, so applying it needs no clock), encodes
// it, the log makes it durable, and ConfigStore::Apply applies it in log order on every node.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/config_model.h"

namespace dnsd::config {

enum class ConfigCommandType : uint8_t {
  kPublish = 1,
  kRemove = 2,
  kCreateNamespace = 3,
  kUpdateNamespace = 4,
  kDeleteNamespace = 5,
  // Drops history rows older than trim_before_ms, oldest first, at most trim_max_rows of
  // them (config.history_retention_days; the proposer computes the cut-off from its clock, so
  // every replica drops the same rows).
  kTrimHistory = 6,
};

struct ConfigCommand {
  ConfigCommandType type = ConfigCommandType::kPublish;
  int64_t timestamp_ms = 0;
  std::string src_ip;
  std::string src_user;
  // kPublish / kRemove
  ConfigKey key;
  // kPublish: every attribute of the new version. An empty cas_md5 means unconditional;
  // otherwise the publish applies only if the current md5 equals it.
  ConfigItem item;
  std::string cas_md5;
  bool has_cas = false;
  // kCreateNamespace / kUpdateNamespace / kDeleteNamespace
  NamespaceInfo namespace_info;
  // kTrimHistory
  int64_t trim_before_ms = 0;
  uint32_t trim_max_rows = 0;
};

std::string EncodeConfigCommand(const ConfigCommand& command);
absl::StatusOr<ConfigCommand> DecodeConfigCommand(std::string_view bytes);

}  // namespace dnsd::config
