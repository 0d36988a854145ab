// The client side of a TCP or TLS connection, shared by dnsd's two clients (common/
// http_client for the tools and the agent's login, net/grpc_client for the agent): resolving
// and connecting within a deadline, and a TLS client session whose server certificate must
// chain to a given CA and name what was dialled. The handshake itself is the caller's (one
// blocks, the other polls).
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace dnsd::common {

// Resolves `host` (an address or a name) and connects to the first address that answers
// within `timeout_ms` each. The socket is non-blocking, close-on-exec, with TCP_NODELAY.
// kUnavailable saying why when none does.
absl::StatusOr<int> ConnectTcp(const std::string& host, int port, int timeout_ms);

// One TLS client session on a connected socket: TLS 1.2 or later, the server's certificate
// checked against the PEM certificates of `ca_pem` and against `host` (an IP address must be
// one of the certificate's IP addresses; a name is also sent as SNI). `alpn` in wire form
// (length-prefixed names), empty for none. Frees its SSL and context; the socket stays the
// caller's.
class TlsClientSession {
 public:
  static absl::StatusOr<std::unique_ptr<TlsClientSession>> Create(int fd, const std::string& ca_pem,
                                                                  const std::string& host,
                                                                  std::string_view alpn = {});
  ~TlsClientSession();
  TlsClientSession(const TlsClientSession&) = delete;
  TlsClientSession& operator=(const TlsClientSession&) = delete;
  SSL* ssl() const { return ssl_; }

 private:
  TlsClientSession() = default;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace dnsd::common
