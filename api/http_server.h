// HttpServer serves HTTP/1.1 on N event-loop threads that share one listening socket; each
// connection stays on the thread that accepted it. Handlers run on that thread and either
// answer at once (Responder::Send) or take a DeferredReply and answer later from any thread,
// e.g. after a log commit; the reply is posted back to the connection's loop.
//
// Requests are read by dnsd's own parser (Http1Parser, strict about framing) so that slow and
// greedy clients cannot hold the server: the request line and headers must arrive within
// header_timeout_ms of their first byte and the body within body_timeout_ms of the headers
// (else 408 and close), idle keep-alive connections close after idle_timeout_ms, a client
// that does not read its answers is closed after body_timeout_ms, and connections are capped
// in total and per client address (503 / 429, counted). One request per connection is
// handled at a time; pipelined bytes wait in a bounded buffer.
//
// Thread-safety: routes are registered before Start(); after that the route table is
// read-only. DeferredReply::Send is thread-safe and a no-op if the client went away.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "api/http_types.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "common/tls.h"

namespace dnsd::api {

class HttpServer;
struct HttpWorker;
struct HttpConnection;
struct HttpConnectionOps;

class DeferredReply {
 public:
  struct State;
  explicit DeferredReply(std::shared_ptr<State> state) : state_(std::move(state)) {}
  void Send(HttpResponse response) const;
  // Runs `fn` on the connection's loop if the client closes the connection before the reply
  // is sent. Call on the loop thread, right after Defer().
  void OnClientGone(std::function<void()> fn) const;

 private:
  std::shared_ptr<State> state_;
};

class Responder {
 public:
  void Send(HttpResponse response);
  DeferredReply Defer();

 private:
  friend class HttpServer;
  friend struct HttpConnectionOps;
  HttpConnection* conn_ = nullptr;
  // Where an internal request's answer goes (DispatchInternal); unset for a connection's.
  std::function<void(HttpResponse)> sink_;
  bool answered_ = false;
};

using Handler = std::function<void(const HttpRequest&, Responder&)>;
// Runs before the route of every request that arrives on a connection: answers a refusal, or
// nothing and may fill in request.principal. Requests given to DispatchInternal skip it (another
// member forwarded them after its own guard passed them).
using RequestGuard = std::function<std::optional<HttpResponse>(HttpRequest&)>;

// Methods a route answers; others get 405 with an Allow header.
enum MethodMask : uint32_t {
  kGetMethod = 1u << static_cast<int>(Method::kGet),
  kPostMethod = 1u << static_cast<int>(Method::kPost),
  kPutMethod = 1u << static_cast<int>(Method::kPut),
  kDeleteMethod = 1u << static_cast<int>(Method::kDelete),
  kPatchMethod = 1u << static_cast<int>(Method::kPatch),
  kAnyMethod = 0xffffffffu,
};

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  int port = 8848;
  int threads = 2;
  size_t max_body_bytes = 12 << 20;
  int64_t header_timeout_ms = 10'000;
  int64_t body_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 60'000;
  int max_connections = 4096;
  int max_connections_per_client = 256;
  // When set, connections speak TLS (common/tls.h); its Reload applies to new connections.
  std::shared_ptr<common::TlsServerContext> tls;
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                            common::MetricsRegistry& metrics);
  ~HttpServer();

  void Route(std::string path, Handler handler, uint32_t methods = kAnyMethod);
  void SetGuard(RequestGuard guard) { guard_ = std::move(guard); }
  // Serves a request that did not come on a connection (one another member forwarded) with the
  // same routes, on the calling thread; `reply` gets the answer once, from any thread.
  void DispatchInternal(const HttpRequest& request, std::function<void(HttpResponse)> reply);
  void Start();
  void Stop();
  int port() const { return port_; }
  int connection_count() const { return connections_.load(std::memory_order_relaxed); }

 private:
  friend struct HttpConnectionOps;
  HttpServer(const HttpServerOptions& options, common::MetricsRegistry& metrics);
  void Dispatch(HttpConnection& conn);
  // Finds the request's route and runs it (404 / 405 when there is none).
  void RouteRequest(HttpRequest& request, Responder& responder, bool guarded);
  // Counts a new connection from `ip`; false (and nothing counted) when a cap is reached.
  bool Admit(const std::string& ip, int& refused_status);
  void Release(const std::string& ip);

  struct Route_ {
    Handler handler;
    uint32_t methods;
  };
  HttpServerOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::unordered_map<std::string, Route_> routes_;
  RequestGuard guard_;
  std::vector<std::unique_ptr<HttpWorker>> workers_;
  std::vector<std::thread> threads_;
  std::atomic<int> connections_{0};
  std::mutex clients_mu_;
  absl::flat_hash_map<std::string, int> per_client_;

  common::Counter* oversized_;
  common::Counter* accept_errors_;
  common::Counter* malformed_;
  common::Counter* refused_total_;
  common::Counter* refused_per_client_;
  common::Counter* timeouts_header_;
  common::Counter* timeouts_body_;
  common::Counter* timeouts_idle_;
  common::Counter* timeouts_write_;
  common::Counter* wrong_method_;
};

}  // namespace dnsd::api
