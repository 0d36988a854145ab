#include "net/grpc_transport.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/event_loop.h"
#include "common/socket_address.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "net/hpack.h"
#include "net/http2.h"
#include "spdlog/spdlog.h"

namespace dnsd::net {
namespace {

using namespace h2;  // NOLINT(google-build-using-namespace): the frame vocabulary

constexpr uint32_t kMaxFrameSize = kDefaultMaxFrameSize;  // we announce the default
// What we let a client send ahead: per stream, and per connection (raised at start).
constexpr uint32_t kStreamWindow = 4 * 1024 * 1024;
constexpr uint32_t kConnectionWindow = 16 * 1024 * 1024;
// Stop framing more output while this much waits in a connection's socket buffer.
constexpr size_t kOutputHighWater = 1024 * 1024;
constexpr int kPrefaceTimeoutS = 10;

// The peer as gRPC names it ("ipv4:1.2.3.4:5", "ipv6:[::1]:5").
std::string PeerName(const sockaddr* addr, int length) {
  const auto peer = common::SocketAddress::FromSockaddr(addr, static_cast<socklen_t>(length));
  return peer.family() == AF_INET6 ? common::StrCat("ipv6:[", peer.ip(), "]:", peer.port())
                                   : common::StrCat("ipv4:", peer.ip(), ":", peer.port());
}

}  // namespace

class H2Connection;

struct H2Stream {
  uint32_t id = 0;
  bool bidi = false;
  std::shared_ptr<GrpcCall> call;
  std::shared_ptr<GrpcStreamHandler> handler;  // bidi only
  const UnaryMethod* unary = nullptr;          // unary only (owned by the method table)
  std::string in;                              // request bytes not yet cut into messages
  std::string request;                         // unary: the request message
  bool have_request = false;
  bool dispatched = false;
  uint32_t recv_unacked = 0;
  int64_t send_window = kDefaultWindow;
  std::deque<std::pair<std::string, std::string>> queue;  // (coalesce key, message)
  std::string out;                                        // framed bytes going out
  size_t out_pos = 0;
  bool headers_sent = false;
  bool remote_closed = false;
  bool rejected = false;  // finished early; further request data is dropped
  bool finish_requested = false;
  int status = kGrpcOk;
  std::string status_message;
  bool in_ready = false;
};

class H2Connection : public std::enable_shared_from_this<H2Connection> {
 public:
  H2Connection(GrpcTransport::Impl& transport, bufferevent* bev, std::string peer)
      : transport_(transport), bev_(bev), peer_(std::move(peer)) {}
  ~H2Connection() {
    if (bev_) bufferevent_free(bev_);
  }

  void Begin();
  void OnRead();
  void OnWritten();
  void OnEvent(short what);
  // Ends the connection now: handlers get OnDone, the socket closes.
  void Teardown();
  void GoAway(uint32_t code, std::string_view reason, bool close_after_flush);

  // From GrpcCall (posted to the loop).
  void QueueMessage(uint32_t stream_id, std::string message, std::string coalesce_key);
  void FinishCall(uint32_t stream_id, int code, std::string message);

  const std::string& peer() const { return peer_; }
  // Keep-alive check, every few seconds: true when the connection was closed for silence.
  bool CheckAlive(std::chrono::steady_clock::time_point now);

 private:
  bool ProcessFrame(uint8_t type, uint8_t flags, uint32_t stream_id, const uint8_t* payload,
                    uint32_t length);
  bool OnData(uint8_t flags, uint32_t stream_id, const uint8_t* payload, uint32_t length);
  bool OnHeaders(uint32_t stream_id, std::string block, bool end_stream);
  bool OnSettings(uint8_t flags, const uint8_t* payload, uint32_t length);
  bool OnWindowUpdate(uint32_t stream_id, const uint8_t* payload, uint32_t length);
  void OnRemoteClosed(H2Stream& s);
  void CutMessages(H2Stream& s);
  void Reject(H2Stream& s, int code, std::string message);
  void RespondHttpError(uint32_t stream_id, std::string_view status);
  void MarkReady(H2Stream& s);
  void Pump();
  // Writes what flow control allows of one stream; true when it has nothing left to send.
  bool WriteStream(H2Stream& s);
  void SendHeaders(H2Stream& s, bool trailers_only);
  void SendTrailers(H2Stream& s);
  void EndStream(uint32_t id);  // drops the stream record, telling its handler
  void DropStreams();           // ends every stream without a word to the client
  void WriteFrame(uint8_t type, uint8_t flags, uint32_t stream_id, const void* payload,
                  size_t length);
  void WriteWindowUpdate(uint32_t stream_id, uint32_t increment);
  void WriteRst(uint32_t stream_id, uint32_t code);
  void ProtocolError(uint32_t code, std::string_view reason);

