// Cluster membership as Nacos lists it: a cluster.conf file (one `ip[:port]` per line, `#`
// starts a comment, the port defaults to 8848) or a list of the same strings from the TOML
// file. A member is an address and its HTTP port; its other ports derive from the HTTP port
// as in Nacos (client gRPC +1000, peer gRPC +1001, Raft -1000). Its Raft id is a hash of
// `ip:port`, so every node computes the same ids from the same list, and editing the list
// does not renumber the others.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::cluster {

inline constexpr int kDefaultHttpPort = 8848;
inline constexpr int kClientGrpcOffset = 1000;
inline constexpr int kPeerGrpcOffset = 1001;
inline constexpr int kRaftOffset = -1000;

struct Member {
  std::string ip;
  int http_port = kDefaultHttpPort;

  std::string address() const;  // "ip:port" (IPv6 in brackets)
  int grpc_port() const { return http_port + kClientGrpcOffset; }
  int peer_port() const { return http_port + kPeerGrpcOffset; }
  int raft_port() const { return http_port + kRaftOffset; }
  uint64_t raft_id() const;  // never 0
  bool operator==(const Member& other) const {
    return ip == other.ip && http_port == other.http_port;
  }
};

// One `ip[:port]` (or `[ipv6]:port`); every derived port must be a valid port.
absl::StatusOr<Member> ParseMember(std::string_view text);

// cluster.conf text; errors name the line. Entries may also be separated by commas or spaces
// on one line, as Nacos accepts.
absl::StatusOr<std::vector<Member>> ParseClusterConf(std::string_view text,
                                                     std::string_view file_name);

struct Membership {
  std::vector<Member> members;  // sorted by address
  size_t self = 0;              // index of this node in `members`
  const Member& self_member() const { return members[self]; }
  bool single_node() const { return members.size() == 1; }
};

// Checks the list (no duplicates, no two members with the same Raft id) and finds this node
// in it. An empty list is a one-node cluster of this node alone.
absl::StatusOr<Membership> BuildMembership(std::vector<Member> members, const Member& self);

}  // namespace dnsd::cluster
