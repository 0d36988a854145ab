#include "common/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>
#include <optional>

#include "common/strings.h"

namespace dnsd::common {
namespace {

constexpr size_t kMaxAnswerBytes = 64 << 20;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// Resolves and connects within the deadline; the socket is blocking with I/O timeouts after.
absl::Status Connect(const std::string& host, int port, int timeout_ms, Fd& out) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) {
    return absl::UnavailableError(StrCat("cannot resolve ", host));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  std::string why = "connection refused";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    Fd fd;
    fd.fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd.fd < 0) continue;
    if (connect(fd.fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) continue;
    pollfd p{fd.fd, POLLOUT, 0};
    if (poll(&p, 1, timeout_ms) != 1) {
      why = "connect timed out";
      continue;
    }
    int error = 0;
    socklen_t size = sizeof error;
    getsockopt(fd.fd, SOL_SOCKET, SO_ERROR, &error, &size);
    if (error != 0) continue;
    fcntl(fd.fd, F_SETFL, fcntl(fd.fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::swap(out.fd, fd.fd);
    return absl::OkStatus();
  }
  return absl::UnavailableError(why);
}

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
  int Read(char* buffer, int size) override {
    return static_cast<int>(recv(fd_, buffer, static_cast<size_t>(size), 0));
  }

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
    // close_notify; everything read until then is the answer.
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
    // The certificate must name what was dialled: an IP SAN for an address, else the name.
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
    return error == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }

 private:
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

// The body of a chunked answer (RFC 9112 §7.1), or nullopt when it is malformed.
std::optional<std::string> Dechunk(std::string_view in) {
  std::string out;
  while (true) {
    const size_t line_end = in.find("\r\n");
    if (line_end == std::string_view::npos) return std::nullopt;
    size_t size = 0;
    size_t i = 0;
    for (; i < line_end && std::isxdigit(static_cast<unsigned char>(in[i])); ++i) {
      const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(in[i])));
      size = size * 16 + static_cast<size_t>(c <= '9' ? c - '0' : c - 'a' + 10);
      if (size > kMaxAnswerBytes) return std::nullopt;
    }
    if (i == 0) return std::nullopt;
    in.remove_prefix(line_end + 2);
    if (size == 0) return out;
    if (in.size() < size + 2) return std::nullopt;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

}  // namespace

absl::StatusOr<HttpClientResponse> SendHttpRequest(const HttpClientRequest& request) {
  const std::string where = StrCat(request.host, ":", request.port);
  auto failed = [&](std::string_view why) {
    return absl::UnavailableError(StrCat(where, ": ", why));
  };
  Fd fd;
  if (auto s = Connect(request.host, request.port, request.timeout_ms, fd); !s.ok()) {
    return failed(ToStd(s.message()));
  }
  std::unique_ptr<Channel> channel;
  if (request.ca_pem.empty()) {
    channel = std::make_unique<PlainChannel>(fd.fd);
  } else {
    auto tls = std::make_unique<TlsChannel>();
    if (auto s = tls->Open(fd.fd, request.ca_pem, request.host); !s.ok()) {
      return failed(ToStd(s.message()));
    }
    channel = std::move(tls);
  }
  std::string head = StrCat(request.method, " ", request.target, " HTTP/1.1\r\nHost: ", where,
                            "\r\nConnection: close\r\nUser-Agent: dnsd-tools\r\n");
  for (const auto& [name, value] : request.headers) head += StrCat(name, ": ", value, "\r\n");
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    head += StrCat("Content-Type: ", request.content_type,
                   "\r\nContent-Length: ", request.body.size(), "\r\n");
  }
  head += "\r\n";
  if (!channel->Write(head + request.body)) return failed("sending the request failed");
  std::string answer;
  char buffer[16384];
  while (answer.size() < kMaxAnswerBytes) {
    const int n = channel->Read(buffer, sizeof buffer);
    if (n < 0) return failed("reading the answer failed (timed out?)");
    if (n == 0) break;
    answer.append(buffer, static_cast<size_t>(n));
  }
  const size_t head_end = answer.find("\r\n\r\n");
  if (!answer.starts_with("HTTP/1.") || answer.size() < 12 || head_end == std::string::npos) {
    return failed("the answer is not HTTP");
  }
  HttpClientResponse response;
  int64_t status = 0;
  if (!ParseInt64(std::string_view(answer).substr(9, 3), status)) {
    return failed("the answer has no status");
  }
  response.status = static_cast<int>(status);
  bool chunked = false;
  for (std::string_view line : Split(std::string_view(answer).substr(0, head_end), '\n')) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(Trim(line.substr(0, colon)));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(Trim(line.substr(colon + 1)));
    if (name == "transfer-encoding" && value.find("chunked") != std::string::npos) chunked = true;
    response.headers.emplace_back(std::move(name), std::move(value));
  }
  response.body = answer.substr(head_end + 4);
  if (chunked) {
    auto body = Dechunk(response.body);
    if (!body) return failed("a malformed chunked answer");
    response.body = *std::move(body);
  }
  return response;
}

}  // namespace dnsd::common
