// HostResolver keeps the addresses of the host names that instances register instead of an IP
// (Nacos accepts any host name in `ip`), so that the registry zone can answer A/AAAA for their
// services with addresses (dns.md part A; a CNAME cannot stand beside other records, and a
// service usually has several instances).
//
// It asks dnsd's own DNS listener, as any client of dnsd would: names in static zones, in the
// registry zone and everywhere else (the forwarder and its cache) resolve exactly as they do
// for clients. Each name is asked for A and AAAA, again after the answer's TTL
// (within [5 s, 300 s]); a failed or timed-out lookup keeps the previous addresses (serve
// stale) and is tried again after 5 s; NXDOMAIN and NODATA mean "no addresses".
//
// Interest is counted: the zone acquires a name for every service that uses it and releases it
// when the service no longer does; an unused name is forgotten. When a name's addresses
// change, `on_change(name)` runs on the resolver's thread (outside its own lock).
//
// Thread-safety: Acquire/Release/Lookup are thread-safe and cheap (the registry writer calls
// them while building answers); Start/Stop from the owner's thread.
#pragma once

#include <netinet/in.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "common/socket_address.h"

namespace dnsd::dns {

struct HostAddresses {
  std::vector<std::array<uint8_t, 4>> v4;
  std::vector<std::array<uint8_t, 16>> v6;
  friend bool operator==(const HostAddresses&, const HostAddresses&) = default;
};

class HostResolver {
 public:
  static absl::StatusOr<std::unique_ptr<HostResolver>> Create(common::MetricsRegistry& metrics);
  ~HostResolver();

  // Before Start.
  void SetOnChange(std::function<void(const std::string& host)> on_change) {
    on_change_ = std::move(on_change);
  }
  // Starts resolving through the DNS server at `server` (dnsd's own listener).
  absl::Status Start(const common::SocketAddress& server);
  void Stop();

  void Acquire(const std::string& host);
  void Release(const std::string& host);
  // The addresses known now; null while the name has not been resolved yet.
  std::shared_ptr<const HostAddresses> Lookup(const std::string& host) const;

  // Exposed for tests: the A/AAAA addresses and the smallest TTL in a response to a query with
  // id `id`; false when it is not a well-formed answer to that query.
  static bool ParseAnswer(const uint8_t* msg, size_t size, uint16_t id, uint16_t qtype,
                          HostAddresses& out, uint32_t& min_ttl, uint8_t& rcode);

 private:
  struct Entry {
    int refs = 0;
    std::shared_ptr<const HostAddresses> addresses;
    int64_t next_ms = 0;  // when to resolve again
    // An in-flight lookup: both queries' ids and what has come back.
    bool in_flight = false;
    int64_t sent_ms = 0;
    uint16_t ids[2] = {0, 0};  // A, AAAA
    bool answered[2] = {false, false};
    bool failed = false;
    HostAddresses partial;
    uint32_t min_ttl = UINT32_MAX;
  };

  explicit HostResolver(common::MetricsRegistry& metrics);
  void Tick();  // loop: sends due lookups, expires silent ones
  void Send(const std::string& host, Entry& entry, int64_t now_ms);
  static void OnReadable(evutil_socket_t fd, short, void* self);
  void Receive();
  void Complete(const std::string& host, Entry& entry, int64_t now_ms,
                std::vector<std::string>& changed);
  void Notify(const std::vector<std::string>& changed);

  std::function<void(const std::string&)> on_change_;
  std::unique_ptr<common::EventLoop> loop_;
  std::thread thread_;
  int fd_ = -1;
  common::EventPtr read_event_;
  std::atomic<bool> started_{false};

  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, Entry> hosts_;
  absl::flat_hash_map<uint16_t, std::string> by_id_;  // in-flight query id -> host

  common::Counter& lookups_;
  common::Counter& failures_;
  common::Counter& changes_;
};

}  // namespace dnsd::dns
