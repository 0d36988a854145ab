#include "agent/login.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <json/json.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "api/http_types.h"
#include "common/socket_address.h"
#include "common/strings.h"

namespace dnsd::agent {
namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

absl::Status Unavailable(std::string_view what, const std::string& where) {
  return absl::UnavailableError(common::StrCat("login to ", where, ": ", what));
}

// Connects with the deadline; the socket stays blocking with send/receive timeouts after.
absl::Status Connect(const common::SocketAddress& address, int timeout_ms, Fd& out) {
  out.fd = socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (out.fd < 0) return absl::UnavailableError("socket() failed");
  if (connect(out.fd, address.get(), address.length) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError("connection refused");
  }
  pollfd p{out.fd, POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) != 1) return absl::UnavailableError("connect timed out");
  int error = 0;
  socklen_t size = sizeof error;
  getsockopt(out.fd, SOL_SOCKET, SO_ERROR, &error, &size);
  if (error != 0) return absl::UnavailableError("connection refused");
  const int flags = fcntl(out.fd, F_GETFL);
  fcntl(out.fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(out.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(out.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return absl::OkStatus();
}

// One request, one answer (Connection: close): the whole answer until the server closes.
class Channel {
 public:
  virtual ~Channel() = default;
  virtual bool Write(std::string_view bytes) = 0;
  virtual int Read(char* buffer, int size) = 0;  // 0 at the end, < 0 on error
};

class PlainChannel : public Channel {
 public:
  explicit PlainChannel(int fd) : fd_(fd) {}
  bool Write(std::string_view bytes) override {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  int Read(char* buffer, int size) override { return static_cast<int>(recv(fd_, buffer, size, 0)); }

 private:
  int fd_;
};

class TlsChannel : public Channel {
 public:
  ~TlsChannel() override {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
  }
  absl::Status Open(int fd, const std::string& ca_pem, const std::string& host) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (ctx_ == nullptr) return absl::InternalError("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION);
    // The answer ends when the server closes (Connection: close), with or without a TLS
    // close_notify; the read below takes everything until then.
    SSL_CTX_set_options(ctx_, SSL_OP_IGNORE_UNEXPECTED_EOF);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())), &BIO_free);
    X509_STORE* store = SSL_CTX_get_cert_store(ctx_);
    int loaded = 0;
    while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      loaded += X509_STORE_add_cert(store, cert);
      X509_free(cert);
    }
    ERR_clear_error();
    if (loaded == 0) return absl::InvalidArgumentError("no certificate in the CA file");
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd);
    // The certificate must name the address dialled: an IP SAN for an address, else the name.
    in6_addr scratch;
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (inet_pton(AF_INET, host.c_str(), &scratch) == 1 ||
        inet_pton(AF_INET6, host.c_str(), &scratch) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, host.c_str());
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
    if (SSL_connect(ssl_) != 1) {
      ERR_clear_error();
      return absl::UnavailableError("TLS handshake failed (is the CA right?)");
    }
    return absl::OkStatus();
  }
  bool Write(std::string_view bytes) override {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  int Read(char* buffer, int size) override {
    const int n = SSL_read(ssl_, buffer, size);
    if (n > 0) return n;
    const int error = SSL_get_error(ssl_, n);
    ERR_clear_error();
    return error == SSL_ERROR_ZERO_RETURN || error == SSL_ERROR_SYSCALL ? 0 : -1;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace

absl::StatusOr<LoginResult> LoginToServer(const std::string& host_port, const std::string& username,
                                          const std::string& password, const std::string& ca_pem,
                                          int timeout_ms) {
  auto address = common::SocketAddress::FromHostPort(host_port, 8848);
  if (!address.ok()) return Unavailable("not an IP address and port", host_port);
  Fd fd;
  if (auto s = Connect(*address, timeout_ms, fd); !s.ok()) {
    return Unavailable(common::ToStd(s.message()), host_port);
  }
  std::unique_ptr<Channel> channel;
  if (ca_pem.empty()) {
    channel = std::make_unique<PlainChannel>(fd.fd);
  } else {
    auto tls = std::make_unique<TlsChannel>();
    if (auto s = tls->Open(fd.fd, ca_pem, address->ip()); !s.ok()) {
      return Unavailable(common::ToStd(s.message()), host_port);
    }
    channel = std::move(tls);
  }
  const std::string body =
      common::StrCat("username=", api::UrlEncode(username), "&password=", api::UrlEncode(password));
  const std::string request =
      common::StrCat("POST /nacos/v1/auth/users/login HTTP/1.1\r\nHost: ", host_port,
                     "\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                     "User-Agent: dnsd-agent\r\nContent-Length: ",
                     body.size(), "\r\n\r\n", body);
  if (!channel->Write(request)) return Unavailable("sending the login failed", host_port);
  std::string answer;
  char buffer[4096];
  while (answer.size() < (64 << 10)) {
    const int n = channel->Read(buffer, sizeof buffer);
    if (n < 0) return Unavailable("reading the answer failed", host_port);
    if (n == 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  const size_t status_end = answer.find("\r\n");
  const size_t head_end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.1 ") || status_end == std::string::npos ||
      head_end == std::string::npos) {
    return Unavailable("not an HTTP answer", host_port);
  }
  const std::string_view status = std::string_view(answer).substr(9, 3);
  const std::string payload = answer.substr(head_end + 4);
  if (status != "200") {
    return absl::PermissionDeniedError(
        common::StrCat("login to ", host_port, " refused: ", status, " ", payload));
  }
  Json::Value parsed;
  Json::CharReaderBuilder builder;
  std::string errors;
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  if (!reader->parse(payload.data(), payload.data() + payload.size(), &parsed, &errors) ||
      !parsed.isObject() || !parsed["accessToken"].isString() || !parsed["tokenTtl"].isIntegral()) {
    return Unavailable("the login answer is not Nacos's JSON", host_port);
  }
  return LoginResult{parsed["accessToken"].asString(), parsed["tokenTtl"].asInt64()};
}

}  // namespace dnsd::agent
