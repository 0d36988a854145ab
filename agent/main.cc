// dnsd-agent: the DNS-F agent's own executable. `dnsd agent ...` checks its command line and
// then becomes this program (exec), so the sidecar maps neither grpc++ nor LevelDB nor the
// server's modules: a process that loads libgrpc pays ~2 MB of resident code even unused
// (issue 12's footprint budget is 20 MB).
//
// It takes the options `dnsd agent` takes, with or without the word "agent" in front of
// them: dnsd hands over its command line unchanged.
#include <signal.h>

#include <iostream>

#include "CLI/CLI.hpp"
#include "agent/agent.h"
#include "agent/agent_cli.h"
#include "common/logging.h"
#include "common/strings.h"
#include "dnsd/daemon_config.h"

namespace {

constexpr int kStartupError = 2;

int Fail(std::string_view message) {
  std::cerr << "dnsd agent: " << message << std::endl;
  return kStartupError;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dnsd agent: a DNS-F sidecar that follows a dnsd or Nacos cluster over gRPC"};
  std::string config_path, data_dir, log_level, dns_address, zones;
  int dns_port = -1, dns_workers = -1;
  app.add_option("-c,--config", config_path, "TOML configuration file (see dnsd.example.toml)");
  app.add_option("--data-dir", data_dir, "directory for the snapshot (default ./data)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical, off");
  app.add_option("--dns-address", dns_address, "DNS listen address (default 127.0.0.1)");
  app.add_option("--dns-port", dns_port, "DNS port, UDP and TCP (default 53; 0 picks a free port)")
      ->check(CLI::Range(0, 65535));
  app.add_option("--dns-workers", dns_workers, "DNS worker threads (0: one per core)")
      ->check(CLI::Range(0, 256));
  app.add_option("--zones", zones, "zone file or directory of *.zone files (default ./zones)");
  dnsd::agent::AgentFlags flags;
  dnsd::agent::AddAgentOptions(app, flags);
  // `dnsd agent --server ...` arrives as is: the word is accepted and its options fall through.
  app.add_subcommand("agent", "the same options")->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kStartupError;
  }

  dnsd::DaemonConfig config;
  if (!config_path.empty()) {
    if (auto s = dnsd::LoadConfigFile(config_path, config); !s.ok()) {
      return Fail(dnsd::common::ToStd(s.message()));
    }
  }
  if (!data_dir.empty()) config.data_dir = data_dir;
  if (!log_level.empty()) config.log_level = log_level;
  if (!dns_address.empty()) config.dns_address = dns_address;
  if (dns_port >= 0) config.dns_port = dns_port;
  if (dns_workers >= 0) config.dns_workers = dns_workers;
  if (!zones.empty()) config.dns_zones = zones;
  if (auto s = dnsd::ValidateConfig(config); !s.ok()) return Fail(dnsd::common::ToStd(s.message()));
  if (auto s = dnsd::common::SetupLogging(config.log_level); !s.ok()) {
    return Fail(std::string("server.log_level: ") + std::string(s.message()));
  }
  signal(SIGPIPE, SIG_IGN);
  const dnsd::agent::AgentConfig agent = dnsd::agent::ResolveAgentConfig(flags, config);
  return dnsd::agent::RunAgent(config, agent);
}