  GrpcTransport::Impl& transport_;
  bufferevent* bev_;
  const std::string peer_;
  HpackDecoder hpack_;
  bool preface_done_ = false;
  bool closing_ = false;  // GOAWAY sent; close once the output is flushed
  bool reading_ = true;   // false after a connection error: nothing more is parsed
  std::chrono::steady_clock::time_point last_frame_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point ping_sent_{};  // epoch: no keep-alive PING outstanding
  // After a connection error: once the GOAWAY is out, the write side is shut and input is
  // read and dropped until the client closes (or 1 s passes). Closing with unread input
  // would make the kernel send a reset, which can destroy the GOAWAY before it is read.
  bool lingering_ = false;
  bool write_shut_ = false;
  bool torn_down_ = false;
  std::map<uint32_t, std::unique_ptr<H2Stream>> streams_;
  std::vector<uint32_t> ready_;
  uint32_t last_stream_id_ = 0;
  int64_t send_window_ = kDefaultWindow;
  int64_t peer_initial_window_ = kDefaultWindow;
  uint32_t peer_max_frame_ = 16384;
  uint32_t recv_unacked_ = 0;
  // Request bytes held in streams' unfinished messages; bounded so that many streams with
  // large partial messages cannot pile up memory (flow control alone does not, because the
  // windows are reopened as data arrives, not as messages complete).
  size_t buffered_ = 0;
  // A header block split over CONTINUATION frames.
  std::string header_block_;
  uint32_t header_stream_ = 0;
  bool header_end_stream_ = false;
};

class GrpcTransport::Impl {
 public:
  Impl(GrpcTransportOptions options, common::MetricsRegistry& metrics)
      : options_(std::move(options)),
        protocol_errors_(metrics.GetCounter(options_.metrics_prefix + "_protocol_errors_total",
                                            "HTTP/2 connections ended for a protocol error")),
        rejected_calls_(metrics.GetCounter(
            options_.metrics_prefix + "_rejected_calls_total",
            "gRPC calls refused by the transport (unknown method, oversized or compressed "
            "message, bad headers)")),
        unauthenticated_calls_(metrics.GetCounter(
            options_.metrics_prefix + "_unauthenticated_calls_total",
            "gRPC calls refused for lacking valid credentials (call_auth_header)")),
        accept_errors_(metrics.GetCounter(options_.metrics_prefix + "_accept_errors_total",
                                          "accept() failures on the gRPC port")),
        refused_connections_(
            metrics.GetCounter(options_.metrics_prefix + "_refused_connections_total",
                               "gRPC connections closed at accept by grpc.max_connections")),
        keepalive_closes_(
            metrics.GetCounter(options_.metrics_prefix + "_keepalive_closes_total",
                               "Connections closed for not answering a keep-alive PING")) {
    metrics.AddGauge(options_.metrics_prefix + "_transport_connections",
                     "Open HTTP/2 connections on the gRPC port",
                     [this] { return static_cast<double>(connection_count_.load()); });
  }

  absl::Status Start() {
    auto loop = common::EventLoop::Create();
    if (!loop.ok()) return loop.status();
    loop_ = *std::move(loop);
    const auto address = common::SocketAddress::FromIp(options_.address, options_.port);
    if (!address.ok()) {
      return absl::InvalidArgumentError(
          common::StrCat("gRPC: bad listen address ", options_.address));
    }
    listener_ =
        evconnlistener_new_bind(loop_->base(), &Impl::OnAccept, this,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
                                4096, address->get(), static_cast<int>(address->length));
    if (!listener_) {
      return absl::UnavailableError(
          common::StrCat("gRPC: cannot listen on ", options_.address, ":", options_.port));
    }
    common::PauseOnAcceptErrors(listener_, accept_errors_, "gRPC");
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof(bound);
    getsockname(evconnlistener_get_fd(listener_), reinterpret_cast<sockaddr*>(&bound), &bound_len);
    port_ =
        common::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len).port();
    // Keep-alive checks: a pass over all connections a few times per keep-alive timeout.
    const int64_t period = std::clamp<int64_t>(
        std::min(options_.keepalive_time_ms, options_.keepalive_timeout_ms) / 4, 25, 5000);
    loop_->RunEvery(period, [this] {
      const auto now = std::chrono::steady_clock::now();
      for (const auto& conn : Snapshot()) conn->CheckAlive(now);
    });
    thread_ = std::thread([this] {
      common::SetThreadName("grpc-io");
      loop_->Run();
    });
    return absl::OkStatus();
  }

  void Shutdown(int grace_ms) {
    if (!loop_ || stopped_) return;
    stopped_ = true;
    loop_->Post([this] {
      if (listener_) {
        common::ForgetAcceptPause(listener_);
        evconnlistener_free(listener_);
      }
      listener_ = nullptr;
      for (const auto& conn : Snapshot()) conn->GoAway(kNoError, "server shutting down", false);
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
    while (connection_count_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    loop_->Post([&] {
      for (const auto& conn : Snapshot()) conn->Teardown();
      std::lock_guard lock(mu);
      done = true;
      cv.notify_one();
    });
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done; });
    }
    loop_->Stop();
    thread_.join();
  }

