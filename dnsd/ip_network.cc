#include "dnsd/ip_network.h"

#include <arpa/inet.h>

#include "common/strings.h"

namespace dnsd::dns {

absl::StatusOr<Network> ParseNetwork(const std::string& cidr) {
  Network net;
  const size_t slash = cidr.find('/');
  const std::string ip = cidr.substr(0, slash);
  if (inet_pton(AF_INET, ip.c_str(), net.addr) == 1) {
    net.family = AF_INET;
    net.prefix = 32;
  } else if (inet_pton(AF_INET6, ip.c_str(), net.addr) == 1) {
    net.family = AF_INET6;
    net.prefix = 128;
  } else {
    return absl::InvalidArgumentError(common::StrCat("'", cidr, "' is not an IP network"));
  }
  if (slash != std::string::npos) {
    int64_t prefix = -1;
    if (!common::ParseInt64(std::string_view(cidr).substr(slash + 1), prefix) || prefix < 0 ||
        prefix > net.prefix) {
      return absl::InvalidArgumentError(common::StrCat("'", cidr, "' has a bad prefix length"));
    }
    net.prefix = static_cast<int>(prefix);
  }
  return net;
}

bool InNetwork(const Network& net, const sockaddr_storage& ss) {
  const uint8_t* addr;
  if (ss.ss_family == AF_INET && net.family == AF_INET) {
    addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in&>(ss).sin_addr);
  } else if (ss.ss_family == AF_INET6 && net.family == AF_INET6) {
    addr = reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr.s6_addr;
  } else {
    return false;
  }
  int bits = net.prefix;
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    const uint8_t mask = bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits));
    if ((addr[i] & mask) != (net.addr[i] & mask)) return false;
  }
  return true;
}

}  // namespace dnsd::dns
