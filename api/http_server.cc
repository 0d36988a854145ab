#include "api/http_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/socket_address.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::api {

struct DeferredReply::State {
  Worker* worker;
  evhttp_request* req;
  evhttp_connection* conn;
  bool alive = true;                     // loop thread only
  std::function<void()> on_client_gone;  // loop thread only
};

struct Worker {
  HttpServer* server = nullptr;
  std::unique_ptr<common::EventLoop> loop;
  evhttp* http = nullptr;
  evconnlistener* listener = nullptr;  // evhttp's, for the accept-error pause
  std::unordered_map<evhttp_connection*, std::shared_ptr<DeferredReply::State>> pending;
  common::Counter* responses_by_class[6] = {};  // index = status / 100
};

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Method ToMethod(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET:
      return Method::kGet;
    case EVHTTP_REQ_POST:
      return Method::kPost;
    case EVHTTP_REQ_PUT:
      return Method::kPut;
    case EVHTTP_REQ_DELETE:
      return Method::kDelete;
    case EVHTTP_REQ_PATCH:
      return Method::kPatch;
    case EVHTTP_REQ_HEAD:
      return Method::kHead;
    case EVHTTP_REQ_OPTIONS:
      return Method::kOptions;
    default:
      return Method::kOther;
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

void SendOnLoop(Worker& worker, evhttp_request* req, const HttpResponse& response) {
  if (response.status >= 100 && response.status < 600) {
    worker.responses_by_class[response.status / 100]->Inc();
  }
  evkeyvalq* out = evhttp_request_get_output_headers(req);
  evhttp_add_header(out, "Content-Type", response.content_type.c_str());
  evhttp_add_header(out, "Date", CachedDate());
  for (const auto& [name, value] : response.headers) {
    evhttp_add_header(out, name.c_str(), value.c_str());
  }
  evbuffer* buf = evbuffer_new();
  evbuffer_add(buf, response.body.data(), response.body.size());
  evhttp_send_reply(req, response.status, nullptr, buf);
  evbuffer_free(buf);
}

void OnConnectionClose(evhttp_connection* conn, void* arg) {
  auto* worker = static_cast<Worker*>(arg);
  auto it = worker->pending.find(conn);
  if (it == worker->pending.end()) return;
  auto state = std::move(it->second);
  worker->pending.erase(it);
  state->alive = false;
  if (state->on_client_gone) std::exchange(state->on_client_gone, nullptr)();
}

}  // namespace

std::string UrlDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
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
  SendOnLoop(*worker_, req_, response);
}

DeferredReply Responder::Defer() {
  answered_ = true;
  auto state = std::make_shared<DeferredReply::State>();
  state->worker = worker_;
  state->req = req_;
  state->conn = evhttp_request_get_connection(req_);
  worker_->pending[state->conn] = state;
  evhttp_connection_set_closecb(state->conn, &OnConnectionClose, worker_);
  return DeferredReply(std::move(state));
}

void DeferredReply::OnClientGone(std::function<void()> fn) const {
  state_->on_client_gone = std::move(fn);
}

void DeferredReply::Send(HttpResponse response) const {
  auto state = state_;
  state->worker->loop->Post([state, response = std::move(response)] {
    if (!state->alive) return;
    state->alive = false;
    state->on_client_gone = nullptr;
    state->worker->pending.erase(state->conn);
    evhttp_connection_set_closecb(state->conn, nullptr, nullptr);
    SendOnLoop(*state->worker, state->req, response);
  });
}

HttpServer::HttpServer(const HttpServerOptions& options, common::MetricsRegistry& metrics)
    : options_(options) {
  oversized_ = &metrics.GetCounter("dnsd_api_http_oversized_bodies_total",
                                   "Requests rejected because the body exceeded the limit");
  accept_errors_ = &metrics.GetCounter("dnsd_api_http_accept_errors_total",
                                       "accept() failures on the HTTP port");
}