  ~Impl() {
    if (thread_.joinable()) Shutdown(0);
    connections_.clear();
    loop_.reset();
  }

  std::vector<std::shared_ptr<H2Connection>> Snapshot() const {
    std::vector<std::shared_ptr<H2Connection>> out;
    out.reserve(connections_.size());
    for (const auto& [raw, conn] : connections_) out.push_back(conn);
    return out;
  }

  // Drops the transport's reference; the connection is destroyed later on the loop, never
  // inside one of its own callbacks.
  void Forget(H2Connection* conn) {
    auto it = connections_.find(conn);
    if (it == connections_.end()) return;
    loop_->Post([last = std::move(it->second)] {});
    connections_.erase(it);
    connection_count_.fetch_sub(1);
  }

  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int length,
                       void* self) {
    auto* impl = static_cast<Impl*>(self);
    if (impl->connections_.size() >= static_cast<size_t>(impl->options_.max_connections)) {
      impl->refused_connections_.Inc();
      evutil_closesocket(fd);
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    bufferevent* bev =
        common::NewServerBufferevent(impl->loop_->base(), fd, impl->options_.tls.get());
    if (!bev) {
      evutil_closesocket(fd);
      return;
    }
    auto conn = std::make_shared<H2Connection>(*impl, bev, PeerName(addr, length));
    impl->connections_.emplace(conn.get(), conn);
    impl->connection_count_.fetch_add(1);
    conn->Begin();
  }

  GrpcTransport* owner_ = nullptr;
  const GrpcTransportOptions options_;
  common::Counter& protocol_errors_;
  common::Counter& rejected_calls_;
  common::Counter& unauthenticated_calls_;
  common::Counter& accept_errors_;
  common::Counter& refused_connections_;
  common::Counter& keepalive_closes_;
  std::unique_ptr<common::EventLoop> loop_;
  evconnlistener* listener_ = nullptr;
  std::thread thread_;
  int port_ = 0;
  bool stopped_ = false;
  std::atomic<size_t> connection_count_{0};
  // Loop thread only.
  std::map<H2Connection*, std::shared_ptr<H2Connection>> connections_;
};

// ---------------------------------------------------------------- GrpcCall

bool GrpcCall::Send(std::string message, std::string coalesce_key) {
  if (finished()) return false;
  if (queued_.fetch_add(1, std::memory_order_relaxed) >= kMaxQueued) {
    queued_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  transport_->impl_->loop_->Post([weak = connection_, id = stream_id_, m = std::move(message),
                                  k = std::move(coalesce_key)]() mutable {
    if (auto conn = std::static_pointer_cast<H2Connection>(weak.lock())) {
      conn->QueueMessage(id, std::move(m), std::move(k));
    }
  });
  return true;
}

void GrpcCall::Finish(int code, std::string message) {
  if (finished()) return;
  transport_->impl_->loop_->Post(
      [weak = connection_, id = stream_id_, code, m = std::move(message)]() mutable {
        if (auto conn = std::static_pointer_cast<H2Connection>(weak.lock())) {
          conn->FinishCall(id, code, std::move(m));
        }
      });
}

// ---------------------------------------------------------------- Connection

void H2Connection::Begin() {
  bufferevent_setcb(
      bev_, [](bufferevent*, void* c) { static_cast<H2Connection*>(c)->OnRead(); },
      [](bufferevent*, void* c) { static_cast<H2Connection*>(c)->OnWritten(); },
      [](bufferevent*, short what, void* c) { static_cast<H2Connection*>(c)->OnEvent(what); },
      this);
  // A client that never sends the preface is dropped after a while; afterwards the Nacos
  // layer's ClientDetection and TCP keep-alive look after idle connections.
  const timeval preface_timeout{kPrefaceTimeoutS, 0};
  bufferevent_set_timeouts(bev_, &preface_timeout, nullptr);
  bufferevent_enable(bev_, EV_READ | EV_WRITE);
  // Server preface: SETTINGS, then open the connection window beyond the default 64 KiB.
  uint8_t settings[18];
  auto put = [&](int at, uint16_t id, uint32_t value) {
    settings[at] = static_cast<uint8_t>(id >> 8);
    settings[at + 1] = static_cast<uint8_t>(id);
    PutBe32(settings + at + 2, value);
  };
  put(0, kMaxConcurrentStreams, transport_.options_.max_concurrent_streams);
  put(6, kInitialWindowSize, kStreamWindow);
  put(12, kMaxHeaderListSize, static_cast<uint32_t>(transport_.options_.max_header_list_bytes));
  WriteFrame(kSettings, 0, 0, settings, sizeof(settings));
  WriteWindowUpdate(0, kConnectionWindow - kDefaultWindow);
}

bool H2Connection::CheckAlive(std::chrono::steady_clock::time_point now) {
  if (torn_down_ || !preface_done_ || lingering_) return false;
  const auto& options = transport_.options_;
  if (ping_sent_ != std::chrono::steady_clock::time_point{}) {
    if (now - ping_sent_ < std::chrono::milliseconds(options.keepalive_timeout_ms)) return false;
    spdlog::debug("gRPC {}: no answer to keep-alive PING, closing", peer_);
    transport_.keepalive_closes_.Inc();
    Teardown();
    return true;
  }
  if (now - last_frame_ >= std::chrono::milliseconds(options.keepalive_time_ms)) {
    static constexpr uint8_t kOpaque[8] = {'d', 'n', 's', 'd', 'k', 'e', 'e', 'p'};
    WriteFrame(kPing, 0, 0, kOpaque, sizeof(kOpaque));
    ping_sent_ = now;
  }
  return false;
}

void H2Connection::OnEvent(short what) {
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) Teardown();
}

