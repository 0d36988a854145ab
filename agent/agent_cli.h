// The agent's command line, shared by `dnsd agent` (which checks it, then hands the process
// over to the dnsd-agent executable) and dnsd-agent itself.
#pragma once

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"
#include "agent/agent.h"
#include "dnsd/daemon_config.h"

namespace dnsd::agent {

struct AgentFlags {
  std::string servers;   // comma separated
  std::string services;  // comma separated
  std::string namespace_id;
  int64_t status_port = -2;  // unset: agent.http_port
};

// The agent's own options (--server, --service, --namespace, --status-port) on `command`.
void AddAgentOptions(CLI::App& command, AgentFlags& flags);
// The flags over the configuration file's [agent] values; sets config.agent_http_port.
AgentConfig ResolveAgentConfig(const AgentFlags& flags, DaemonConfig& config);

}  // namespace dnsd::agent
