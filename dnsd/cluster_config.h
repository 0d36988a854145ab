// Which cluster this node belongs to, from the daemon configuration: `cluster.members` in
// the TOML file, or else a Nacos cluster.conf (`cluster.conf_file` / --cluster-conf). This
// node is `server.advertise_ip` + its HTTP port and must be listed (Nacos's rule); no
// members at all is a one-node cluster.
#pragma once

#include "absl/status/statusor.h"
#include "cluster/members.h"
#include "dnsd/daemon_config.h"

namespace dnsd {

absl::StatusOr<cluster::Membership> ResolveMembership(const DaemonConfig& config);

}  // namespace dnsd
