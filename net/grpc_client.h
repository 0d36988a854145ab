// GrpcClient is dnsd's own HTTP/2 client for gRPC (RFC 9113 framing and flow control, HPACK
// from net/hpack.h, gRPC's length-prefixed messages): one connection to one server, over TCP
// or TLS, carrying any number of unary calls and bi-directional streams. It is what the DNS-F
// agent speaks to Nacos servers (dnsd or Java Nacos 2.x) with.
//
// Why not grpc++: the agent is a sidecar with a footprint budget (< 20 MB RSS, issue 12), and
// a process that loads libgrpc pays ~2 MB of resident code before it makes a call and ~6 MB
// once it does, plus the threads and arenas of grpc's executor. This client is one I/O thread
// per connection and a few KB of buffers.
//
// Threading: the I/O thread owns the socket (and the TLS session: OpenSSL sessions are not
// for two threads at once) and runs the protocol; calls, writes and reads on other threads
// block on it. Every method is thread-safe.
//
// What it does not do: compression (it announces none, and a compressed message fails its
// call), server push (disabled in SETTINGS), more than one server per connection (the caller
// fails over).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::net {

struct GrpcClientOptions {
  std::string host;  // an IP address or a name
  int port = 0;
  // Non-empty: TLS (ALPN "h2"); the server's certificate must chain to this PEM CA and name
  // `host` (an IP address is checked against the certificate's IP addresses).
  std::string tls_ca_pem;
  int connect_timeout_ms = 3000;  // TCP, TLS and the server's SETTINGS
  size_t max_message_bytes = 10 * 1024 * 1024;
  // PING after this long without a byte from the server; broken if nothing comes back
  // within the timeout.
  int64_t keepalive_time_ms = 10'000;
  int64_t keepalive_timeout_ms = 5'000;
  std::string user_agent = "dnsd";
};

// Request metadata (header names in lowercase).
using GrpcMetadata = std::vector<std::pair<std::string, std::string>>;

class GrpcClientStream;

class GrpcClient {
 public:
  // Connects, shakes hands (TLS when asked) and exchanges the HTTP/2 prefaces within
  // connect_timeout_ms. kUnavailable when the server cannot be reached or does not speak
  // HTTP/2.
  static absl::StatusOr<std::unique_ptr<GrpcClient>> Connect(GrpcClientOptions options);
  ~GrpcClient();  // Close(), then waits for the I/O thread
  GrpcClient(const GrpcClient&) = delete;
  GrpcClient& operator=(const GrpcClient&) = delete;

  // One unary call. Its answer, or its gRPC status as an absl::Status of the same code (the
  // two share their numbering); kDeadlineExceeded after `timeout_ms` (also sent to the server
  // as grpc-timeout); kUnavailable once the connection is broken.
  absl::StatusOr<std::string> Call(std::string_view path, std::string_view request,
                                   const GrpcMetadata& metadata, int timeout_ms);
  // Opens a bi-directional stream.
  absl::StatusOr<std::shared_ptr<GrpcClientStream>> OpenStream(std::string_view path,
                                                               const GrpcMetadata& metadata);
  // Ends the connection: calls and streams fail with kUnavailable, blocked callers return.
  void Close();
  // True once the connection failed or was closed; `why` says why.
  bool broken(std::string* why = nullptr) const;

  class Impl;

 private:
  explicit GrpcClient(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// One bi-directional stream of a GrpcClient. Thread-safe; one reader at a time.
class GrpcClientStream {
 public:
  // Queues one message; false once the stream or its connection is over.
  bool Write(std::string_view message);
  // Blocks for the next message; false when the stream is over (status() says how).
  bool Read(std::string& message);
  // Ends the stream from this side (RST_STREAM CANCEL); a blocked Read returns false.
  void Cancel();
  // How the stream ended; OK while it is open or when the server finished it with OK.
  absl::Status status() const;

  GrpcClientStream(std::shared_ptr<GrpcClient::Impl> impl, uint32_t id)
      : impl_(std::move(impl)), id_(id) {}
  ~GrpcClientStream();

 private:
  std::shared_ptr<GrpcClient::Impl> impl_;
  const uint32_t id_;
};

}  // namespace dnsd::net
