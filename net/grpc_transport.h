// GrpcTransport is dnsd's own HTTP/2 server for gRPC (RFC 9113 framing and flow control,
// HPACK from net/hpack.h, the gRPC length-prefixed message framing). It serves exactly two
// methods, one unary and one bi-directional stream, which is all the Nacos protocol uses.
//
// Why not grpc++'s server: an idle Nacos client costs grpc++ about 35 KB (a call arena for
// its stream, an 8 KB read buffer, transport state), and Nacos servers hold one connection
// per client instance. Here an idle connection is a socket, a bufferevent with empty
// buffers, the HPACK table the client filled and one stream record: a few KB.
//
// Threading: one event loop thread owns every connection. Handlers are called on it and
// must not block. GrpcCall is the thread-safe handle through which any thread answers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "common/tls.h"

namespace dnsd::net {

class GrpcTransport;

// The gRPC status codes dnsd sends (values of grpc/status.h).
enum GrpcCode : int {
  kGrpcOk = 0,
  kGrpcInvalidArgument = 3,
  kGrpcPermissionDenied = 7,
  kGrpcResourceExhausted = 8,
  kGrpcFailedPrecondition = 9,
  kGrpcUnimplemented = 12,
  kGrpcInternal = 13,
  kGrpcUnavailable = 14,
  kGrpcUnauthenticated = 16,
};

// One server call (a unary request or the server side of a stream). Any thread may use it.
class GrpcCall {
 public:
  static constexpr int kMaxQueued = 4096;

  const std::string& peer() const { return peer_; }
  // Queues one response message. A queued message that has not started to go out and has
  // the same non-empty coalesce key is replaced instead. Returns false once the call is
  // finished or when kMaxQueued messages are already waiting.
  bool Send(std::string message, std::string coalesce_key = {});
  // Ends the call with this status once the queued messages are out.
  void Finish(int code = kGrpcOk, std::string message = {});
  bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Transport internals.
  GrpcCall(GrpcTransport* transport, std::weak_ptr<void> connection, uint32_t stream_id,
           std::string peer)
      : transport_(transport),
        connection_(std::move(connection)),
        stream_id_(stream_id),
        peer_(std::move(peer)) {}
  void MarkFinished() { finished_.store(true, std::memory_order_release); }
  void Dequeued(int n) { queued_.fetch_sub(n, std::memory_order_relaxed); }

 private:
  GrpcTransport* const transport_;
  const std::weak_ptr<void> connection_;
  const uint32_t stream_id_;
  const std::string peer_;
  std::atomic<bool> finished_{false};
  std::atomic<int> queued_{0};
};

// Events of one bi-directional stream, delivered on the transport thread.
class GrpcStreamHandler {
 public:
  virtual ~GrpcStreamHandler() = default;
  virtual void OnMessage(std::string message) = 0;
  // The client finished sending (half-close); the call stays open until Finish().
  virtual void OnHalfClose() = 0;
  // The call is over (finished, cancelled by the client, or its connection is gone). Last
  // event; the handler is released after it.
  virtual void OnDone() = 0;
};

using UnaryMethod = std::function<void(std::shared_ptr<GrpcCall> call, std::string message)>;
using StreamMethod =
    std::function<std::shared_ptr<GrpcStreamHandler>(std::shared_ptr<GrpcCall> call)>;

struct GrpcTransportOptions {
  std::string address = "127.0.0.1";
  int port = 0;  // 0 = any free port
  size_t max_message_bytes = 10 * 1024 * 1024;
  size_t max_header_list_bytes = 64 * 1024;
  uint32_t max_concurrent_streams = 1000;
  // Connections beyond this are closed at accept (counted), keeping descriptors for the rest.
  int max_connections = 1 << 20;
  // PING a client this long after its last frame; close if nothing arrives within the timeout.
  int64_t keepalive_time_ms = 6 * 60 * 1000;
  int64_t keepalive_timeout_ms = 20'000;
  // The method table, by HTTP/2 :path ("/<package>.<Service>/<Method>"); a call to any other
  // path is answered UNIMPLEMENTED.
  // Unary methods are called on the transport thread with the complete request message;
  // they answer through `call`, at once or later from any thread.
  std::map<std::string, UnaryMethod, std::less<>> unary_methods;
  // Stream methods are called on the transport thread when a stream opens; they return its
  // handler.
  std::map<std::string, StreamMethod, std::less<>> stream_methods;
  // When set, every call must carry the request header `call_auth_header` (lowercase) with a
  // value `check_call_auth` accepts; others are answered UNAUTHENTICATED before any method
  // sees them, and counted in <prefix>_unauthenticated_calls_total. The peer port's cluster
  // key check (node/peer_auth.h).
  std::string call_auth_header;
  std::function<bool(std::string_view value)> check_call_auth;
  // When set, connections speak TLS (common/tls.h; give it ALPN "h2", which gRPC clients
  // require).
  std::shared_ptr<common::TlsServerContext> tls;
  // Metric names start with this ("dnsd_grpc" for the client port, "dnsd_peer" for peers).
  std::string metrics_prefix = "dnsd_grpc";
};

class GrpcTransport {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcTransport>> Start(GrpcTransportOptions options,
                                                              common::MetricsRegistry& metrics);
  ~GrpcTransport();
  int port() const;
  // Sends GOAWAY everywhere, waits up to `grace_ms` for clients to leave, then closes what
  // is left (stream handlers get OnDone) and stops the thread.
  void Shutdown(int grace_ms);

  class Impl;

 private:
  friend class GrpcCall;
  explicit GrpcTransport(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dnsd::net