void H2Connection::OnWritten() {
  if (torn_down_) return;
  if (lingering_) {
    if (!write_shut_ && evbuffer_get_length(bufferevent_get_output(bev_)) == 0) {
      write_shut_ = true;
      shutdown(bufferevent_getfd(bev_), SHUT_WR);
      const timeval linger{1, 0};
      bufferevent_set_timeouts(bev_, &linger, nullptr);
    }
    return;
  }
  if (closing_ && evbuffer_get_length(bufferevent_get_output(bev_)) == 0 && streams_.empty()) {
    Teardown();
    return;
  }
  if (!ready_.empty()) Pump();
}

void H2Connection::Teardown() {
  if (torn_down_) return;
  torn_down_ = true;
  auto self = shared_from_this();  // Forget() drops the transport's reference
  DropStreams();
  bufferevent_disable(bev_, EV_READ | EV_WRITE);
  transport_.Forget(this);
}

void H2Connection::DropStreams() {
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    s->call->MarkFinished();
    if (s->handler) s->handler->OnDone();
  }
}

void H2Connection::GoAway(uint32_t code, std::string_view reason, bool close_after_flush) {
  if (torn_down_) return;
  std::string payload(8, '\0');
  PutBe32(reinterpret_cast<uint8_t*>(payload.data()), last_stream_id_);
  PutBe32(reinterpret_cast<uint8_t*>(payload.data()) + 4, code);
  payload.append(reason);
  WriteFrame(kGoaway, 0, 0, payload.data(), payload.size());
  closing_ = true;
  if (close_after_flush) {
    // Nothing more is parsed; the connection ends after the GOAWAY is out (see lingering_).
    reading_ = false;
    lingering_ = true;
    DropStreams();
  }
  if (!lingering_ && evbuffer_get_length(bufferevent_get_output(bev_)) == 0 && streams_.empty()) {
    Teardown();
  }
}

void H2Connection::ProtocolError(uint32_t code, std::string_view reason) {
  transport_.protocol_errors_.Inc();
  spdlog::debug("gRPC {}: HTTP/2 error {}: {}", peer_, code, reason);
  GoAway(code, reason, true);
}

void H2Connection::WriteFrame(uint8_t type, uint8_t flags, uint32_t stream_id, const void* payload,
                              size_t length) {
  uint8_t header[kFrameHeader];
  PutFrameHeader(header, length, type, flags, stream_id);
  evbuffer* out = bufferevent_get_output(bev_);
  evbuffer_add(out, header, sizeof(header));
  if (length > 0) evbuffer_add(out, payload, length);
}

void H2Connection::WriteWindowUpdate(uint32_t stream_id, uint32_t increment) {
  uint8_t payload[4];
  PutBe32(payload, increment);
  WriteFrame(kWindowUpdate, 0, stream_id, payload, sizeof(payload));
}

void H2Connection::WriteRst(uint32_t stream_id, uint32_t code) {
  uint8_t payload[4];
  PutBe32(payload, code);
  WriteFrame(kRstStream, 0, stream_id, payload, sizeof(payload));
}

