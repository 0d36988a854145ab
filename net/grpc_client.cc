#include "net/grpc_client.h"

#include <openssl/ssl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "common/client_socket.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "common/tls.h"
#include "net/hpack.h"
#include "net/http2.h"

namespace dnsd::net {
namespace {

using namespace h2;  // NOLINT(google-build-using-namespace): the frame vocabulary
using Clock = std::chrono::steady_clock;

// What we let the server send ahead, per stream and per connection (raised at start). Pushes
// are small; the window only has to keep a burst of them moving.
constexpr uint32_t kStreamWindow = 1024 * 1024;
constexpr uint32_t kConnectionWindow = 4 * 1024 * 1024;
constexpr size_t kMaxHeaderList = 64 * 1024;
constexpr size_t kReadChunk = 16 * 1024;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// gRPC's mapping of an HTTP status without grpc-status to a code (doc/http-grpc-status-mapping).
absl::StatusCode CodeForHttpStatus(std::string_view status) {
  if (status == "400") return absl::StatusCode::kInternal;
  if (status == "401") return absl::StatusCode::kUnauthenticated;
  if (status == "403") return absl::StatusCode::kPermissionDenied;
  if (status == "404") return absl::StatusCode::kUnimplemented;
  if (status == "429" || status == "502" || status == "503" || status == "504") {
    return absl::StatusCode::kUnavailable;
  }
  return absl::StatusCode::kUnknown;
}

// The socket, plain or under TLS. Reads and writes never block: > 0 bytes moved, 0 would
// block, -1 closed or failed.
class Wire {
 public:
  ~Wire() {
    tls_.reset();
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

  absl::Status Connect(const GrpcClientOptions& o, Clock::time_point deadline) {
    auto fd = common::ConnectTcp(o.host, o.port, RemainingMs(deadline));
    if (!fd.ok()) return fd.status();
    fd_ = *fd;
    if (o.tls_ca_pem.empty()) return absl::OkStatus();
    static constexpr char kAlpn[] = {2, 'h', '2'};
    auto tls = common::TlsClientSession::Create(fd_, o.tls_ca_pem, o.host,
                                                std::string_view(kAlpn, sizeof(kAlpn)));
    if (!tls.ok()) return tls.status();
    tls_ = std::move(*tls);
    ssl_ = tls_->ssl();
    // Non-blocking writes of what is queued: a part may go now and the rest later.
    SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    for (;;) {
      const int rc = SSL_connect(ssl_);
      if (rc == 1) return absl::OkStatus();
      const int error = SSL_get_error(ssl_, rc);
      if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
        return absl::UnavailableError(
            common::StrCat("TLS handshake: ", common::TakeOpenSslErrors()));
      }
      pollfd p{fd_, static_cast<short>(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT), 0};
      if (poll(&p, 1, RemainingMs(deadline)) != 1) {
        return absl::UnavailableError("TLS handshake timed out");
      }
    }
  }

  int Read(char* buffer, size_t size) {
    if (ssl_ == nullptr) {
      const ssize_t n = recv(fd_, buffer, size, 0);
      if (n > 0) return static_cast<int>(n);
      return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    }
    const int n = SSL_read(ssl_, buffer, static_cast<int>(size));
    if (n > 0) return n;
    const int error = SSL_get_error(ssl_, n);
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? 0 : -1;
  }
  int Write(const char* data, size_t size) {
    if (ssl_ == nullptr) {
      const ssize_t n = send(fd_, data, size, MSG_NOSIGNAL);
      if (n > 0) return static_cast<int>(n);
      return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    }
    const int n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 20)));
    if (n > 0) return n;
    const int error = SSL_get_error(ssl_, n);
    return error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE ? 0 : -1;
  }
  // Bytes TLS has decrypted but not handed out (poll does not see them).
  bool HasBuffered() const { return ssl_ != nullptr && SSL_pending(ssl_) > 0; }
  void Shutdown() const {
    if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  }

  static int RemainingMs(Clock::time_point deadline) {
    return static_cast<int>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count()));
  }

 private:
  int fd_ = -1;
  std::unique_ptr<common::TlsClientSession> tls_;
  SSL* ssl_ = nullptr;  // tls_'s, or null for plain TCP
};

}  // namespace

