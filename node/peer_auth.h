// How cluster members prove to each other that they hold the cluster key, on every call to a
// peer port (Raft, forwarded writes, Distro): the header `x-dnsd-peer-auth` carries
// "<unix seconds>.<hex HMAC-SHA256(key, "dnsd-peer|" + seconds)>", accepted within
// kPeerClockSkewS of the receiver's clock. The key itself never travels, and a value seen on the
// wire is useless after the window; a client's headers (User-Agent: Nacos-Server, a forged
// value) prove nothing. On networks where calls could be read or changed in flight, the peer
// port needs TLS on top (not built yet).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dnsd::node {

inline constexpr std::string_view kPeerAuthHeader = "x-dnsd-peer-auth";
inline constexpr int64_t kPeerClockSkewS = 300;

std::string PeerCredential(std::string_view cluster_key, int64_t now_s);
bool VerifyPeerCredential(std::string_view cluster_key, std::string_view value, int64_t now_s);

}  // namespace dnsd::node