void H2Connection::OnRead() {
  auto self = shared_from_this();  // a handler may tear the connection down
  evbuffer* in = bufferevent_get_input(bev_);
  if (!reading_) {
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  if (!preface_done_) {
    if (evbuffer_get_length(in) < kPreface.size()) return;
    const auto* data = evbuffer_pullup(in, static_cast<ev_ssize_t>(kPreface.size()));
    if (std::memcmp(data, kPreface.data(), kPreface.size()) != 0) {
      ProtocolError(kProtocolError, "not an HTTP/2 client preface");
      return;
    }
    evbuffer_drain(in, kPreface.size());
    preface_done_ = true;
    bufferevent_set_timeouts(bev_, nullptr, nullptr);
  }
  while (!torn_down_ && reading_) {
    uint8_t header[kFrameHeader];
    if (evbuffer_copyout(in, header, sizeof(header)) < static_cast<ev_ssize_t>(sizeof(header))) {
      break;
    }
    const uint32_t length = (uint32_t{header[0]} << 16) | (uint32_t{header[1]} << 8) | header[2];
    if (length > kMaxFrameSize) {
      ProtocolError(kFrameSizeError, "frame larger than SETTINGS_MAX_FRAME_SIZE");
      return;
    }
    if (evbuffer_get_length(in) < kFrameHeader + length) break;
    const uint8_t* frame = evbuffer_pullup(in, static_cast<ev_ssize_t>(kFrameHeader + length));
    last_frame_ = std::chrono::steady_clock::now();
    ping_sent_ = {};  // any frame shows the client is alive
    const bool ok = ProcessFrame(header[3], header[4], Be32(header + 5) & 0x7fffffff,
                                 frame + kFrameHeader, length);
    if (torn_down_) return;
    evbuffer_drain(in, kFrameHeader + length);
    if (!ok) return;
  }
  if (!ready_.empty()) Pump();
}

bool H2Connection::ProcessFrame(uint8_t type, uint8_t flags, uint32_t stream_id,
                                const uint8_t* payload, uint32_t length) {
  if (header_stream_ != 0 && type != kContinuation) {
    ProtocolError(kProtocolError, "expected CONTINUATION");
    return false;
  }
  switch (type) {
    case kData:
      return OnData(flags, stream_id, payload, length);
    case kHeaders: {
      if (stream_id == 0) {
        ProtocolError(kProtocolError, "HEADERS on stream 0");
        return false;
      }
      size_t skip = 0;
      size_t pad = 0;
      if (flags & kPadded) {
        if (length < 1) {
          ProtocolError(kProtocolError, "bad padding");
          return false;
        }
        pad = payload[0];
        skip = 1;
      }
      if (flags & kPriorityFlag) skip += 5;
      if (skip + pad > length) {
        ProtocolError(kProtocolError, "bad padding");
        return false;
      }
      std::string block(reinterpret_cast<const char*>(payload) + skip, length - skip - pad);
      if (!(flags & kEndHeaders)) {
        header_stream_ = stream_id;
        header_end_stream_ = (flags & kEndStream) != 0;
        header_block_ = std::move(block);
        return true;
      }
      return OnHeaders(stream_id, std::move(block), (flags & kEndStream) != 0);
    }
    case kContinuation: {
      if (header_stream_ == 0 || stream_id != header_stream_) {
        ProtocolError(kProtocolError, "unexpected CONTINUATION");
        return false;
      }
      header_block_.append(reinterpret_cast<const char*>(payload), length);
      if (header_block_.size() > 2 * transport_.options_.max_header_list_bytes) {
        ProtocolError(kEnhanceYourCalm, "header block too large");
        return false;
      }
      if (!(flags & kEndHeaders)) return true;
      const uint32_t id = header_stream_;
      header_stream_ = 0;
      return OnHeaders(id, std::move(header_block_), header_end_stream_);
    }
    case kPriority:
      if (length != 5) {
        ProtocolError(kFrameSizeError, "PRIORITY of bad length");
        return false;
      }
      return true;
    case kRstStream: {
      if (length != 4 || stream_id == 0) {
        ProtocolError(length != 4 ? kFrameSizeError : kProtocolError, "bad RST_STREAM");
        return false;
      }
      // The client cancelled: the call is over without trailers.
      if (auto it = streams_.find(stream_id); it != streams_.end()) {
        it->second->finish_requested = true;
        EndStream(stream_id);
      }
      return true;
    }
    case kSettings:
      return OnSettings(flags, payload, length);
    case kPushPromise:
      ProtocolError(kProtocolError, "clients cannot push");
      return false;
    case kPing:
      if (length != 8 || stream_id != 0) {
        ProtocolError(length != 8 ? kFrameSizeError : kProtocolError, "bad PING");
        return false;
      }
      if (!(flags & kAck)) WriteFrame(kPing, kAck, 0, payload, 8);
      return true;
    case kGoaway:
      // The client leaves; it closes the socket when its calls are done.
      return true;
    case kWindowUpdate:
      return OnWindowUpdate(stream_id, payload, length);
    default:
      return true;  // unknown frame types are ignored (RFC 9113 4.1)
  }
}

bool H2Connection::OnSettings(uint8_t flags, const uint8_t* payload, uint32_t length) {
  if (flags & kAck) return true;
  if (length % 6 != 0) {
    ProtocolError(kFrameSizeError, "SETTINGS of bad length");
    return false;
  }
  for (uint32_t at = 0; at < length; at += 6) {
    const uint16_t id = static_cast<uint16_t>((payload[at] << 8) | payload[at + 1]);
    const uint32_t value = Be32(payload + at + 2);
    if (id == kInitialWindowSize) {  // applies to every open stream as a delta
      if (value > kMaxWindow) {
        ProtocolError(kFlowControlError, "INITIAL_WINDOW_SIZE above 2^31-1");
        return false;
      }
      const int64_t delta = static_cast<int64_t>(value) - peer_initial_window_;
      peer_initial_window_ = value;
      for (auto& [sid, s] : streams_) {
        s->send_window += delta;
        MarkReady(*s);
      }
    } else if (id == kMaxFrameSizeSetting) {
      if (value < kDefaultMaxFrameSize || value > kLargestMaxFrameSize) {
        ProtocolError(kProtocolError, "bad MAX_FRAME_SIZE");
        return false;
      }
      peer_max_frame_ = value;
    } else if (id == kEnablePush && value > 1) {
      ProtocolError(kProtocolError, "bad ENABLE_PUSH");
      return false;
    }
    // HEADER_TABLE_SIZE needs nothing: our encoder keeps no table.
  }
  WriteFrame(kSettings, kAck, 0, nullptr, 0);
  return true;
}

bool H2Connection::OnWindowUpdate(uint32_t stream_id, const uint8_t* payload, uint32_t length) {
  if (length != 4) {
    ProtocolError(kFrameSizeError, "WINDOW_UPDATE of bad length");
    return false;
  }
  const uint32_t increment = Be32(payload) & 0x7fffffff;
  if (stream_id == 0) {
    if (increment == 0 || send_window_ + increment > kMaxWindow) {
      ProtocolError(increment == 0 ? kProtocolError : kFlowControlError, "bad WINDOW_UPDATE");
      return false;
    }
    send_window_ += increment;
    for (auto& [sid, s] : streams_) {
      if (!s->queue.empty() || s->out_pos < s->out.size()) MarkReady(*s);
    }
    return true;
  }
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return true;  // a stream that just ended
  H2Stream& s = *it->second;
  if (increment == 0 || s.send_window + increment > kMaxWindow) {
    WriteRst(stream_id, increment == 0 ? kProtocolError : kFlowControlError);
    s.finish_requested = true;
    EndStream(stream_id);
    return true;
  }
  s.send_window += increment;
  MarkReady(s);
  return true;
}

bool H2Connection::OnData(uint8_t flags, uint32_t stream_id, const uint8_t* payload,
                          uint32_t length) {
  if (stream_id == 0) {
    ProtocolError(kProtocolError, "DATA on stream 0");
    return false;
  }
  // Flow control counts the whole payload, padding included, whatever becomes of it.
  recv_unacked_ += length;
  if (recv_unacked_ >= kConnectionWindow / 2) {
    WriteWindowUpdate(0, recv_unacked_);
    recv_unacked_ = 0;
  }
  size_t skip = 0;
  size_t pad = 0;
  if (flags & kPadded) {
    if (length < 1 || payload[0] >= length) {
      ProtocolError(kProtocolError, "bad padding");
      return false;
    }
    pad = payload[0];
    skip = 1;
  }
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) {
    if (stream_id > last_stream_id_) {
      ProtocolError(kProtocolError, "DATA on an idle stream");
      return false;
    }
    return true;  // the stream already ended (we answered or reset it)
  }
  H2Stream& s = *it->second;
  if (s.remote_closed) {
    WriteRst(stream_id, kStreamClosed);
    return true;
  }
  if (!s.rejected) {
    buffered_ += length - skip - pad;
    if (buffered_ > 3 * transport_.options_.max_message_bytes) {
      ProtocolError(kEnhanceYourCalm, "too much unfinished request data");
      return false;
    }
    s.in.append(reinterpret_cast<const char*>(payload) + skip, length - skip - pad);
    s.recv_unacked += length;
    if (s.recv_unacked >= kStreamWindow / 2 && !(flags & kEndStream)) {
      WriteWindowUpdate(stream_id, s.recv_unacked);
      s.recv_unacked = 0;
    }
    CutMessages(s);
    if (torn_down_) return false;
  }
  if (flags & kEndStream) OnRemoteClosed(s);
  return true;
}