// The connection's state. The I/O thread reads and writes the socket; everything else is
// under mu_, which callers and the I/O thread share.
class GrpcClient::Impl {
 public:
  struct Stream {
    bool unary = false;
    std::string partial;  // bytes of a message not complete yet
    std::deque<std::string> messages;
    bool got_headers = false;
    bool done = false;  // no more messages: `status` says how it ended
    absl::Status status;
    bool local_end = false;    // END_STREAM queued by us
    std::string unsent;        // framed gRPC messages waiting for send window
    bool end_pending = false;  // END_STREAM to go with the last of `unsent`
    int64_t send_window = kDefaultWindow;
    uint32_t unacked = 0;  // bytes received and not yet given back by WINDOW_UPDATE
  };

  explicit Impl(GrpcClientOptions options)
      : options_(std::move(options)),
        authority_(options_.host.find(':') == std::string::npos
                       ? common::StrCat(options_.host, ":", options_.port)
                       : common::StrCat("[", options_.host, "]:", options_.port)) {}
  ~Impl() {
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  absl::Status Start() {
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
    if (auto s = wire_.Connect(options_, deadline); !s.ok()) return s;
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return absl::InternalError("eventfd failed");
    // Client preface: the magic, SETTINGS (no push, our windows and header list limit), and
    // the connection window opened beyond the default.
    std::string preface(kPreface);
    uint8_t settings[18];
    auto put = [&](int at, uint16_t id, uint32_t value) {
      settings[at] = static_cast<uint8_t>(id >> 8);
      settings[at + 1] = static_cast<uint8_t>(id);
      PutBe32(settings + at + 2, value);
    };
    put(0, kEnablePush, 0);
    put(6, kInitialWindowSize, kStreamWindow);
    put(12, kMaxHeaderListSize, kMaxHeaderList);
    {
      std::lock_guard lock(mu_);
      out_ = std::move(preface);
      QueueFrameLocked(kSettings, 0, 0, settings, sizeof(settings));
      WindowUpdateLocked(0, kConnectionWindow - kDefaultWindow);
    }
    last_read_ = Clock::now();
    thread_ = std::thread([this] {
      common::SetThreadName("grpc-client");
      Loop();
    });
    // The connection counts as up once the server's SETTINGS came (it speaks HTTP/2).
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return settings_seen_ || broken_; });
    if (broken_) return absl::UnavailableError(why_);
    if (!settings_seen_) {
      FailLocked("no HTTP/2 SETTINGS from the server in time");
      return absl::UnavailableError(why_);
    }
    return absl::OkStatus();
  }

  void Close() {
    {
      std::lock_guard lock(mu_);
      if (!broken_) FailLocked("closed");
      closing_ = true;
    }
    Wake();
  }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  bool broken(std::string* why) const {
    std::lock_guard lock(mu_);
    if (why != nullptr) *why = why_;
    return broken_;
  }

  // Opens a stream and sends its headers (and `first`, ending our side, for a unary call).
  absl::StatusOr<uint32_t> Open(std::string_view path, const GrpcMetadata& metadata, bool unary,
                                std::string_view first, int timeout_ms) {
    std::string block;
    HpackAppendIndexed(block, 3);                                    // :method POST
    HpackAppendIndexed(block, options_.tls_ca_pem.empty() ? 6 : 7);  // :scheme
    HpackAppendLiteral(block, 4, "", path);                          // :path
    HpackAppendLiteral(block, 1, "", authority_);                    // :authority
    HpackAppendLiteral(block, 31, "", "application/grpc");           // content-type
    HpackAppendLiteral(block, 0, "te", "trailers");
    HpackAppendLiteral(block, 58, "", options_.user_agent);  // user-agent
    if (timeout_ms > 0)
      HpackAppendLiteral(block, 0, "grpc-timeout", common::StrCat(timeout_ms, "m"));
    for (const auto& [name, value] : metadata) HpackAppendLiteral(block, 0, name, value);
    std::unique_lock lock(mu_);
    if (block.size() > peer_max_frame_) {
      return absl::InvalidArgumentError("request headers larger than one frame");
    }
    if (broken_) return absl::UnavailableError(why_);
    if (goaway_) return absl::UnavailableError("the server is going away");
    const uint32_t id = next_stream_id_;
    next_stream_id_ += 2;
    auto& s = streams_[id];
    s.unary = unary;
    s.send_window = peer_initial_window_;
    QueueFrameLocked(kHeaders, kEndHeaders, id, block.data(), block.size());
    if (unary) QueueMessageLocked(id, s, first, true);
    lock.unlock();
    Wake();
    return id;
  }

  // Waits for a unary call's answer.
  absl::StatusOr<std::string> Await(uint32_t id, int timeout_ms) {
    std::unique_lock lock(mu_);
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    Stream* s = nullptr;
    const bool done = cv_.wait_until(lock, deadline, [&] {
      auto it = streams_.find(id);
      s = it == streams_.end() ? nullptr : &it->second;
      return s == nullptr || s->done;
    });
    if (s == nullptr) return absl::UnavailableError(why_.empty() ? "call lost" : why_);
    if (!done) {
      ResetLocked(id, kCancel);
      streams_.erase(id);
      lock.unlock();
      Wake();
      return absl::DeadlineExceededError(common::StrCat("no answer within ", timeout_ms, " ms"));
    }
    absl::Status status = s->status;
    std::string message;
    if (status.ok()) {
      if (s->messages.size() == 1) {
        message = std::move(s->messages.front());
      } else {
        status = absl::InternalError(
            common::StrCat("a unary call answered with ", s->messages.size(), " messages"));
      }
    }
    streams_.erase(id);
    if (!status.ok()) return status;
    return message;
  }

  bool Write(uint32_t id, std::string_view message) {
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(id);
      if (broken_ || it == streams_.end() || it->second.done || it->second.local_end) return false;
      QueueMessageLocked(id, it->second, message, false);
    }
    Wake();
    return true;
  }

  bool Read(uint32_t id, std::string& message) {
    std::unique_lock lock(mu_);
    Stream* s = nullptr;
    cv_.wait(lock, [&] {
      auto it = streams_.find(id);
      s = it == streams_.end() ? nullptr : &it->second;
      return s == nullptr || !s->messages.empty() || s->done;
    });
    if (s == nullptr || s->messages.empty()) return false;
    message = std::move(s->messages.front());
    s->messages.pop_front();
    return true;
  }

  absl::Status StreamStatus(uint32_t id) const {
    std::lock_guard lock(mu_);
    auto it = streams_.find(id);
    if (it == streams_.end()) return absl::CancelledError("the stream was cancelled");
    return it->second.status;
  }

  // Cancels (if still open) and forgets the stream.
  void Forget(uint32_t id, bool cancel) {
    {
      std::lock_guard lock(mu_);
      auto it = streams_.find(id);
      if (it == streams_.end()) return;
      if (cancel && !it->second.done) {
        ResetLocked(id, kCancel);
        it->second.done = true;
        it->second.status = absl::CancelledError("cancelled");
      } else if (!cancel) {
        if (!it->second.done) ResetLocked(id, kCancel);
        streams_.erase(it);
      }
    }
    cv_.notify_all();
    Wake();
  }

 private:
  void Wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof(one));
  }

  void QueueFrameLocked(uint8_t type, uint8_t flags, uint32_t stream_id, const void* payload,
                        size_t length) {
    uint8_t header[kFrameHeader];
    PutFrameHeader(header, length, type, flags, stream_id);
    out_.append(reinterpret_cast<const char*>(header), sizeof(header));
    if (length > 0) out_.append(static_cast<const char*>(payload), length);
  }
  void WindowUpdateLocked(uint32_t stream_id, uint32_t increment) {
    uint8_t payload[4];
    PutBe32(payload, increment);
    QueueFrameLocked(kWindowUpdate, 0, stream_id, payload, sizeof(payload));
  }
  void ResetLocked(uint32_t stream_id, uint32_t code) {
    uint8_t payload[4];
    PutBe32(payload, code);
    QueueFrameLocked(kRstStream, 0, stream_id, payload, sizeof(payload));
  }

  void QueueMessageLocked(uint32_t id, Stream& s, std::string_view message, bool end) {
    char prefix[kGrpcPrefix] = {0};
    PutBe32(reinterpret_cast<uint8_t*>(prefix) + 1, static_cast<uint32_t>(message.size()));
    s.unsent.append(prefix, sizeof(prefix));
    s.unsent.append(message);
    if (end) {
      s.end_pending = true;
      s.local_end = true;
    }
    PumpLocked(id, s);
  }

  // Frames as much of the stream's unsent bytes as the windows allow.
  void PumpLocked(uint32_t id, Stream& s) {
    while (!s.unsent.empty() && s.send_window > 0 && send_window_ > 0) {
      const size_t n = std::min<size_t>({s.unsent.size(), static_cast<size_t>(s.send_window),
                                         static_cast<size_t>(send_window_),
                                         static_cast<size_t>(peer_max_frame_)});
      const bool last = n == s.unsent.size();
      QueueFrameLocked(kData, last && s.end_pending ? kEndStream : 0, id, s.unsent.data(), n);
      s.unsent.erase(0, n);
      s.send_window -= static_cast<int64_t>(n);
      send_window_ -= static_cast<int64_t>(n);
      if (last) s.end_pending = false;
    }
  }
  void PumpAllLocked() {
    for (auto& [id, s] : streams_) PumpLocked(id, s);
  }

  void FinishLocked(uint32_t id, Stream& s, absl::Status status) {
    if (s.done) return;
    s.done = true;
    s.status = std::move(status);
    // The server ended the call; a stream we had not ended is closed from our side too.
    if (!s.local_end) {
      ResetLocked(id, kNoError);
      s.local_end = true;
    }
    s.unsent.clear();
    cv_.notify_all();
  }

  void FailLocked(std::string why) {
    if (broken_) return;
    broken_ = true;
    why_ = std::move(why);
    for (auto& [id, s] : streams_) {
      if (!s.done) {
        s.done = true;
        s.status = absl::UnavailableError(why_);
      }
    }
    cv_.notify_all();
  }

  // A connection error: GOAWAY with `code`, then the connection is over.
  bool ProtocolErrorLocked(uint32_t code, std::string_view why) {
    uint8_t payload[8];
    PutBe32(payload, last_peer_stream_);
    PutBe32(payload + 4, code);
    QueueFrameLocked(kGoaway, 0, 0, payload, sizeof(payload));
    FailLocked(common::StrCat("HTTP/2 protocol error: ", why));
    return false;
  }

  void Loop() {
    std::string sending;
    char buffer[kReadChunk];
    bool write_blocked = false;
    for (;;) {
      {
        std::lock_guard lock(mu_);
        sending.append(out_);
        out_.clear();
        if (closing_ && sending.empty()) break;
      }
      // Write what is queued, as far as the socket takes it.
      while (!sending.empty()) {
        const int n = wire_.Write(sending.data(), sending.size());
        if (n < 0) {
          std::lock_guard lock(mu_);
          FailLocked("the connection broke (write)");
          closing_ = true;
          break;
        }
        if (n == 0) break;
        sending.erase(0, static_cast<size_t>(n));
      }
      write_blocked = !sending.empty();
      {
        std::lock_guard lock(mu_);
        if (closing_ && (broken_ || sending.empty())) break;
      }
      // Keep-alive: a PING after a quiet spell, the end when it goes unanswered.
      int timeout_ms = static_cast<int>(options_.keepalive_time_ms);
      {
        std::lock_guard lock(mu_);
        const int64_t quiet = MsSince(last_read_);
        if (ping_outstanding_) {
          if (quiet >= options_.keepalive_time_ms + options_.keepalive_timeout_ms) {
            FailLocked("keep-alive PING unanswered");
            break;
          }
          timeout_ms =
              static_cast<int>(options_.keepalive_time_ms + options_.keepalive_timeout_ms - quiet);
        } else if (quiet >= options_.keepalive_time_ms) {
          static constexpr uint8_t kPingData[8] = {'d', 'n', 's', 'd', 'p', 'i', 'n', 'g'};
          QueueFrameLocked(kPing, 0, 0, kPingData, sizeof(kPingData));
          ping_outstanding_ = true;
          continue;
        } else {
          timeout_ms = static_cast<int>(options_.keepalive_time_ms - quiet);
        }
      }
      if (!wire_.HasBuffered()) {
        pollfd fds[2] = {
            {wire_.fd(), static_cast<short>(POLLIN | (write_blocked ? POLLOUT : 0)), 0},
            {wake_fd_, POLLIN, 0}};
        if (poll(fds, 2, std::max(timeout_ms, 1)) < 0 && errno != EINTR) {
          std::lock_guard lock(mu_);
          FailLocked("poll failed");
          break;
        }
        if (fds[1].revents & POLLIN) {
          uint64_t count;
          [[maybe_unused]] const ssize_t n = read(wake_fd_, &count, sizeof(count));
        }
        if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      }
      // Read what has come, then run the frames.
      bool closed = false;
      size_t got = 0;
      for (;;) {
        const int n = wire_.Read(buffer, sizeof(buffer));
        if (n < 0) closed = true;
        if (n <= 0) break;
        in_.append(buffer, static_cast<size_t>(n));
        got += static_cast<size_t>(n);
      }
      std::lock_guard lock(mu_);
      if (got > 0) {
        last_read_ = Clock::now();
        ping_outstanding_ = false;
      }
      if (!ParseLocked()) break;
      if (closed) {
        FailLocked(goaway_ ? "the server closed the connection (GOAWAY)"
                           : "the server closed the connection");
        break;
      }
    }
    // Whatever is queued (a GOAWAY, say) goes out if the socket takes it at once.
    std::string rest;
    {
      std::lock_guard lock(mu_);
      if (!broken_) FailLocked("closed");
      rest = sending + out_;
      out_.clear();
    }
    if (!rest.empty()) wire_.Write(rest.data(), rest.size());
    wire_.Shutdown();
  }

  // Runs every complete frame in in_. False when the connection is over.
  bool ParseLocked() {
    size_t at = 0;
    bool ok = true;
    while (ok && in_.size() - at >= kFrameHeader) {
      const auto* h = reinterpret_cast<const uint8_t*>(in_.data() + at);
      const uint32_t length = (uint32_t{h[0]} << 16) | (uint32_t{h[1]} << 8) | h[2];
      if (length > kDefaultMaxFrameSize) {
        ok = ProtocolErrorLocked(kFrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE");
        break;
      }
      if (in_.size() - at < kFrameHeader + length) break;
      ok = RunFrameLocked(h[3], h[4], Be32(h + 5) & 0x7fffffff, h + kFrameHeader, length);
      at += kFrameHeader + length;
    }
    in_.erase(0, at);
    return ok && !broken_;
  }

  bool RunFrameLocked(uint8_t type, uint8_t flags, uint32_t stream_id, const uint8_t* payload,
                      uint32_t length) {
    if (continuation_stream_ != 0 && type != kContinuation) {
      return ProtocolErrorLocked(kProtocolError, "expected CONTINUATION");
    }
    switch (type) {
      case kData:
        return OnData(flags, stream_id, payload, length);
      case kHeaders:
      case kContinuation:
        return OnHeaders(type, flags, stream_id, payload, length);
      case kRstStream: {
        if (length != 4 || stream_id == 0)
          return ProtocolErrorLocked(kProtocolError, "bad RST_STREAM");
        auto it = streams_.find(stream_id);
        if (it != streams_.end()) {
          it->second.local_end = true;  // nothing more may be sent on it
          FinishLocked(stream_id, it->second,
                       absl::UnavailableError(common::StrCat("the server reset the stream (code ",
                                                             Be32(payload), ")")));
        }
        return true;
      }
      case kSettings:
        return OnSettings(flags, stream_id, payload, length);
      case kPushPromise:
        return ProtocolErrorLocked(kProtocolError, "PUSH_PROMISE although push is off");
      case kPing:
        if (length != 8 || stream_id != 0) return ProtocolErrorLocked(kProtocolError, "bad PING");
        if ((flags & kAck) == 0) QueueFrameLocked(kPing, kAck, 0, payload, length);
        return true;
      case kGoaway: {
        if (length < 8 || stream_id != 0) return ProtocolErrorLocked(kProtocolError, "bad GOAWAY");
        goaway_ = true;
        const uint32_t last = Be32(payload) & 0x7fffffff;
        // Streams above the last one the server will process never ran: they fail now.
        for (auto& [id, s] : streams_) {
          if (id > last) FinishLocked(id, s, absl::UnavailableError("the server is going away"));
        }
        return true;
      }
      case kWindowUpdate: {
        if (length != 4) return ProtocolErrorLocked(kFrameSizeError, "bad WINDOW_UPDATE");
        const uint32_t increment = Be32(payload) & 0x7fffffff;
        if (stream_id == 0) {
          if (increment == 0 || send_window_ + increment > kMaxWindow) {
            return ProtocolErrorLocked(kFlowControlError, "bad connection WINDOW_UPDATE");
          }
          send_window_ += increment;
          PumpAllLocked();
          return true;
        }
        auto it = streams_.find(stream_id);
        if (it == streams_.end()) return true;
        if (increment == 0 || it->second.send_window + increment > kMaxWindow) {
          ResetLocked(stream_id, kFlowControlError);
          FinishLocked(stream_id, it->second, absl::InternalError("bad WINDOW_UPDATE"));
          return true;
        }
        it->second.send_window += increment;
        PumpLocked(stream_id, it->second);
        return true;
      }
      default:
        return true;  // PRIORITY and unknown types are ignored (RFC 9113 4.1, 5.3.2)
    }
  }

  // Strips padding (and the priority fields of HEADERS); false when the frame is malformed.
  static bool Unpad(uint8_t flags, bool priority, const uint8_t*& payload, uint32_t& length) {
    uint32_t pad = 0;
    if (flags & kPadded) {
      if (length < 1) return false;
      pad = payload[0];
      ++payload;
      --length;
    }
    if (priority) {
      if (length < 5) return false;
      payload += 5;
      length -= 5;
    }
    if (pad > length) return false;
    length -= pad;
    return true;
  }

  bool OnData(uint8_t flags, uint32_t stream_id, const uint8_t* payload, uint32_t length) {
    if (stream_id == 0) return ProtocolErrorLocked(kProtocolError, "DATA on stream 0");
    // Flow control counts the whole frame, padding included, whoever it was for.
    conn_unacked_ += length;
    if (conn_unacked_ >= kConnectionWindow / 2) {
      WindowUpdateLocked(0, conn_unacked_);
      conn_unacked_ = 0;
    }
    const uint32_t full_length = length;
    if (!Unpad(flags, false, payload, length)) {
      return ProtocolErrorLocked(kProtocolError, "bad DATA padding");
    }
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.done) return true;  // a stream we gave up on
    Stream& s = it->second;
    if (!s.got_headers) {
      ResetLocked(stream_id, kProtocolError);
      FinishLocked(stream_id, s, absl::InternalError("DATA before the response headers"));
      return true;
    }
    s.unacked += full_length;
    if (s.unacked >= kStreamWindow / 2 && (flags & kEndStream) == 0) {
      WindowUpdateLocked(stream_id, s.unacked);
      s.unacked = 0;
    }
    s.partial.append(reinterpret_cast<const char*>(payload), length);
    size_t at = 0;
    while (s.partial.size() - at >= kGrpcPrefix) {
      const auto* p = reinterpret_cast<const uint8_t*>(s.partial.data() + at);
      const uint32_t size = Be32(p + 1);
      if (p[0] != 0) {
        ResetLocked(stream_id, kCancel);
        FinishLocked(stream_id, s,
                     absl::InternalError("a compressed message (none was asked for)"));
        return true;
      }
      if (size > options_.max_message_bytes) {
        ResetLocked(stream_id, kCancel);
        FinishLocked(stream_id, s,
                     absl::ResourceExhaustedError(common::StrCat("a message of ", size, " bytes")));
        return true;
      }
      if (s.partial.size() - at - kGrpcPrefix < size) break;
      s.messages.emplace_back(s.partial, at + kGrpcPrefix, size);
      at += kGrpcPrefix + size;
      cv_.notify_all();
    }
    s.partial.erase(0, at);
    if (flags & kEndStream) {
      FinishLocked(stream_id, s, absl::InternalError("the stream ended without a grpc-status"));
    }
    return true;
  }

  bool OnHeaders(uint8_t type, uint8_t flags, uint32_t stream_id, const uint8_t* payload,
                 uint32_t length) {
    if (type == kHeaders) {
      if (stream_id == 0) return ProtocolErrorLocked(kProtocolError, "HEADERS on stream 0");
      if (!Unpad(flags, (flags & kPriorityFlag) != 0, payload, length)) {
        return ProtocolErrorLocked(kProtocolError, "bad HEADERS padding");
      }
      continuation_stream_ = stream_id;
      header_end_stream_ = (flags & kEndStream) != 0;
      header_block_.clear();
    } else if (stream_id != continuation_stream_) {
      return ProtocolErrorLocked(kProtocolError, "CONTINUATION out of place");
    }
    header_block_.append(reinterpret_cast<const char*>(payload), length);
    if (header_block_.size() > kMaxHeaderList * 2) {
      return ProtocolErrorLocked(kEnhanceYourCalm, "header block too large");
    }
    if ((flags & kEndHeaders) == 0) return true;
    continuation_stream_ = 0;
    std::vector<HeaderField> fields;
    // Every block is decoded, even for a stream we dropped: the table must stay in step.
    if (auto s = hpack_.Decode(header_block_, fields, kMaxHeaderList); !s.ok()) {
      return ProtocolErrorLocked(kCompressionError, common::ToStd(s.message()));
    }
    header_block_.clear();
    auto it = streams_.find(stream_id);
    if (it == streams_.end() || it->second.done) return true;
    Stream& s = it->second;
    const std::string* http_status = nullptr;
    const std::string* grpc_status = nullptr;
    const std::string* grpc_message = nullptr;
    for (const auto& f : fields) {
      if (f.name == ":status") http_status = &f.value;
      if (f.name == "grpc-status") grpc_status = &f.value;
      if (f.name == "grpc-message") grpc_message = &f.value;
    }
    if (!s.got_headers) {
      s.got_headers = true;
      if (http_status == nullptr || *http_status != "200") {
        const std::string shown = http_status == nullptr ? "none" : *http_status;
        FinishLocked(stream_id, s,
                     absl::Status(http_status == nullptr ? absl::StatusCode::kInternal
                                                         : CodeForHttpStatus(shown),
                                  common::StrCat("HTTP status ", shown)));
        return true;
      }
      if (grpc_status == nullptr && !header_end_stream_) return true;  // the response begins
    }
    // Trailers (or a trailers-only response): the call's status.
    if (!header_end_stream_) {
      FinishLocked(stream_id, s, absl::InternalError("trailers without END_STREAM"));
      return true;
    }
    if (grpc_status == nullptr) {
      FinishLocked(stream_id, s, absl::InternalError("the stream ended without a grpc-status"));
      return true;
    }
    int64_t code = 0;
    if (!common::ParseInt64(*grpc_status, code) || code < 0 || code > 16) {
      code = static_cast<int64_t>(absl::StatusCode::kUnknown);
    }
    FinishLocked(stream_id, s,
                 code == 0 ? absl::OkStatus()
                           : absl::Status(static_cast<absl::StatusCode>(code),
                                          grpc_message == nullptr ? std::string()
                                                                  : PercentDecode(*grpc_message)));
    return true;
  }

  bool OnSettings(uint8_t flags, uint32_t stream_id, const uint8_t* payload, uint32_t length) {
    if (stream_id != 0) return ProtocolErrorLocked(kProtocolError, "SETTINGS on a stream");
    if (flags & kAck) return true;
    if (length % 6 != 0) return ProtocolErrorLocked(kFrameSizeError, "SETTINGS of bad length");
    for (uint32_t at = 0; at < length; at += 6) {
      const auto id = static_cast<uint16_t>((payload[at] << 8) | payload[at + 1]);
      const uint32_t value = Be32(payload + at + 2);
      if (id == kInitialWindowSize) {
        if (value > kMaxWindow) {
          return ProtocolErrorLocked(kFlowControlError, "INITIAL_WINDOW_SIZE above 2^31-1");
        }
        const int64_t delta = static_cast<int64_t>(value) - peer_initial_window_;
        peer_initial_window_ = value;
        for (auto& [sid, s] : streams_) s.send_window += delta;
      } else if (id == kMaxFrameSizeSetting) {
        if (value < kDefaultMaxFrameSize || value > kLargestMaxFrameSize) {
          return ProtocolErrorLocked(kProtocolError, "bad MAX_FRAME_SIZE");
        }
        peer_max_frame_ = value;
      }
      // HEADER_TABLE_SIZE needs nothing: our encoder keeps no table. MAX_CONCURRENT_STREAMS:
      // the agent keeps at most a few streams open.
    }
    QueueFrameLocked(kSettings, kAck, 0, nullptr, 0);
    PumpAllLocked();
    if (!settings_seen_) {
      settings_seen_ = true;
      cv_.notify_all();
    }
    return true;
  }

  const GrpcClientOptions options_;
  const std::string authority_;  // host:port, [v6]:port
  Wire wire_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::string in_;  // I/O thread: bytes read and not yet run as frames

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;  // frames to send
  bool broken_ = false;
  bool closing_ = false;
  std::string why_;
  bool settings_seen_ = false;
  bool goaway_ = false;
  std::map<uint32_t, Stream> streams_;
  uint32_t next_stream_id_ = 1;
  uint32_t last_peer_stream_ = 0;  // the server opens none (push is off)
  int64_t send_window_ = kDefaultWindow;
  int64_t peer_initial_window_ = kDefaultWindow;
  uint32_t peer_max_frame_ = kDefaultMaxFrameSize;
  uint32_t conn_unacked_ = 0;
  HpackDecoder hpack_;
  uint32_t continuation_stream_ = 0;
  bool header_end_stream_ = false;
  std::string header_block_;
  Clock::time_point last_read_;
  bool ping_outstanding_ = false;
};

