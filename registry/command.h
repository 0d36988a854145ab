// Durable naming commands: everything about persistent instances and service definitions
// (namespaces belong to the config state machine, which naming shares). A Command is encoded to
// bytes, appended to the replicated log, and applied in log order by Registry::Apply on every
// replica, so applying the same bytes in the same order always gives the same state. The encoding
// is versioned; see command.cc for the layout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/byte_codec.h"
#include "registry/naming_model.h"

namespace dnsd::registry {

enum class CommandType : uint8_t {
  kRegisterInstance = 1,    // persistent instance, register or overwrite
  kDeregisterInstance = 2,  // persistent instance
  kUpdateInstance = 3,      // persistent instance, PUT/PATCH
  kCreateService = 4,
  kUpdateService = 5,
  kDeleteService = 6,
  kBatchMetadata = 7,  // add (or remove) metadata keys on persistent instances
  kSetHealth = 8,      // health of a persistent instance (the health API or a health check)
  kUpdateCluster = 9,  // define clusters of a service: meta.clusters holds them
};

struct Command {
  CommandType type = CommandType::kRegisterInstance;
  int64_t timestamp_ms = 0;  // stamped by the proposer so every replica agrees
  ServiceKey service;
  Instance instance;              // register; the address also names the target of update/health
  InstancePatch patch;            // update
  bool require_existing = false;  // update: fail if the instance is unknown
  ServiceMeta meta;               // create/update service
  std::vector<InstanceAddress> targets;  // batch metadata; empty means every instance
  Metadata metadata;                     // batch metadata
  bool remove_keys = false;              // batch metadata: delete the keys instead of setting them
  bool healthy = true;                   // set health
  HealthCause health_cause = HealthCause::kManual;  // set health: who says so
};

std::string EncodeCommand(const Command& command);
absl::StatusOr<Command> DecodeCommand(std::string_view bytes);

// One persistent instance alone (the registry snapshot's record under its service): address,
// id, weight, health and its cause, enabled, metadata. A command carries every field of every
// kind and the service's key: ~310 bytes for an instance this writes in ~60.
void PutInstanceRecord(common::ByteWriter& w, const Instance& instance);
absl::Status GetInstanceRecord(common::ByteReader& r, Instance& instance);

}  // namespace dnsd::registry
