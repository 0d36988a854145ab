#include "common/http_client.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <memory>
#include <optional>

#include "common/client_socket.h"
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
  auto fd = ConnectTcp(host, port, timeout_ms);
  if (!fd.ok()) return fd.status();
  out.fd = *fd;
  fcntl(out.fd, F_SETFL, fcntl(out.fd, F_GETFL) & ~O_NONBLOCK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(out.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(out.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return absl::OkStatus();
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
  absl::Status Open(int fd, const std::string& ca_pem, const std::string& host) {
    auto session = TlsClientSession::Create(fd, ca_pem, host);
    if (!session.ok()) return session.status();
    session_ = std::move(*session);
    if (SSL_connect(session_->ssl()) != 1) {
      ERR_clear_error();
      return absl::UnavailableError("TLS handshake failed (is the CA right?)");
    }
    return absl::OkStatus();
  }
  bool Write(std::string_view bytes) override {
    return SSL_write(session_->ssl(), bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }
  int Read(char* buffer, int size) override {
    const int n = SSL_read(session_->ssl(), buffer, size);
    if (n > 0) return n;
    const int error = SSL_get_error(session_->ssl(), n);
    ERR_clear_error();
    return error == SSL_ERROR_ZERO_RETURN ? 0 : -1;
  }

 private:
  std::unique_ptr<TlsClientSession> session_;
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
