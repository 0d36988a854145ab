#include "common/client_socket.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/strings.h"

namespace dnsd::common {

absl::StatusOr<int> ConnectTcp(const std::string& host, int port, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found);
      rc != 0 || found == nullptr) {
    return absl::UnavailableError(StrCat("cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  std::string why = "connection refused";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    const int fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) continue;
    int error = 0;
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
      error = errno;
    } else if (pollfd p{fd, POLLOUT, 0}; poll(&p, 1, timeout_ms) != 1) {
      error = ETIMEDOUT;
    } else {
      socklen_t size = sizeof error;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size);
    }
    if (error == 0) {
      const int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    why = error == ETIMEDOUT ? "connect timed out" : std::strerror(error);
    close(fd);
  }
  return absl::UnavailableError(StrCat("connect: ", why));
}

absl::StatusOr<std::unique_ptr<TlsClientSession>> TlsClientSession::Create(
    int fd, const std::string& ca_pem, const std::string& host, std::string_view alpn) {
  std::unique_ptr<TlsClientSession> session(new TlsClientSession());
  session->ctx_ = SSL_CTX_new(TLS_client_method());
  if (session->ctx_ == nullptr) return absl::InternalError("SSL_CTX_new failed");
  SSL_CTX* ctx = session->ctx_;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Answers read until the server closes are complete with or without a close_notify.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())), &BIO_free);
  int loaded = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    loaded += X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), cert);
    X509_free(cert);
  }
  ERR_clear_error();  // the read that ends the loop leaves "no start line"
  if (loaded == 0) return absl::InvalidArgumentError("no certificate in the CA file");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  session->ssl_ = SSL_new(ctx);
  if (session->ssl_ == nullptr) return absl::InternalError("SSL_new failed");
  SSL_set_fd(session->ssl_, fd);
  // The certificate must name what was dialled: an IP SAN for an address, else the name.
  in6_addr scratch;
  X509_VERIFY_PARAM* param = SSL_get0_param(session->ssl_);
  if (inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
      inet_pton(AF_INET6, host.c_str(), &scratch) == 1) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    SSL_set_tlsext_host_name(session->ssl_, host.c_str());
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  return session;
}

TlsClientSession::~TlsClientSession() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

}  // namespace dnsd::common
