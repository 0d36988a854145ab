#include "api/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "api/http1_parser.h"
#include "common/socket_address.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::api {

// Pipelined bytes kept while a request is handled, and answer bytes queued before the next
// pipelined request is read: both bound a connection's memory.
constexpr size_t kMaxBufferedInput = 256 * 1024;
constexpr size_t kMaxQueuedOutput = 1 << 20;

struct DeferredReply::State {
  HttpWorker* worker = nullptr;
  HttpConnection* conn = nullptr;          // valid while alive (loop thread only)
  std::function<void(HttpResponse)> sink;  // an internal request's answer, instead of conn
  std::atomic<bool> sunk{false};
  bool alive = true;                     // loop thread only
  std::function<void()> on_client_gone;  // loop thread only
};

struct HttpWorker {
  HttpServer* server = nullptr;
  std::unique_ptr<common::EventLoop> loop;
  evconnlistener* listener = nullptr;
  std::unordered_map<HttpConnection*, std::unique_ptr<HttpConnection>> connections;
  common::Counter* responses_by_class[6] = {};  // index = status / 100
};

struct HttpConnection {
  enum class Phase { kIdle, kHeaders, kBody, kHandling, kWriting, kClosing };

  HttpConnection(HttpWorker& w, bufferevent* b, std::string peer, const Http1Limits& limits)
      : worker(w), bev(b), ip(std::move(peer)), parser(limits) {}
  ~HttpConnection() {
    if (pending) pending->alive = false;  // a late DeferredReply::Send finds it gone
    if (timer) event_free(timer);
    if (bev) bufferevent_free(bev);
  }

  HttpWorker& worker;
  bufferevent* bev;
  std::string ip;
  Http1Parser parser;
  event* timer = nullptr;
  Phase phase = Phase::kIdle;
  bool keep_alive = true;
  bool head_request = false;
  int version_minor = 1;
  std::shared_ptr<DeferredReply::State> pending;
  HttpRequest request;  // valid during Dispatch
};

namespace {

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

// The Date header, formatted once per second per thread instead of once per response.
const char* CachedDate() {
  thread_local time_t formatted_at = 0;
  thread_local char date[64];
  const time_t now = time(nullptr);
  if (now != formatted_at) {
    tm parts;
    gmtime_r(&now, &parts);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &parts);
    formatted_at = now;
  }
  return date;
}

}  // namespace

struct HttpConnectionOps {
  static void ArmTimer(HttpConnection& conn, int64_t ms) {
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
    evtimer_add(conn.timer, &tv);
  }

