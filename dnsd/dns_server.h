// DnsServer runs the DNS listeners: N workers, each with its own UDP socket read by a blocking
// thread (recvmmsg with MSG_WAITFORONE, answered with sendmmsg in batches) and an event loop
// for its TCP listener and the forwarder; with N > 1 the sockets share the port through
// SO_REUSEPORT (a single worker skips the kernel's per-packet group selection). TCP connections are
// pipelined: every complete query in the input is processed at once and answers go out as they are
// ready, possibly out of order (RFC 7766); idle connections close after a timeout, and connections
// are capped in total and per client.
//
// Queries for foreign names are handed to the Forwarder (when set); its answer comes back on
// the worker's loop. Per-worker buffers: no heap allocation per registry query.
#pragma once

#include <netinet/in.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "dnsd/ip_network.h"
#include "dnsd/query_pipeline.h"
#include "dnsd/rate_limiter.h"

namespace dnsd::dns {

// Resolves queries that are not ours. `reply` is called exactly once on the calling worker's
// loop with the response bytes (already carrying the client's id and question), or with an
// empty span to drop.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  using Reply = std::function<void(const uint8_t* data, size_t size)>;
  virtual void Resolve(common::EventLoop& loop, const Query& q, size_t response_limit,
                       Reply reply) = 0;
};

struct DnsServerOptions {
  std::string address = "127.0.0.1";
  int port = 53;
  int workers = 0;  // 0: one per core
  int tcp_idle_timeout_ms = 10'000;
  // A message whose first byte has arrived must be complete within this (a client sending a
  // byte every few seconds would otherwise hold its slot for ever; RFC 7766 section 6.2.3).
  int tcp_message_timeout_ms = 5'000;
  int tcp_max_connections = 1024;
  int tcp_max_per_client = 64;
  // Networks whose clients may have foreign names forwarded; others get REFUSED.
  std::vector<std::string> forward_allow = {"127.0.0.0/8",   "::1/128",        "10.0.0.0/8",
                                            "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"};
  RrlOptions rrl;  // response rate limiting of UDP answers (off unless a rate is set)
};

class DnsServer {
 public:
  static absl::StatusOr<std::unique_ptr<DnsServer>> Create(const DnsServerOptions& options,
                                                           const QueryPipeline& pipeline,
                                                           Forwarder* forwarder,
                                                           common::MetricsRegistry& metrics);
  ~DnsServer();
  // Parks the queries the pipeline says to wait for (Verdict::kWait, a followed registry
  // fetching a service) and answers them later through the same Reply. Set before Start.
  void SetWaiter(Forwarder* waiter) { waiter_ = waiter; }
  void Start();
  void Stop();
  int port() const { return port_; }

  struct Worker;
  struct Connection;

 private:
  DnsServer(const DnsServerOptions& options, const QueryPipeline& pipeline, Forwarder* forwarder);
  bool MayForward(const sockaddr_storage& client) const;

  DnsServerOptions options_;
  const QueryPipeline& pipeline_;
  Forwarder* forwarder_;
  Forwarder* waiter_ = nullptr;
  std::vector<Network> allow_;
  std::unique_ptr<ResponseRateLimiter> rrl_;
  int port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  // TCP admission is counted across all workers; only accept and close take the lock.
  bool AdmitTcp(const std::string& client_ip);
  void ReleaseTcp(const std::string& client_ip);
  std::mutex clients_mu_;
  int tcp_connections_ = 0;
  std::unordered_map<std::string, int> tcp_per_client_;
  std::atomic<bool> stopping_{false};
  common::Counter* tcp_refused_ = nullptr;
  common::Counter* tcp_accept_errors_ = nullptr;
  common::Counter* tcp_message_timeouts_ = nullptr;
  friend struct Worker;
  friend struct Connection;
};

}  // namespace dnsd::dns
