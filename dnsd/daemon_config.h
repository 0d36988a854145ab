// DaemonConfig is everything `dnsd` reads at start-up: embedded defaults, then the TOML file
// (if any), then command-line flags. Loading is strict: an unknown key or a value of the
// wrong type or range is an error whose message names the key, so a typo never silently
// falls back to a default. Plain data; not shared across threads after start-up.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd {

struct DaemonConfig {
  // [server]
  std::string data_dir = "./data";
  std::string log_level = "info";
  std::string advertise_ip = "127.0.0.1";  // the address peers and /cluster/nodes report
  // [http]
  std::string http_address = "0.0.0.0";
  int http_port = 8848;
  int http_threads = 0;  // 0: one per core
  int64_t http_max_body_bytes = 12 << 20;
  // [naming]
  int64_t heartbeat_interval_ms = 5000;
  int64_t heartbeat_timeout_ms = 15000;
  int64_t ip_delete_timeout_ms = 30000;
  int64_t empty_service_ttl_ms = 60000;
  int64_t expiry_check_interval_ms = 1000;
};

// Parses TOML text (the file name is used in messages) over `config`.
absl::Status ApplyConfigToml(std::string_view text, std::string_view file_name,
                             DaemonConfig& config);
absl::Status LoadConfigFile(const std::string& path, DaemonConfig& config);
// Cross-field checks run after flags are applied.
absl::Status ValidateConfig(const DaemonConfig& config);

}  // namespace dnsd