  // Queues the answer; afterwards the connection reads its next request or closes.
  static void WriteResponse(HttpConnection& conn, const HttpResponse& response) {
    HttpWorker& worker = conn.worker;
    if (response.status >= 100 && response.status < 600) {
      worker.responses_by_class[response.status / 100]->Inc();
    }
    std::string head = common::StrCat(
        "HTTP/1.", conn.version_minor, " ", response.status, " ", ReasonPhrase(response.status),
        "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
        "\r\nDate: ", CachedDate(), "\r\n");
    for (const auto& [name, value] : response.headers) {
      head += name;
      head += ": ";
      head += value;
      head += "\r\n";
    }
    if (!conn.keep_alive) {
      head += "HttpConnection: close\r\n";
    } else if (conn.version_minor == 0) {
      head += "HttpConnection: keep-alive\r\n";
    }
    head += "\r\n";
    evbuffer* out = bufferevent_get_output(conn.bev);
    evbuffer_add(out, head.data(), head.size());
    if (!conn.head_request) evbuffer_add(out, response.body.data(), response.body.size());
    if (!conn.keep_alive) {
      conn.phase = HttpConnection::Phase::kClosing;  // closed once the answer is written
      evtimer_del(conn.timer);
      bufferevent_disable(conn.bev, EV_READ);
      return;
    }
    conn.parser.Reset();
    if (evbuffer_get_length(out) > kMaxQueuedOutput) {
      conn.phase = HttpConnection::Phase::kWriting;  // the write callback goes on
      return;
    }
    conn.phase = HttpConnection::Phase::kIdle;
    ArmTimer(conn, worker.server->options_.idle_timeout_ms);
    bufferevent_enable(conn.bev, EV_READ);
    // Pipelined requests already buffered are read from the loop, not from here: calling
    // OnRead directly would recurse once per pipelined request.
    if (evbuffer_get_length(bufferevent_get_input(conn.bev)) > 0) {
      bufferevent_trigger(conn.bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
    }
  }

  // An answer to a request the parser or a limit refused: always closes the connection.
  static void Refuse(HttpConnection& conn, int status, std::string_view why) {
    conn.keep_alive = false;
    WriteResponse(conn, HttpResponse::Text(status, std::string(why)));
  }

  static void Close(HttpConnection& conn) {
    HttpWorker& worker = conn.worker;
    if (auto pending = std::move(conn.pending)) {
      pending->alive = false;
      if (pending->on_client_gone) std::exchange(pending->on_client_gone, nullptr)();
    }
    worker.server->Release(conn.ip);
    worker.connections.erase(&conn);  // frees the bufferevent (and the socket) and the timer
  }

  static void OnTimeout(evutil_socket_t, short, void* arg) {
    auto& conn = *static_cast<HttpConnection*>(arg);
    HttpServer& server = *conn.worker.server;
    switch (conn.phase) {
      case HttpConnection::Phase::kIdle:
        server.timeouts_idle_->Inc();
        Close(conn);
        return;
      case HttpConnection::Phase::kHeaders:
        server.timeouts_header_->Inc();
        Refuse(conn, 408, "the request headers did not arrive in time");
        return;
      case HttpConnection::Phase::kBody:
        server.timeouts_body_->Inc();
        Refuse(conn, 408, "the request body did not arrive in time");
        return;
      default:
        return;
    }
  }

  static void OnRead(bufferevent* bev, void* arg) {
    auto& conn = *static_cast<HttpConnection*>(arg);
    HttpServer& server = *conn.worker.server;
    evbuffer* input = bufferevent_get_input(bev);
    while (conn.phase == HttpConnection::Phase::kIdle ||
           conn.phase == HttpConnection::Phase::kHeaders ||
           conn.phase == HttpConnection::Phase::kBody) {
      evbuffer_iovec chunk;
      if (evbuffer_peek(input, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) break;
      size_t consumed = 0;
      const auto state = conn.parser.Feed(
          std::string_view(static_cast<const char*>(chunk.iov_base), chunk.iov_len), consumed);
      evbuffer_drain(input, consumed);
      if (conn.phase == HttpConnection::Phase::kIdle && conn.parser.started()) {
        conn.phase = HttpConnection::Phase::kHeaders;
        ArmTimer(conn, server.options_.header_timeout_ms);
      }
      switch (state) {
        case Http1Parser::State::kNeedMore:
          if (consumed == 0) return;
          continue;
        case Http1Parser::State::kHeadersDone: {
          conn.phase = HttpConnection::Phase::kBody;
          ArmTimer(conn, server.options_.body_timeout_ms);
          const Http1Request& req = conn.parser.request();
          conn.version_minor = req.version_minor;
          if (req.expects_continue) {
            static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
            bufferevent_write(bev, kContinue, sizeof(kContinue) - 1);
          }
          continue;
        }
        case Http1Parser::State::kDone:
          evtimer_del(conn.timer);
          conn.phase = HttpConnection::Phase::kHandling;
          server.Dispatch(conn);
          return;  // WriteResponse goes on reading pipelined requests
        case Http1Parser::State::kError: {
          const int status = conn.parser.error_status();
          if (status == 413) {
            server.oversized_->Inc();
          } else {
            server.malformed_->Inc();
          }
          conn.version_minor = 1;
          conn.head_request = false;
          Refuse(conn, status, conn.parser.error());
          return;
        }
      }
    }
    // Handling a request: keep reading (to notice a client that leaves) but bound the buffer.
    if (conn.phase == HttpConnection::Phase::kHandling &&
        evbuffer_get_length(input) > kMaxBufferedInput) {
      bufferevent_disable(bev, EV_READ);
    }
  }

  static void OnWrite(bufferevent* bev, void* arg) {
    auto& conn = *static_cast<HttpConnection*>(arg);
    if (conn.phase == HttpConnection::Phase::kClosing) {
      Close(conn);
    } else if (conn.phase == HttpConnection::Phase::kWriting) {
      conn.phase = HttpConnection::Phase::kIdle;
      ArmTimer(conn, conn.worker.server->options_.idle_timeout_ms);
      bufferevent_enable(bev, EV_READ);
      if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) OnRead(bev, &conn);
    }
  }

  static void OnEvent(bufferevent*, short what, void* arg) {
    auto& conn = *static_cast<HttpConnection*>(arg);
    // A TLS handshake that completed: the connection goes on.
    if (what == BEV_EVENT_CONNECTED) return;
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_WRITING)) {
      conn.worker.server->timeouts_write_->Inc();
    }
    // EOF, error, or a client that stopped reading its answer.
    Close(conn);
  }

  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len, void* arg) {
    auto& worker = *static_cast<HttpWorker*>(arg);
    HttpServer& server = *worker.server;
    const std::string ip = common::SocketAddress::FromSockaddr(addr, len).ip();
    int refused_status = 0;
    if (!server.Admit(ip, refused_status)) {
      // Best effort: the client learns why before the close.
      const std::string answer = common::StrCat(
          "HTTP/1.1 ", refused_status, " ", ReasonPhrase(refused_status),
          "\r\nContent-Type: text/plain;charset=UTF-8\r\nConnection: close\r\nContent-Length: 20"
          "\r\n\r\ntoo many connections");
      [[maybe_unused]] ssize_t sent =
          send(fd, answer.data(), answer.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      close(fd);
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    // A TLS handshake runs inside the bufferevent; the idle deadline below bounds it.
    bufferevent* bev =
        common::NewServerBufferevent(worker.loop->base(), fd, server.options_.tls.get());
    if (bev == nullptr) {
      close(fd);
      server.Release(ip);
      return;
    }
    Http1Limits limits;
    limits.max_body_bytes = server.options_.max_body_bytes * 2;
    auto conn = std::make_unique<HttpConnection>(worker, bev, ip, limits);
    HttpConnection* raw = conn.get();
    raw->timer = evtimer_new(worker.loop->base(), &OnTimeout, raw);
    worker.connections.emplace(raw, std::move(conn));
    bufferevent_setcb(bev, &OnRead, &OnWrite, &OnEvent, raw);
    const int64_t write_ms = server.options_.body_timeout_ms;
    timeval write_tv{static_cast<time_t>(write_ms / 1000),
                     static_cast<suseconds_t>((write_ms % 1000) * 1000)};
    bufferevent_set_timeouts(bev, nullptr, &write_tv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    ArmTimer(*raw, server.options_.idle_timeout_ms);
  }
};

std::string UrlDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && common::HexDigitValue(in[i + 1]) >= 0 &&
               common::HexDigitValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(common::HexDigitValue(in[i + 1]) * 16 +
                                      common::HexDigitValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string UrlEncode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() * 3);
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '*') {
      out.push_back(static_cast<char>(c));
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

void ParseFormInto(std::string_view encoded, Params& out) {
  size_t start = 0;
  while (start < encoded.size()) {
    size_t amp = encoded.find('&', start);
    if (amp == std::string_view::npos) amp = encoded.size();
    std::string_view pair = encoded.substr(start, amp - start);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        out.Add(UrlDecode(pair), "");
      } else {
        out.Add(UrlDecode(pair.substr(0, eq)), UrlDecode(pair.substr(eq + 1)));
      }
    }
    start = amp + 1;
  }
}

