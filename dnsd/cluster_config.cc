#include "dnsd/cluster_config.h"

#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace dnsd {

absl::StatusOr<cluster::Membership> ResolveMembership(const DaemonConfig& config) {
  std::vector<cluster::Member> members;
  if (!config.cluster_members.empty()) {
    for (const auto& text : config.cluster_members) {
      auto member = cluster::ParseMember(text);
      if (!member.ok()) {
        return absl::InvalidArgumentError(
            common::StrCat("cluster.members: ", common::ToStd(member.status().message())));
      }
      members.push_back(*member);
    }
  } else if (!config.cluster_conf_file.empty()) {
    std::ifstream in(config.cluster_conf_file);
    if (!in) {
      return absl::NotFoundError(
          common::StrCat("cannot read the cluster file ", config.cluster_conf_file));
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = cluster::ParseClusterConf(text.str(), config.cluster_conf_file);
    if (!parsed.ok()) return parsed.status();
    members = std::move(*parsed);
  }
  if (!members.empty() && config.http_port == 0) {
    return absl::InvalidArgumentError(
        "a cluster member needs a fixed HTTP port (http.port 0 picks a random one, which "
        "the other members cannot know)");
  }
  cluster::Member self;
  self.ip = config.advertise_ip;
  self.http_port = static_cast<int>(config.http_port);
  return cluster::BuildMembership(std::move(members), self);
}

}  // namespace dnsd
