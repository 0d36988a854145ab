// SocketAddress: an IPv4 or IPv6 address and port in the form the socket calls take, parsed
// from text. Plain value; thread-safe to copy.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::common {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  std::string ip() const;
  std::string ToString() const;  // "ip:port", "[ipv6]:port"

  // An IP literal and a port.
  static absl::StatusOr<SocketAddress> FromIp(std::string_view ip, int port);
  // "ip", "ip:port" or "[ipv6]:port" (a bare IPv6 address takes `default_port`).
  static absl::StatusOr<SocketAddress> FromHostPort(std::string_view text, int default_port);
  // The address of a socket.
  static SocketAddress FromSockaddr(const sockaddr* addr, socklen_t length);
};

// Splits "host", "host:port" or "[ipv6]:port" (a bare IPv6 address takes `default_port`)
// without resolving: the host may be a name.
absl::Status SplitHostPort(std::string_view text, int default_port, std::string& host, int& port);

}  // namespace dnsd::common
