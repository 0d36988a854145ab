// UdpPusher sends Nacos 1.x UDP pushes (protocol reference §3): a client whose list query
// (`/nacos/v1/ns/instance/list`) carries `udpPort` (and `clientIP`) becomes a push target of
// that service, and every change of the service is sent to it as a datagram
// {"type":"dom","data":"<the list query's JSON>","lastRefTime":<id>}. The client answers
// {"type":"push-ack","lastRefTime":<id>}; a packet not acknowledged within `retry_ms` is sent
// again, at most `max_retries` times. A target that has not queried the list for
// `target_idle_ms` gets no more pushes (its SDK polls every cacheMillis, 10 s, while alive).
//
// Everything runs on the pusher's own thread and event loop: the registry writer only marks a
// service changed (changes to one service are merged until the loop takes them), list queries
// only hand the target over. Memory is bounded: at most `max_targets` targets and
// `max_pending` unacknowledged packets (beyond, a push goes out once without retries).
// Datagrams that are not acknowledgements of ours are counted and dropped.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "common/socket_address.h"
#include "registry/registry.h"

namespace dnsd::api {

struct UdpPushOptions {
  // Where pushes leave from (a free port); an unspecified address gives a dual-stack socket.
  std::string bind_address = "0.0.0.0";
  int64_t retry_ms = 1000;
  int max_retries = 3;
  int64_t target_idle_ms = 30'000;
  size_t max_targets = 100'000;
  size_t max_pending = 100'000;
  int64_t cache_millis = 10'000;  // the lists' cacheMillis
};

class UdpPusher {
 public:
  static absl::StatusOr<std::unique_ptr<UdpPusher>> Create(const UdpPushOptions& options,
                                                           const registry::Registry& registry,
                                                           const common::Clock& clock,
                                                           common::MetricsRegistry& metrics);
  ~UdpPusher();
  void Start();
  void Stop();

  // A list query asked for pushes to `ip`:`port` (any thread).
  void Record(const registry::ServiceKey& key, const std::string& ip, int port,
              const std::string& clusters, bool healthy_only);
  // The registry changed `key` (registry listener; cheap, any thread).
  void OnServiceChanged(const registry::ServiceKey& key);
  int port() const { return port_; }  // the port pushes leave from (and acks come to)
  // Pushes sent (first sends) and acknowledged so far, for /operator/push/state.
  uint64_t sent() const { return sent_.value(); }
  uint64_t acknowledged() const { return acked_.value(); }

 private:
  struct Target {
    common::SocketAddress address;
    std::string clusters;
    bool healthy_only = false;
    int64_t last_query_ms = 0;
  };
  struct Pending {
    std::shared_ptr<const std::string> packet;
    common::SocketAddress address;
    int tries = 0;
  };

  UdpPusher(const UdpPushOptions& options, const registry::Registry& registry,
            const common::Clock& clock, common::MetricsRegistry& metrics);
  void Flush();  // loop: pushes every changed service
  void Push(const registry::ServiceKey& key);
  void Send(uint64_t id);  // loop: (re)sends a pending packet
  void Retry(uint64_t id);
  void OnReadable();
  void ExpireTargets();
  static void OnReadableCallback(evutil_socket_t, short, void* self);

  const UdpPushOptions options_;
  const registry::Registry& registry_;
  const common::Clock& clock_;
  int fd_ = -1;
  int family_ = AF_INET;
  int port_ = 0;
  std::unique_ptr<common::EventLoop> loop_;
  common::EventPtr read_event_;
  std::thread thread_;

  // Shared with other threads: services that have targets, and those changed since the loop
  // last looked.
  std::mutex mu_;
  std::set<registry::ServiceKey> targeted_;
  std::set<registry::ServiceKey> changed_;
  bool flush_posted_ = false;

  // Loop thread only.
  absl::flat_hash_map<registry::ServiceKey, std::map<std::string, Target>> targets_;
  size_t target_count_ = 0;
  std::map<uint64_t, Pending> pending_;
  uint64_t next_id_ = 0;

  common::Counter& sent_;
  common::Counter& acked_;
  common::Counter& retried_;
  common::Counter& failed_;
  common::Counter& bad_packets_;
  common::Counter& stray_acks_;
  common::Counter& refused_targets_;
  common::Counter& expired_targets_;
  common::Counter& too_large_;
  common::Counter& untracked_;
  std::atomic<size_t> target_gauge_{0};
  std::atomic<size_t> pending_gauge_{0};
};

}  // namespace dnsd::api
