// IP networks ("10.0.0.0/8", "::1/128") for the DNS server's client lists: who may have names
// forwarded, who is exempt from response rate limiting.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

#include "absl/status/statusor.h"

namespace dnsd::dns {

struct Network {
  int family = AF_INET;
  uint8_t addr[16] = {};
  int prefix = 0;
};
absl::StatusOr<Network> ParseNetwork(const std::string& cidr);
// True when `client` (an AF_INET or AF_INET6 address) lies in `net`.
bool InNetwork(const Network& net, const sockaddr_storage& client);

}  // namespace dnsd::dns