GrpcClient::GrpcClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

absl::StatusOr<std::unique_ptr<GrpcClient>> GrpcClient::Connect(GrpcClientOptions options) {
  auto impl = std::make_shared<Impl>(std::move(options));
  if (auto s = impl->Start(); !s.ok()) {
    impl->Close();
    impl->Join();
    return s;
  }
  return std::unique_ptr<GrpcClient>(new GrpcClient(std::move(impl)));
}

GrpcClient::~GrpcClient() {
  impl_->Close();
  impl_->Join();
}

absl::StatusOr<std::string> GrpcClient::Call(std::string_view path, std::string_view request,
                                             const GrpcMetadata& metadata, int timeout_ms) {
  auto id = impl_->Open(path, metadata, true, request, timeout_ms);
  if (!id.ok()) return id.status();
  return impl_->Await(*id, timeout_ms);
}

absl::StatusOr<std::shared_ptr<GrpcClientStream>> GrpcClient::OpenStream(
    std::string_view path, const GrpcMetadata& metadata) {
  auto id = impl_->Open(path, metadata, false, {}, 0);
  if (!id.ok()) return id.status();
  return std::make_shared<GrpcClientStream>(impl_, *id);
}

void GrpcClient::Close() { impl_->Close(); }
bool GrpcClient::broken(std::string* why) const { return impl_->broken(why); }

bool GrpcClientStream::Write(std::string_view message) { return impl_->Write(id_, message); }
bool GrpcClientStream::Read(std::string& message) { return impl_->Read(id_, message); }
void GrpcClientStream::Cancel() { impl_->Forget(id_, true); }
absl::Status GrpcClientStream::status() const { return impl_->StreamStatus(id_); }
GrpcClientStream::~GrpcClientStream() { impl_->Forget(id_, false); }

}  // namespace dnsd::net
