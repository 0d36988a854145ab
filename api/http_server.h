// HttpServer serves HTTP/1.1 on N event-loop threads that share one listening socket; each
// connection stays on the thread that accepted it. Handlers run on that thread and either
// answer at once (Responder::Send) or take a DeferredReply and answer later from any thread,
// e.g. after a log commit; the reply is posted back to the connection's loop.
//
// Thread-safety: routes are registered before Start(); after that the route table is
// read-only. DeferredReply::Send is thread-safe and a no-op if the client went away.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "api/http_types.h"
#include "common/event_loop.h"
#include "common/metrics.h"

namespace dnsd::api {

class HttpServer;

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
  struct Worker* worker_ = nullptr;
  evhttp_request* req_ = nullptr;
  bool answered_ = false;
};

using Handler = std::function<void(const HttpRequest&, Responder&)>;

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  int port = 8848;
  int threads = 2;
  size_t max_body_bytes = 12 << 20;
};

class HttpServer {
 public:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const HttpServerOptions& options,
                                                            common::MetricsRegistry& metrics);
  ~HttpServer();

  void Route(std::string path, Handler handler);
  void Start();
  void Stop();
  int port() const { return port_; }

 private:
  HttpServer(const HttpServerOptions& options, common::MetricsRegistry& metrics);
  static void OnRequest(evhttp_request* req, void* worker);
  void Dispatch(Worker& worker, evhttp_request* req);

  HttpServerOptions options_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::unordered_map<std::string, Handler> routes_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  common::Counter* oversized_;
  common::Counter* accept_errors_;
};

}  // namespace dnsd::api