HttpServer::~HttpServer() {
  Stop();
  for (auto& worker : workers_) {
    if (worker->listener) common::ForgetAcceptPause(worker->listener);
    if (worker->http) evhttp_free(worker->http);
  }
  if (listen_fd_ >= 0) close(listen_fd_);
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
    auto worker = std::make_unique<Worker>();
    worker->server = server.get();
    for (int c = 1; c < 6; ++c) {
      worker->responses_by_class[c] = &metrics.GetCounter("dnsd_api_http_responses_total",
                                                          "HTTP responses sent, by status class",
                                                          common::StrCat("class=\"", c, "xx\""));
    }
    auto loop = common::EventLoop::Create();
    if (!loop.ok()) return loop.status();
    worker->loop = std::move(*loop);
    worker->http = evhttp_new(worker->loop->base());
    if (worker->http == nullptr) return absl::InternalError("evhttp_new failed");
    // evhttp refuses bodies beyond twice the limit outright (413); up to twice the limit the
    // handler answers 400 with the reason, which is what Nacos clients expect for bad input.
    evhttp_set_max_body_size(worker->http, static_cast<ev_ssize_t>(options.max_body_bytes * 2));
    evhttp_set_max_headers_size(worker->http, 64 * 1024);
    evhttp_set_timeout(worker->http, 120);
    evhttp_set_allowed_methods(worker->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                                 EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                                 EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(worker->http, &HttpServer::OnRequest, worker.get());
    evhttp_bound_socket* bound_socket = evhttp_accept_socket_with_handle(worker->http, fd);
    if (bound_socket == nullptr) return absl::InternalError("evhttp_accept_socket failed");
    worker->listener = evhttp_bound_socket_get_listener(bound_socket);
    common::PauseOnAcceptErrors(worker->listener, *server->accept_errors_, "HTTP");
    server->workers_.push_back(std::move(worker));
  }
  return server;
}

void HttpServer::Route(std::string path, Handler handler) {
  routes_[std::move(path)] = std::move(handler);
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

void HttpServer::OnRequest(evhttp_request* req, void* arg) {
  auto* worker = static_cast<Worker*>(arg);
  worker->server->Dispatch(*worker, req);
}

void HttpServer::Dispatch(Worker& worker, evhttp_request* req) {
  HttpRequest request;
  request.method = ToMethod(evhttp_request_get_command(req));
  request.headers = evhttp_request_get_input_headers(req);
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(req);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  request.path = path ? path : "/";
  if (request.path.size() > 1 && request.path.back() == '/') request.path.pop_back();
  if (const char* query = uri ? evhttp_uri_get_query(uri) : nullptr) {
    ParseFormInto(query, request.params);
  }
  evbuffer* input = evhttp_request_get_input_buffer(req);
  const size_t body_len = evbuffer_get_length(input);
  if (body_len > options_.max_body_bytes) {
    oversized_->Inc();
    SendOnLoop(worker, req,
               HttpResponse::Text(
                   400, common::StrCat("request body of ", body_len, " bytes exceeds the limit of ",
                                       options_.max_body_bytes, " bytes")));
    return;
  }
  if (body_len > 0) {
    request.body =
        std::string_view(reinterpret_cast<const char*>(evbuffer_pullup(input, -1)), body_len);
    const std::string_view content_type = request.Header("Content-Type");
    // Form bodies carry parameters for every method. A body with no content type is read as a
    // form too: several SDKs omit the header.
    if (content_type.empty() ||
        content_type.find("application/x-www-form-urlencoded") != std::string_view::npos) {
      ParseFormInto(request.body, request.params);
    }
  }
  if (evhttp_connection* conn = evhttp_request_get_connection(req)) {
    char* host = nullptr;
    uint16_t peer_port = 0;
    evhttp_connection_get_peer(conn, &host, &peer_port);
    if (host) request.remote_ip = host;
  }

  Responder responder;
  responder.worker_ = &worker;
  responder.req_ = req;
  auto route = routes_.find(request.path);
  if (route == routes_.end()) {
    responder.Send(HttpResponse::Text(404, common::StrCat("no such API: ", request.path)));
    return;
  }
  route->second(request, responder);
  if (!responder.answered_) {
    responder.Send(HttpResponse::Text(500, "handler produced no answer"));
  }
}

}  // namespace dnsd::api
