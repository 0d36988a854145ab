// UpstreamForwarder resolves every name dnsd is not authoritative for through upstream
// resolvers, with a cache (RFC 5452, RFC 2308, RFC 8767):
//  - each upstream query uses a fresh UDP socket (random source port from the kernel) with a
//    random id from getrandom(), connected to the upstream so only its answers arrive, and
//    the answer must carry the same id and question; TC answers are retried over TCP;
//  - upstreams are tried in order (the first healthy one first); timeouts and SERVFAIL/REFUSED
//    fail over to the next;
//  - answers are cached by (name, type, class, DO) for their TTL clamped to [min, max];
//    negative answers for min(SOA TTL, SOA MINIMUM); entries near expiry that are still asked
//    for are refreshed in the background (prefetch);
//  - when every upstream fails, an expired entry younger than stale_max is served with TTL 30
//    and Extended DNS Error 3 (Stale Answer); otherwise SERVFAIL, never NXDOMAIN.
//
// Threading: Resolve() runs on a DNS worker loop and completes there; the cache is shared by
// all workers behind sharded mutexes (the forwarded path only; registry answers never touch it).
#pragma once

#include <netinet/in.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "dnsd/dns_server.h"

namespace dnsd::dns {

struct ForwarderOptions {
  std::vector<std::string> upstreams;  // "ip", "ip:port" or "[ipv6]:port"
  int64_t timeout_ms = 1500;
  int64_t cache_max_entries = 100'000;
  int64_t cache_min_ttl = 0;
  int64_t cache_max_ttl = 86'400;
  int64_t cache_negative_max_ttl = 3600;
  int64_t stale_max_s = 86'400;
};

// Nameservers listed in a resolv.conf, as "ip" strings.
std::vector<std::string> ReadResolvConf(const std::string& path);

// What an operator sees of the forwarder (the console's DNS page): counters since start.
struct ForwarderSummary {
  struct UpstreamState {
    std::string address;
    uint64_t queries = 0;
    uint64_t failures = 0;
    double average_latency_ms = 0;  // of answered queries
    bool up = true;                 // fewer than 3 consecutive failures
  };
  std::vector<UpstreamState> upstreams;
  int64_t cache_entries = 0;
  uint64_t cache_hits = 0;
  uint64_t cache_misses = 0;
  uint64_t stale_answers = 0;
};

class UpstreamForwarder final : public Forwarder {
 public:
  static absl::StatusOr<std::unique_ptr<UpstreamForwarder>> Create(
      const ForwarderOptions& options, const common::Clock& clock,
      common::MetricsRegistry& metrics);
  ~UpstreamForwarder() override;

  void Resolve(common::EventLoop& loop, const Query& q, size_t response_limit,
               Reply reply) override;
  ForwarderSummary Summary() const;

  struct Upstream {
    sockaddr_storage addr{};
    socklen_t addr_len = 0;
    std::string name;
    std::atomic<int> consecutive_failures{0};
    common::Counter* queries = nullptr;
    common::Counter* failures = nullptr;
    common::Counter* latency_us = nullptr;
  };
  struct CacheEntry {
    std::string message;  // upstream answer without OPT, id 0
    std::vector<uint16_t> ttl_offsets;
    int64_t stored_ms = 0;
    int64_t expires_ms = 0;
    uint32_t original_ttl = 0;
    std::atomic<bool> prefetching{false};
  };
  struct Exchange;

 private:
  explicit UpstreamForwarder(const ForwarderOptions& options, const common::Clock& clock);
  void Start(common::EventLoop& loop, std::shared_ptr<Exchange> exchange);
  void Attempt(std::shared_ptr<Exchange> exchange);
  void Finish(std::shared_ptr<Exchange> exchange, const uint8_t* answer, size_t size, bool ok);
  void StartTcp(std::shared_ptr<Exchange> exchange);
  // Writes the client's response from a cached/upstream message; returns its size.
  size_t BuildResponse(const Query& q, const CacheEntry& entry, bool stale, size_t limit,
                       uint8_t* out, size_t cap) const;
  size_t ServFail(const Query& q, uint8_t* out, size_t cap) const;
  std::string CacheKey(const Query& q) const;
  std::shared_ptr<CacheEntry> CacheFind(const std::string& key) const;
  // Stores a cacheable answer and returns the entry; null when it is not cacheable.
  std::shared_ptr<CacheEntry> CacheStore(const std::string& key, const uint8_t* answer,
                                         size_t size);

  ForwarderOptions options_;
  const common::Clock& clock_;
  std::vector<std::unique_ptr<Upstream>> upstreams_;
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mu;
    absl::flat_hash_map<std::string, std::shared_ptr<CacheEntry>> entries;
  };
  std::array<Shard, kShards> shards_;
  common::Counter* hits_ = nullptr;
  common::Counter* misses_ = nullptr;
  common::Counter* stale_ = nullptr;
  common::Counter* servfail_ = nullptr;
  common::Counter* prefetches_ = nullptr;
  common::Counter* mismatched_ = nullptr;
  std::atomic<int64_t> entries_{0};
};

}  // namespace dnsd::dns