void H2Connection::CutMessages(H2Stream& s) {
  const size_t limit = transport_.options_.max_message_bytes;
  size_t at = 0;
  while (!s.rejected && s.in.size() - at >= 5) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.in.data() + at);
    const uint32_t length = Be32(p + 1);
    if (length > limit) {
      Reject(s, kGrpcResourceExhausted,
             common::StrCat("received message larger than max (", length, " vs. ", limit, ")"));
      break;
    }
    if (s.in.size() - at - 5 < length) break;
    if (p[0] != 0) {
      Reject(s, kGrpcUnimplemented, "compressed messages are not supported");
      break;
    }
    std::string message = s.in.substr(at + 5, length);
    at += 5 + length;
    if (!s.bidi) {
      if (s.have_request) {
        Reject(s, kGrpcUnimplemented, "a unary call carries one request message");
        break;
      }
      s.request = std::move(message);
      s.have_request = true;
    } else if (s.handler) {
      s.handler->OnMessage(std::move(message));
      if (torn_down_) return;
    }
  }
  if (s.rejected) {
    buffered_ -= s.in.size();
    std::string().swap(s.in);
  } else if (at > 0) {
    buffered_ -= at;
    s.in.erase(0, at);
  }
}

void H2Connection::Reject(H2Stream& s, int code, std::string message) {
  transport_.rejected_calls_.Inc();
  s.rejected = true;
  s.queue.clear();
  s.finish_requested = true;
  s.status = code;
  s.status_message = std::move(message);
  MarkReady(s);
}