void Responder::Send(HttpResponse response) {
  if (answered_) return;
  answered_ = true;
  if (sink_) {
    sink_(std::move(response));
    return;
  }
  HttpConnectionOps::WriteResponse(*conn_, response);
}

DeferredReply Responder::Defer() {
  answered_ = true;
  auto state = std::make_shared<DeferredReply::State>();
  if (sink_) {
    state->sink = sink_;
    return DeferredReply(std::move(state));
  }
  state->worker = &conn_->worker;
  state->conn = conn_;
  conn_->pending = state;
  return DeferredReply(std::move(state));
}

void DeferredReply::OnClientGone(std::function<void()> fn) const {
  state_->on_client_gone = std::move(fn);
}

void DeferredReply::Send(HttpResponse response) const {
  auto state = state_;
  if (state->sink) {
    if (!state->sunk.exchange(true)) state->sink(std::move(response));
    return;
  }
  state->worker->loop->Post([state, response = std::move(response)] {
    if (!state->alive) return;
    state->alive = false;
    state->on_client_gone = nullptr;
    HttpConnection& conn = *state->conn;
    conn.pending.reset();
    HttpConnectionOps::WriteResponse(conn, response);
  });
}

HttpServer::HttpServer(const HttpServerOptions& options, common::MetricsRegistry& metrics)
    : options_(options) {
  oversized_ = &metrics.GetCounter("dnsd_api_http_oversized_bodies_total",
                                   "Requests rejected because the body exceeded the limit");
  accept_errors_ = &metrics.GetCounter("dnsd_api_http_accept_errors_total",
                                       "accept() failures on the HTTP port");
  malformed_ = &metrics.GetCounter("dnsd_api_http_malformed_requests_total",
                                   "Requests refused by the HTTP/1.1 parser (connection closed)");
  const char* refused_help = "Connections refused at accept by a connection limit";
  refused_total_ = &metrics.GetCounter("dnsd_api_http_refused_connections_total", refused_help,
                                       "limit=\"total\"");
  refused_per_client_ = &metrics.GetCounter("dnsd_api_http_refused_connections_total", refused_help,
                                            "limit=\"per_client\"");
  const char* timeout_help = "Connections closed because a client was too slow or idle";
  timeouts_header_ =
      &metrics.GetCounter("dnsd_api_http_timeouts_total", timeout_help, "phase=\"header\"");
  timeouts_body_ =
      &metrics.GetCounter("dnsd_api_http_timeouts_total", timeout_help, "phase=\"body\"");
  timeouts_idle_ =
      &metrics.GetCounter("dnsd_api_http_timeouts_total", timeout_help, "phase=\"idle\"");
  timeouts_write_ =
      &metrics.GetCounter("dnsd_api_http_timeouts_total", timeout_help, "phase=\"write\"");
  wrong_method_ = &metrics.GetCounter("dnsd_api_http_wrong_method_total",
                                      "Requests answered 405 or 501 for their method");
  metrics.AddGauge("dnsd_api_http_connections", "Open HTTP connections",
                   [this] { return static_cast<double>(connection_count()); });
}

