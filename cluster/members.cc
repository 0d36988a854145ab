#include "cluster/members.h"

#include <algorithm>
#include <set>

#include "common/socket_address.h"
#include "common/strings.h"

namespace dnsd::cluster {

std::string Member::address() const {
  if (ip.find(':') != std::string::npos) return common::StrCat("[", ip, "]:", http_port);
  return common::StrCat(ip, ":", http_port);
}

uint64_t Member::raft_id() const {
  // FNV-1a over "ip:port": stable across versions and list edits.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : address()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

absl::StatusOr<Member> ParseMember(std::string_view text) {
  text = common::Trim(text);
  if (text.empty()) return absl::InvalidArgumentError("empty member address");
  Member m;
  std::string_view host = text;
  std::string_view port;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(common::StrCat("'", text, "': unclosed '['"));
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(common::StrCat("'", text, "': junk after ']'"));
      }
      port = rest.substr(1);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  auto parsed = common::SocketAddress::FromIp(std::string(host), 0);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        common::StrCat("'", text, "' is not ip[:port] (a cluster member is an IP address)"));
  }
  m.ip = parsed->ip();
  if (!port.empty()) {
    int64_t p = 0;
    if (!common::ParseInt64(port, p) || p < 1 || p > 65535) {
      return absl::InvalidArgumentError(common::StrCat("'", text, "': bad port"));
    }
    m.http_port = static_cast<int>(p);
  }
  if (m.raft_port() < 1 || m.peer_port() > 65535) {
    return absl::InvalidArgumentError(common::StrCat(
        "'", text, "': port ", m.http_port, " leaves no room for the Raft port (port - 1000) ",
        "or the peer port (port + 1001)"));
  }
  return m;
}

absl::StatusOr<std::vector<Member>> ParseClusterConf(std::string_view text,
                                                     std::string_view file_name) {
  std::vector<Member> out;
  int line_no = 0;
  for (std::string_view line : common::Split(text, '\n')) {
    ++line_no;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::string normalized(line);
    for (char& c : normalized) {
      if (c == ',' || c == '\t' || c == '\r') c = ' ';
    }
    for (std::string_view item : common::Split(normalized, ' ')) {
      item = common::Trim(item);
      if (item.empty()) continue;
      auto member = ParseMember(item);
      if (!member.ok()) {
        return absl::InvalidArgumentError(
            common::StrCat(file_name, ":", line_no, ": ", member.status().message()));
      }
      out.push_back(*member);
    }
  }
  return out;
}

absl::StatusOr<Membership> BuildMembership(std::vector<Member> members, const Member& self) {
  if (members.empty()) members.push_back(self);
  std::sort(members.begin(), members.end(),
            [](const Member& a, const Member& b) { return a.address() < b.address(); });
  std::set<uint64_t> ids;
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0 && members[i] == members[i - 1]) {
      return absl::InvalidArgumentError(
          common::StrCat("cluster member ", members[i].address(), " is listed twice"));
    }
    if (!ids.insert(members[i].raft_id()).second) {
      return absl::InvalidArgumentError(
          common::StrCat("cluster members collide on a Raft id: ", members[i].address()));
    }
  }
  auto it = std::find(members.begin(), members.end(), self);
  if (it == members.end()) {
    std::string listed;
    for (const auto& m : members) listed += (listed.empty() ? "" : ", ") + m.address();
    return absl::InvalidArgumentError(common::StrCat(
        "this node (", self.address(), ", from --advertise-ip and the HTTP port) is not among ",
        "the cluster members (", listed, ")"));
  }
  Membership membership;
  membership.self = static_cast<size_t>(it - members.begin());
  membership.members = std::move(members);
  return membership;
}

}  // namespace dnsd::cluster