void H2Connection::OnRemoteClosed(H2Stream& s) {
  s.remote_closed = true;
  if (s.rejected) {
    MarkReady(s);
    return;
  }
  if (s.bidi) {
    if (s.handler) s.handler->OnHalfClose();
    return;
  }
  if (!s.have_request) {
    Reject(s, kGrpcInternal, "the request message is missing");
    return;
  }
  if (!s.dispatched) {
    s.dispatched = true;
    (*s.unary)(s.call, std::move(s.request));
  }
}

void H2Connection::RespondHttpError(uint32_t stream_id, std::string_view status) {
  std::string block;
  HpackAppendLiteral(block, 8, "", status);  // :status
  WriteFrame(kHeaders, kEndHeaders | kEndStream, stream_id, block.data(), block.size());
}

bool H2Connection::OnHeaders(uint32_t stream_id, std::string block, bool end_stream) {
  std::vector<HeaderField> fields;
  if (auto s = hpack_.Decode(block, fields, transport_.options_.max_header_list_bytes); !s.ok()) {
    ProtocolError(
        s.code() == absl::StatusCode::kResourceExhausted ? kEnhanceYourCalm : kCompressionError,
        common::ToStd(s.message()));
    return false;
  }
  if (auto it = streams_.find(stream_id); it != streams_.end()) {
    // Trailers from the client: only END_STREAM matters.
    if (end_stream) OnRemoteClosed(*it->second);
    return true;
  }
  if (stream_id % 2 == 0 || stream_id <= last_stream_id_) {
    ProtocolError(kProtocolError, "bad stream id");
    return false;
  }
  last_stream_id_ = stream_id;
  if (closing_) {
    WriteRst(stream_id, kRefusedStream);
    return true;
  }
  if (streams_.size() >= transport_.options_.max_concurrent_streams) {
    WriteRst(stream_id, kRefusedStream);
    return true;
  }
  std::string_view method, path, content_type, credential;
  bool has_credential = false;
  const std::string& auth_header = transport_.options_.call_auth_header;
  for (const auto& f : fields) {
    if (f.name == ":method")
      method = f.value;
    else if (f.name == ":path")
      path = f.value;
    else if (f.name == "content-type")
      content_type = f.value;
    else if (!auth_header.empty() && f.name == auth_header && !has_credential) {
      credential = f.value;
      has_credential = true;
    }
  }
  if (method != "POST") {
    transport_.rejected_calls_.Inc();
    RespondHttpError(stream_id, "405");
    return true;
  }
  if (content_type.substr(0, 16) != "application/grpc") {
    transport_.rejected_calls_.Inc();
    RespondHttpError(stream_id, "415");
    return true;
  }
  auto stream = std::make_unique<H2Stream>();
  H2Stream& s = *stream;
  s.id = stream_id;
  s.send_window = peer_initial_window_;
  s.call = std::make_shared<GrpcCall>(transport_.owner_, weak_from_this(), stream_id, peer_);
  streams_.emplace(stream_id, std::move(stream));
  if (transport_.options_.check_call_auth &&
      (!has_credential || !transport_.options_.check_call_auth(credential))) {
    transport_.unauthenticated_calls_.Inc();
    Reject(s, kGrpcUnauthenticated, "this port serves cluster members only: no valid peer key");
  } else if (auto stream_method = transport_.options_.stream_methods.find(path);
             stream_method != transport_.options_.stream_methods.end()) {
    s.bidi = true;
    s.handler = stream_method->second(s.call);
  } else if (auto unary = transport_.options_.unary_methods.find(path);
             unary != transport_.options_.unary_methods.end()) {
    s.unary = &unary->second;
  } else {
    Reject(s, kGrpcUnimplemented, common::StrCat("unknown method ", path));
  }
  if (end_stream) OnRemoteClosed(s);
  return true;
}

void H2Connection::QueueMessage(uint32_t stream_id, std::string message, std::string coalesce_key) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  H2Stream& s = *it->second;
  if (s.finish_requested) {
    s.call->Dequeued(1);
    return;
  }
  if (!coalesce_key.empty()) {
    for (auto& [key, queued] : s.queue) {
      if (key == coalesce_key) {
        queued = std::move(message);
        s.call->Dequeued(1);
        return;
      }
    }
  }
  s.queue.emplace_back(std::move(coalesce_key), std::move(message));
  MarkReady(s);
  Pump();
}

void H2Connection::FinishCall(uint32_t stream_id, int code, std::string message) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  H2Stream& s = *it->second;
  if (s.finish_requested) return;
  s.finish_requested = true;
  s.status = code;
  s.status_message = std::move(message);
  MarkReady(s);
  Pump();
}

