#include "node/peer_auth.h"

#include <cstdlib>

#include "common/crypto.h"
#include "common/strings.h"

namespace dnsd::node {

std::string PeerCredential(std::string_view cluster_key, int64_t now_s) {
  const std::string seconds = std::to_string(now_s);
  return common::StrCat(
      seconds, ".",
      common::HexLower(common::HmacSha256(cluster_key, common::StrCat("dnsd-peer|", seconds))));
}

bool VerifyPeerCredential(std::string_view cluster_key, std::string_view value, int64_t now_s) {
  const size_t dot = value.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 12) return false;
  int64_t seconds = 0;
  for (char c : value.substr(0, dot)) {
    if (c < '0' || c > '9') return false;
    seconds = seconds * 10 + (c - '0');
  }
  if (std::llabs(seconds - now_s) > kPeerClockSkewS) return false;
  return common::ConstantTimeEquals(value, PeerCredential(cluster_key, seconds));
}

}  // namespace dnsd::node
