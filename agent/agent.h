// RunAgent is `dnsd agent`: a sidecar resolver that follows a dnsd or Nacos 2.x cluster over
// gRPC (NacosClient) and answers DNS from memory through the same front end as the server
// (dns::DnsFrontEnd: static zones, the registry zone's names and answer rules, the forwarder).
// What the servers push replaces, per service, the agent's own in-memory registry, which
// feeds the registry zone exactly as the server's registry feeds its own.
//
// This step follows the services listed in `services` (`agent.services`, `--service`) from
// start; lazy subscription, freshness states, the snapshot and the HTTP endpoints come next
// (agent/README.md).
#pragma once

#include <string>
#include <vector>

#include "dnsd/daemon_config.h"

namespace dnsd::agent {

struct AgentConfig {
  std::vector<std::string> servers;  // "host:port" of the servers' gRPC ports (HTTP + 1000)
  std::string namespace_id = "public";
  std::vector<std::string> services;  // "name" or "group@@name"
};

// Runs until SIGTERM/SIGINT; returns the process exit status (2 for a start-up error).
int RunAgent(const DaemonConfig& config, const AgentConfig& agent);

}  // namespace dnsd::agent
