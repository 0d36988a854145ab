// ResponseRateLimiter is DNS response rate limiting (RRL, as in NSD and Knot) for UDP: answers
// to one client prefix (/24 for IPv4, /56 for IPv6 by default) are counted per second, and past
// `responses_per_second` an answer is either "slipped" (sent as an empty truncated answer, TC
// set, so that a real client retries over TCP, which proves its address) or dropped. A spoofed
// flood then reflects at most the rate's worth of full answers per prefix and second, and
// slipped answers are no larger than the queries. TCP is never limited; exempt networks
// (loopback by default: the local resolver, a sidecar's application) are never counted.
//
// The counts live in a fixed table of buckets indexed by a keyed hash of the prefix (prefixes
// that share a bucket share its rate, as in NSD): memory is constant however many clients
// appear, and the key stops anyone choosing prefixes that collide. Each bucket is one atomic
// word (second, count), so every DNS thread counts into the same table without locks.
//
// Thread-safety: Check is thread-safe.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "dnsd/ip_network.h"

namespace dnsd::dns {

struct RrlOptions {
  uint32_t responses_per_second = 0;  // per client prefix; 0 turns rate limiting off
  // Every slip-th limited answer is sent truncated, the others dropped; 1 truncates them all
  // (no amplification, and real clients go on over TCP), 0 drops them all.
  uint32_t slip = 1;
  int ipv4_prefix = 24;
  int ipv6_prefix = 56;
  std::vector<std::string> exempt = {"127.0.0.0/8", "::1/128"};
  size_t buckets = 1 << 16;  // rounded up to a power of two
};

class ResponseRateLimiter {
 public:
  static absl::StatusOr<std::unique_ptr<ResponseRateLimiter>> Create(
      const RrlOptions& options, common::MetricsRegistry& metrics);

  enum class Verdict { kAnswer, kSlip, kDrop };
  // Counts one answer to `client` at `now_s` (any monotonic seconds) and says what to send.
  Verdict Check(const sockaddr_storage& client, uint32_t now_s);
  bool enabled() const { return options_.responses_per_second > 0; }

 private:
  ResponseRateLimiter(const RrlOptions& options, common::MetricsRegistry& metrics);
  uint64_t BucketOf(const sockaddr_storage& client) const;

  const RrlOptions options_;
  std::vector<Network> exempt_;
  struct Free {
    void operator()(uint64_t* p) const { std::free(p); }
  };
  // Each bucket is used through std::atomic_ref: (second << 32) | answers in that second.
  std::unique_ptr<uint64_t[], Free> buckets_;
  uint64_t mask_ = 0;
  uint64_t key_[2] = {0, 0};
  std::atomic<uint64_t> limited_{0};  // for the slip ratio
  common::Counter& slipped_;
  common::Counter& dropped_;
};

}  // namespace dnsd::dns