HttpServer::~HttpServer() {
  Stop();
  for (auto& worker : workers_) {
    worker->connections.clear();
    if (worker->listener) {
      common::ForgetAcceptPause(worker->listener);
      evconnlistener_free(worker->listener);
    }
  }
  workers_.clear();
  if (listen_fd_ >= 0) close(listen_fd_);
}

bool HttpServer::Admit(const std::string& ip, int& refused_status) {
  if (connections_.fetch_add(1, std::memory_order_relaxed) >= options_.max_connections) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    refused_total_->Inc();
    refused_status = 503;
    return false;
  }
  std::lock_guard lock(clients_mu_);
  int& count = per_client_[ip];
  if (count >= options_.max_connections_per_client) {
    connections_.fetch_sub(1, std::memory_order_relaxed);
    refused_per_client_->Inc();
    refused_status = 429;
    return false;
  }
  ++count;
  return true;
}

void HttpServer::Release(const std::string& ip) {
  connections_.fetch_sub(1, std::memory_order_relaxed);
  std::lock_guard lock(clients_mu_);
  auto it = per_client_.find(ip);
  if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpServerOptions& options,
                                                               common::MetricsRegistry& metrics) {
  std::unique_ptr<HttpServer> server(new HttpServer(options, metrics));
  auto addr = common::SocketAddress::FromIp(options.address, options.port);
  if (!addr.ok()) {
    return absl::InvalidArgumentError(common::StrCat("http.address: ", addr.status().message()));
  }
  const int fd = socket(addr->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(common::StrCat("socket: ", std::strerror(errno)));
  server->listen_fd_ = fd;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, addr->get(), addr->length) != 0) {
    return absl::UnavailableError(
        common::StrCat("cannot listen for HTTP on ", addr->ToString(), ": ", std::strerror(errno)));
  }
  if (listen(fd, 1024) != 0) {
    return absl::UnavailableError(common::StrCat("listen: ", std::strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  server->port_ =
      common::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len).port();

  const int threads = options.threads > 0 ? options.threads : 1;
  for (int i = 0; i < threads; ++i) {
    auto worker = std::make_unique<HttpWorker>();
    worker->server = server.get();
    for (int c = 1; c < 6; ++c) {
      worker->responses_by_class[c] = &metrics.GetCounter("dnsd_api_http_responses_total",
                                                          "HTTP responses sent, by status class",
                                                          common::StrCat("class=\"", c, "xx\""));
    }
    auto loop = common::EventLoop::Create();
    if (!loop.ok()) return loop.status();
    worker->loop = std::move(*loop);
    // The socket is shared by every worker's listener and closed by the server.
    worker->listener = evconnlistener_new(worker->loop->base(), &HttpConnectionOps::OnAccept,
                                          worker.get(), 0, 0, fd);
    if (worker->listener == nullptr) return absl::InternalError("evconnlistener_new failed");
    common::PauseOnAcceptErrors(worker->listener, *server->accept_errors_, "HTTP");
    server->workers_.push_back(std::move(worker));
  }
  return server;
}

void HttpServer::Route(std::string path, Handler handler, uint32_t methods) {
  routes_[std::move(path)] = Route_{std::move(handler), methods};
}

void HttpServer::Start() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    threads_.emplace_back([w = workers_[i].get(), i] {
      common::SetThreadName("http-" + std::to_string(i));
      w->loop->Run();
    });
  }
}

