#include "agent/agent_cli.h"

#include "absl/strings/str_split.h"

namespace dnsd::agent {

void AddAgentOptions(CLI::App& command, AgentFlags& flags) {
  command.add_option("--server", flags.servers,
                     "servers to follow: host:port of their gRPC ports, comma separated");
  command.add_option("--service", flags.services,
                     "services to follow: name or group@@name, comma separated");
  command.add_option("--namespace", flags.namespace_id,
                     "the namespace of those services (default public)");
  command
      .add_option("--status-port", flags.status_port,
                  "port of the agent's readiness, metrics and status page on 127.0.0.1 (default "
                  "8849; 0 picks a free port; -1 turns it off)")
      ->check(CLI::Range(-1, 65535));
}

AgentConfig ResolveAgentConfig(const AgentFlags& flags, DaemonConfig& config) {
  AgentConfig agent;
  if (flags.servers.empty()) agent.servers = config.agent_servers;
  if (flags.services.empty()) agent.services = config.agent_services;
  agent.namespace_id = flags.namespace_id.empty() ? config.agent_namespace : flags.namespace_id;
  if (flags.status_port >= -1) config.agent_http_port = flags.status_port;
  for (const auto& server : absl::StrSplit(flags.servers, ',', absl::SkipWhitespace())) {
    agent.servers.emplace_back(server);
  }
  for (const auto& service : absl::StrSplit(flags.services, ',', absl::SkipWhitespace())) {
    agent.services.emplace_back(service);
  }
  return agent;
}

}  // namespace dnsd::agent
