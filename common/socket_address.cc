#include "common/socket_address.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "common/strings.h"

namespace dnsd::common {

int SocketAddress::port() const {
  return ntohs(storage.ss_family == AF_INET
                   ? reinterpret_cast<const sockaddr_in&>(storage).sin_port
                   : reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage).sin_addr, buf, sizeof(buf));
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

std::string SocketAddress::ToString() const {
  return family() == AF_INET6 ? StrCat("[", ip(), "]:", port()) : StrCat(ip(), ":", port());
}

absl::StatusOr<SocketAddress> SocketAddress::FromIp(std::string_view ip, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(StrCat("port ", port, " is out of range"));
  }
  const std::string text(ip);
  SocketAddress out;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(*v4);
  } else if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out.length = sizeof(*v6);
  } else {
    return absl::InvalidArgumentError(StrCat("'", ip, "' is not an IP address"));
  }
  return out;
}

absl::StatusOr<SocketAddress> SocketAddress::FromHostPort(std::string_view text, int default_port) {
  std::string host;
  int port = 0;
  if (auto s = SplitHostPort(text, default_port, host, port); !s.ok()) return s;
  return FromIp(host, port);
}

absl::Status SplitHostPort(std::string_view text, int default_port, std::string& host_out,
                           int& port_out) {
  std::string_view host = text;
  int64_t port = default_port;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos)
      return absl::InvalidArgumentError(StrCat("bad address '", text, "'"));
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':')
        return absl::InvalidArgumentError(StrCat("bad address '", text, "'"));
      port_text = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const size_t colon = text.find(':');
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
  }
  if (!port_text.empty() && (!ParseInt64(port_text, port) || port < 1 || port > 65535)) {
    return absl::InvalidArgumentError(StrCat("bad port in '", text, "'"));
  }
  host_out = std::string(host);
  port_out = static_cast<int>(port);
  return absl::OkStatus();
}

SocketAddress SocketAddress::FromSockaddr(const sockaddr* addr, socklen_t length) {
  SocketAddress out;
  out.length = std::min<socklen_t>(length, sizeof(out.storage));
  std::memcpy(&out.storage, addr, out.length);
  return out;
}

}  // namespace dnsd::common
