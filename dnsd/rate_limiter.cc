#include "dnsd/rate_limiter.h"

#include <netinet/in.h>
#include <sys/random.h>

#include <cstdlib>
#include <cstring>

#include "common/hash_mix.h"
#include "common/strings.h"

namespace dnsd::dns {
namespace {

// The bucket is a keyed mix of the prefix words: enough to spread prefixes over the table and
// to keep the mapping secret.
using common::Mix64;

}  // namespace

ResponseRateLimiter::ResponseRateLimiter(const RrlOptions& options,
                                         common::MetricsRegistry& metrics)
    : options_(options),
      slipped_(metrics.GetCounter("dnsd_dns_rrl_slipped_total",
                                  "UDP answers over the rate limit sent truncated (TC, empty)")),
      dropped_(metrics.GetCounter("dnsd_dns_rrl_dropped_total",
                                  "UDP answers over the rate limit not sent")) {}

absl::StatusOr<std::unique_ptr<ResponseRateLimiter>> ResponseRateLimiter::Create(
    const RrlOptions& options, common::MetricsRegistry& metrics) {
  if (options.ipv4_prefix < 0 || options.ipv4_prefix > 32 || options.ipv6_prefix < 0 ||
      options.ipv6_prefix > 128) {
    return absl::InvalidArgumentError("dns.rrl prefix lengths must be 0-32 (IPv4), 0-128 (IPv6)");
  }
  std::unique_ptr<ResponseRateLimiter> limiter(new ResponseRateLimiter(options, metrics));
  for (const auto& cidr : options.exempt) {
    auto net = ParseNetwork(cidr);
    if (!net.ok()) {
      return absl::InvalidArgumentError(common::StrCat("dns.rrl_exempt: ", net.status().message()));
    }
    limiter->exempt_.push_back(*net);
  }
  size_t size = 1;
  while (size < options.buckets) size <<= 1;
  // calloc: a table this size comes from fresh zero pages, which cost no memory until a
  // client outside the exempt networks writes to them (a loopback-only server never does).
  limiter->buckets_.reset(static_cast<uint64_t*>(std::calloc(size, sizeof(uint64_t))));
  if (!limiter->buckets_) return absl::ResourceExhaustedError("no memory for the rate limiter");
  limiter->mask_ = size - 1;
  if (getrandom(limiter->key_, sizeof(limiter->key_), 0) != sizeof(limiter->key_)) {
    return absl::InternalError("getrandom failed for the rate limiter's key");
  }
  return limiter;
}

uint64_t ResponseRateLimiter::BucketOf(const sockaddr_storage& client) const {
  uint8_t prefix[16] = {};
  int bits;
  const uint8_t* addr;
  if (client.ss_family == AF_INET) {
    addr = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in&>(client).sin_addr);
    bits = options_.ipv4_prefix;
  } else {
    addr = reinterpret_cast<const sockaddr_in6&>(client).sin6_addr.s6_addr;
    bits = options_.ipv6_prefix;
  }
  for (int i = 0; bits > 0; ++i, bits -= 8) {
    prefix[i] = addr[i] & (bits >= 8 ? 0xFF : static_cast<uint8_t>(0xFF << (8 - bits)));
  }
  uint64_t words[2];
  std::memcpy(words, prefix, sizeof(words));
  const uint64_t h = Mix64(key_[0] ^ words[0] ^ (client.ss_family == AF_INET ? 4 : 6));
  return Mix64(h ^ key_[1] ^ words[1]) & mask_;
}

ResponseRateLimiter::Verdict ResponseRateLimiter::Check(const sockaddr_storage& client,
                                                        uint32_t now_s) {
  if (!enabled()) return Verdict::kAnswer;
  for (const auto& net : exempt_) {
    if (InNetwork(net, client)) return Verdict::kAnswer;
  }
  std::atomic_ref<uint64_t> bucket(buckets_[BucketOf(client)]);
  uint64_t seen = bucket.load(std::memory_order_relaxed);
  for (;;) {
    const auto second = static_cast<uint32_t>(seen >> 32);
    const auto count = static_cast<uint32_t>(seen);
    if (second == now_s && count >= options_.responses_per_second) break;  // over the rate
    const uint64_t next = second == now_s ? seen + 1 : (uint64_t{now_s} << 32 | 1);
    if (bucket.compare_exchange_weak(seen, next, std::memory_order_relaxed)) {
      return Verdict::kAnswer;
    }
  }
  const uint64_t n = limited_.fetch_add(1, std::memory_order_relaxed);
  if (options_.slip > 0 && n % options_.slip == 0) {
    slipped_.Inc();
    return Verdict::kSlip;
  }
  dropped_.Inc();
  return Verdict::kDrop;
}

}  // namespace dnsd::dns