void HttpServer::Stop() {
  for (auto& worker : workers_) worker->loop->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

void HttpServer::Dispatch(HttpConnection& conn) {
  Http1Request& raw = conn.parser.request();
  conn.keep_alive = raw.keep_alive;
  conn.version_minor = raw.version_minor;
  conn.head_request = raw.method == "HEAD";
  HttpRequest& request = conn.request;
  request = HttpRequest();
  request.method = MethodFromName(raw.method);
  request.headers = &raw.headers;
  request.remote_ip = conn.ip;
  std::string_view target = raw.target;
  // absolute-form (RFC 9112 section 3.2.2): only the path and query matter here.
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const size_t slash = target.find('/', target.find("//") + 2);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  const size_t question = target.find('?');
  std::string_view path = target.substr(0, question);
  if (question != std::string_view::npos)
    ParseFormInto(target.substr(question + 1), request.params);
  const size_t fragment = path.find('#');
  request.path = std::string(path.substr(0, fragment));
  if (request.path.empty()) request.path = "/";
  if (request.path.size() > 1 && request.path.back() == '/') request.path.pop_back();

  Responder responder;
  responder.conn_ = &conn;
  const size_t body_len = raw.body.size();
  if (body_len > options_.max_body_bytes) {
    oversized_->Inc();
    responder.Send(HttpResponse::Text(
        400, common::StrCat("request body of ", body_len, " bytes exceeds the limit of ",
                            options_.max_body_bytes, " bytes")));
    return;
  }
  if (request.method == Method::kOther) {
    wrong_method_->Inc();
    conn.keep_alive = false;
    responder.Send(
        HttpResponse::Text(501, common::StrCat("method ", raw.method, " is not served")));
    return;
  }
  if (body_len > 0) {
    request.body = raw.body;
    const std::string_view content_type = request.Header("content-type");
    // Form bodies carry parameters for every method. A body with no content type is read as a
    // form too: several SDKs omit the header.
    if (content_type.empty() ||
        content_type.find("application/x-www-form-urlencoded") != std::string_view::npos) {
      ParseFormInto(request.body, request.params);
    }
  }
  RouteRequest(request, responder, /*guarded=*/true);
}

void HttpServer::DispatchInternal(const HttpRequest& request,
                                  std::function<void(HttpResponse)> reply) {
  Responder responder;
  responder.sink_ = std::move(reply);
  if (request.method == Method::kOther) {
    responder.Send(HttpResponse::Text(501, "method is not served"));
    return;
  }
  HttpRequest copy = request;  // shares the caller's buffers, which outlive the call
  RouteRequest(copy, responder, /*guarded=*/false);
}

void HttpServer::RouteRequest(HttpRequest& request, Responder& responder, bool guarded) {
  auto route = routes_.find(request.path);
  if (route == routes_.end()) {
    responder.Send(HttpResponse::Text(404, common::StrCat("no such API: ", request.path)));
    return;
  }
  uint32_t methods = route->second.methods;
  // HEAD is answered wherever GET is.
  if (methods & kGetMethod) methods |= 1u << static_cast<int>(Method::kHead);
  if (!(methods & (1u << static_cast<int>(request.method)))) {
    wrong_method_->Inc();
    std::string allow;
    for (const auto& [m, name] : kMethodNames) {
      if (m == Method::kOptions || !(methods & (1u << static_cast<int>(m)))) continue;
      if (!allow.empty()) allow += ", ";
      allow += name;
    }
    const std::string_view method = MethodName(request.method);
    HttpResponse response =
        HttpResponse::Text(405, common::StrCat("method ", method.empty() ? "this method" : method,
                                               " is not allowed on ", request.path));
    response.headers.emplace_back("Allow", allow);
    responder.Send(std::move(response));
    return;
  }
  if (guarded && guard_) {
    if (auto refusal = guard_(request)) {
      responder.Send(std::move(*refusal));
      return;
    }
  }
  route->second.handler(request, responder);
  if (!responder.answered_) {
    responder.Send(HttpResponse::Text(500, "handler produced no answer"));
  }
}

}  // namespace dnsd::api