void H2Connection::MarkReady(H2Stream& s) {
  if (s.in_ready) return;
  s.in_ready = true;
  ready_.push_back(s.id);
}

void H2Connection::Pump() {
  if (torn_down_) return;
  evbuffer* out = bufferevent_get_output(bev_);
  std::vector<uint32_t> ready;
  ready.swap(ready_);
  size_t i = 0;
  for (; i < ready.size(); ++i) {
    if (evbuffer_get_length(out) >= kOutputHighWater) break;  // OnWritten resumes
    auto it = streams_.find(ready[i]);
    if (it == streams_.end()) continue;
    H2Stream& s = *it->second;
    s.in_ready = false;
    if (!WriteStream(s)) MarkReady(s);  // blocked by flow control or the high water mark
  }
  // Streams not reached keep their place.
  for (; i < ready.size(); ++i) {
    ready_.push_back(ready[i]);
  }
}

namespace {
void AppendStatus(std::string& block, const H2Stream& s) {
  HpackAppendLiteral(block, 0, "grpc-status", std::to_string(s.status));
  if (!s.status_message.empty()) {
    HpackAppendLiteral(block, 0, "grpc-message", PercentEncode(s.status_message));
  }
}
}  // namespace

void H2Connection::SendHeaders(H2Stream& s, bool trailers_only) {
  std::string block;
  HpackAppendIndexed(block, 8);                           // :status 200
  HpackAppendLiteral(block, 31, "", "application/grpc");  // content-type
  if (trailers_only) AppendStatus(block, s);
  WriteFrame(kHeaders, kEndHeaders | (trailers_only ? kEndStream : 0), s.id, block.data(),
             block.size());
  s.headers_sent = true;
}

void H2Connection::SendTrailers(H2Stream& s) {
  std::string block;
  AppendStatus(block, s);
  WriteFrame(kHeaders, kEndHeaders | kEndStream, s.id, block.data(), block.size());
}

bool H2Connection::WriteStream(H2Stream& s) {
  evbuffer* out = bufferevent_get_output(bev_);
  while (true) {
    if (s.out_pos == s.out.size()) {
      s.out.clear();
      s.out_pos = 0;
      if (!s.queue.empty()) {
        std::string& message = s.queue.front().second;
        s.out.resize(5);
        s.out[0] = 0;
        PutBe32(reinterpret_cast<uint8_t*>(s.out.data()) + 1,
                static_cast<uint32_t>(message.size()));
        s.out.append(message);
        s.queue.pop_front();
        s.call->Dequeued(1);
      } else if (s.finish_requested) {
        if (s.headers_sent) {
          SendTrailers(s);
        } else {
          SendHeaders(s, /*trailers_only=*/true);
        }
        // The client may still be sending; tell it to stop (gRPC servers do this).
        if (!s.remote_closed) WriteRst(s.id, kNoError);
        EndStream(s.id);
        return true;
      } else {
        std::string().swap(s.out);  // an idle stream keeps no buffer
        return true;
      }
    }
    if (!s.headers_sent) SendHeaders(s, false);
    const int64_t room =
        std::min<int64_t>({static_cast<int64_t>(s.out.size() - s.out_pos), s.send_window,
                           send_window_, static_cast<int64_t>(peer_max_frame_)});
    if (room <= 0) return false;
    WriteFrame(kData, 0, s.id, s.out.data() + s.out_pos, static_cast<size_t>(room));
    s.out_pos += static_cast<size_t>(room);
    s.send_window -= room;
    send_window_ -= room;
    if (evbuffer_get_length(out) >= kOutputHighWater)
      return s.out_pos == s.out.size() && s.queue.empty() && !s.finish_requested;
  }
}

void H2Connection::EndStream(uint32_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  std::unique_ptr<H2Stream> s = std::move(it->second);
  streams_.erase(it);
  buffered_ -= s->in.size();
  s->call->MarkFinished();
  s->call->Dequeued(static_cast<int>(s->queue.size()));
  if (s->handler) s->handler->OnDone();
  if (closing_ && !lingering_ && streams_.empty() &&
      evbuffer_get_length(bufferevent_get_output(bev_)) == 0) {
    Teardown();
  }
}

// ---------------------------------------------------------------- GrpcTransport

GrpcTransport::GrpcTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrpcTransport::~GrpcTransport() = default;

absl::StatusOr<std::unique_ptr<GrpcTransport>> GrpcTransport::Start(
    GrpcTransportOptions options, common::MetricsRegistry& metrics) {
  auto impl = std::make_unique<Impl>(std::move(options), metrics);
  std::unique_ptr<GrpcTransport> transport(new GrpcTransport(std::move(impl)));
  transport->impl_->owner_ = transport.get();
  if (auto s = transport->impl_->Start(); !s.ok()) return s;
  return transport;
}

int GrpcTransport::port() const { return impl_->port_; }
void GrpcTransport::Shutdown(int grace_ms) { impl_->Shutdown(grace_ms); }

}  // namespace dnsd::net
