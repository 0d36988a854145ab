#include "dnsd/forwarder.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>

#include "common/socket_address.h"
#include "common/strings.h"
#include "common/thread_buffer.h"
#include "spdlog/spdlog.h"

namespace dnsd::dns {
namespace {

constexpr uint32_t kStaleTtl = 30;  // RFC 8767 §4 recommends 30 s
constexpr size_t kMaxMessage = 65535;
constexpr int kUnhealthyAfter = 3;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Finds records in a message. Returns false on malformed input.
struct RecordInfo {
  size_t start, ttl_offset, end;
  uint16_t type;
  uint32_t ttl;
  int section;  // 0 answer, 1 authority, 2 additional
};
bool WalkRecords(const uint8_t* m, size_t n, std::vector<RecordInfo>& out) {
  if (n < kHeaderSize) return false;
  const uint16_t qd = Read16(m + 4);
  const uint16_t counts[3] = {Read16(m + 6), Read16(m + 8), Read16(m + 10)};
  size_t pos = kHeaderSize;
  for (uint16_t i = 0; i < qd; ++i) {
    pos = SkipName(m, n, pos);
    if (pos == 0 || pos + 4 > n) return false;
    pos += 4;
  }
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s]; ++i) {
      RecordInfo r{};
      r.start = pos;
      r.section = s;
      pos = SkipName(m, n, pos);
      if (pos == 0 || pos + 10 > n) return false;
      r.type = Read16(m + pos);
      r.ttl_offset = pos + 4;
      r.ttl = Read32(m + pos + 4);
      const uint16_t rdlen = Read16(m + pos + 8);
      pos += 10 + rdlen;
      if (pos > n) return false;
      r.end = pos;
      out.push_back(r);
    }
  }
  return true;
}

bool SameQuestion(const uint8_t* m, size_t n, const Query& q) {
  if (n < kHeaderSize + q.qname.size + 4 || Read16(m + 4) != 1) return false;
  for (size_t i = 0; i < q.qname.size; ++i) {
    uint8_t a = m[kHeaderSize + i], b = q.qname.data[i];
    if (a >= 'A' && a <= 'Z') a = static_cast<uint8_t>(a + 32);
    if (b >= 'A' && b <= 'Z') b = static_cast<uint8_t>(b + 32);
    if (a != b) return false;
  }
  const uint8_t* t = m + kHeaderSize + q.qname.size;
  return Read16(t) == q.qtype && Read16(t + 2) == q.qclass;
}

}  // namespace

std::vector<std::string> ReadResolvConf(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    std::replace(line.begin(), line.end(), '\t', ' ');  // fields may be separated by tabs
    const auto fields = common::Split(line, ' ');
    if (fields.size() >= 2 && fields[0] == "nameserver") out.emplace_back(fields[1]);
  }
  return out;
}

struct UpstreamForwarder::Exchange {
  UpstreamForwarder* forwarder = nullptr;
  common::EventLoop* loop = nullptr;
  Query q;
  size_t limit = 512;
  Reply reply;  // empty for a prefetch
  std::string cache_key;
  std::shared_ptr<CacheEntry> prefetched;  // the entry being refreshed
  size_t tried = 0;
  size_t first = 0;
  size_t current = 0;
  uint16_t id = 0;
  int fd = -1;
  common::EventPtr ev;
  bufferevent* bev = nullptr;
  int64_t sent_us = 0;
  int64_t deadline_us = 0;
  uint8_t wire[kMaxName + 32];
  size_t wire_size = 0;
  std::shared_ptr<Exchange> self;  // keeps the exchange alive while I/O is pending

  void CloseIo() {
    ev.reset();
    if (fd >= 0) close(fd);
    fd = -1;
    if (bev) bufferevent_free(bev);
    bev = nullptr;
  }
  ~Exchange() { CloseIo(); }
};

UpstreamForwarder::UpstreamForwarder(const ForwarderOptions& options, const common::Clock& clock)
    : options_(options), clock_(clock) {}

UpstreamForwarder::~UpstreamForwarder() = default;

absl::StatusOr<std::unique_ptr<UpstreamForwarder>> UpstreamForwarder::Create(
    const ForwarderOptions& options, const common::Clock& clock, common::MetricsRegistry& metrics) {
  std::unique_ptr<UpstreamForwarder> f(new UpstreamForwarder(options, clock));
  for (const auto& text : options.upstreams) {
    auto parsed = common::SocketAddress::FromHostPort(text, 53);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(
          common::StrCat("forward.upstreams: ", parsed.status().message()));
    }
    auto up = std::make_unique<Upstream>();
    up->addr = parsed->storage;
    up->addr_len = parsed->length;
    up->name = parsed->ToString();
    const std::string label = common::StrCat("upstream=\"", up->name, "\"");
    up->queries = &metrics.GetCounter("dnsd_forward_upstream_queries_total",
                                      "Queries sent to each upstream", label);
    up->failures = &metrics.GetCounter("dnsd_forward_upstream_failures_total",
                                       "Upstream queries that timed out or failed", label);
    up->latency_us =
        &metrics.GetCounter("dnsd_forward_upstream_latency_microseconds_total",
                            "Sum of upstream answer latencies (divide by answered queries)", label);
    Upstream* raw = up.get();
    metrics.AddGauge(
        "dnsd_forward_upstream_up",
        "1 when the upstream answered recently, 0 after 3 consecutive failures",
        [raw] { return raw->consecutive_failures.load() < kUnhealthyAfter ? 1.0 : 0.0; }, label);
    f->upstreams_.push_back(std::move(up));
  }
  f->hits_ = &metrics.GetCounter("dnsd_forward_cache_hits_total",
                                 "Forwarded queries answered from the cache");
  f->misses_ =
      &metrics.GetCounter("dnsd_forward_cache_misses_total", "Forwarded queries sent upstream");
  f->stale_ = &metrics.GetCounter("dnsd_forward_stale_answers_total",
                                  "Expired cache entries served because every upstream failed");
  f->servfail_ =
      &metrics.GetCounter("dnsd_forward_servfail_total",
                          "Forwarded queries answered SERVFAIL (no upstream, nothing stale)");
  f->prefetches_ = &metrics.GetCounter("dnsd_forward_prefetches_total",
                                       "Cache entries refreshed before they expired");
  f->mismatched_ = &metrics.GetCounter("dnsd_forward_mismatched_answers_total",
                                       "Upstream datagrams dropped: wrong id or question");
  auto* forwarder = f.get();
  metrics.AddGauge("dnsd_forward_cache_entries", "Entries in the forwarding cache",
                   [forwarder] { return static_cast<double>(forwarder->entries_.load()); });
  return f;
}

ForwarderSummary UpstreamForwarder::Summary() const {
  ForwarderSummary out;
  for (const auto& up : upstreams_) {
    ForwarderSummary::UpstreamState s;
    s.address = up->name;
    s.queries = up->queries->value();
    s.failures = up->failures->value();
    const uint64_t answered = s.queries > s.failures ? s.queries - s.failures : 0;
    if (answered > 0) {
      s.average_latency_ms =
          static_cast<double>(up->latency_us->value()) / 1000.0 / static_cast<double>(answered);
    }
    s.up = up->consecutive_failures.load() < kUnhealthyAfter;
    out.upstreams.push_back(std::move(s));
  }
  out.cache_entries = entries_.load();
  out.cache_hits = hits_->value();
  out.cache_misses = misses_->value();
  out.stale_answers = stale_->value();
  return out;
}

std::string UpstreamForwarder::CacheKey(const Query& q) const {
  std::string key(q.qname_lower.view());
  key.push_back(static_cast<char>(q.qtype >> 8));
  key.push_back(static_cast<char>(q.qtype));
  key.push_back(static_cast<char>(q.qclass >> 8));
  key.push_back(static_cast<char>(q.qclass));
  key.push_back(static_cast<char>((q.edns.do_bit ? 1 : 0) | (q.cd ? 2 : 0)));
  return key;
}

std::shared_ptr<UpstreamForwarder::CacheEntry> UpstreamForwarder::CacheFind(
    const std::string& key) const {
  const Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  auto it = shard.entries.find(key);
  return it == shard.entries.end() ? nullptr : it->second;
}

std::shared_ptr<UpstreamForwarder::CacheEntry> UpstreamForwarder::CacheStore(const std::string& key,
                                                                             const uint8_t* m,
                                                                             size_t n) {
  if (options_.cache_max_entries <= 0) return nullptr;
  std::vector<RecordInfo> records;
  if (!WalkRecords(m, n, records)) return nullptr;
  const uint8_t rcode = m[3] & 0xF;
  if (rcode != kRcodeNoError && rcode != kRcodeNxDomain) return nullptr;  // errors are not cached
  if (m[2] & 0x02) return nullptr;                                        // nor truncated answers
  auto entry = std::make_shared<CacheEntry>();
  // Drop the OPT (it is rebuilt for each client); only when it is the last record, so no
  // compression pointer can refer past it.
  size_t size = n;
  uint16_t arcount = Read16(m + 10);
  for (const auto& r : records) {
    if (r.type == kTypeOPT) {
      if (r.end != n) return nullptr;
      size = r.start;
      --arcount;
    }
  }
  entry->message.assign(reinterpret_cast<const char*>(m), size);
  Write16(reinterpret_cast<uint8_t*>(entry->message.data()), 0);
  Write16(reinterpret_cast<uint8_t*>(entry->message.data()) + 10, arcount);
  int64_t ttl = -1;
  const bool negative = rcode == kRcodeNxDomain || Read16(m + 6) == 0;
  for (const auto& r : records) {
    if (r.type == kTypeOPT) continue;
    entry->ttl_offsets.push_back(static_cast<uint16_t>(r.ttl_offset));
    if (negative) {
      if (r.section == 1 && r.type == kTypeSOA && r.end >= 4) {
        const uint32_t minimum = Read32(m + r.end - 4);
        ttl = std::min<int64_t>(r.ttl, minimum);
      }
    } else if (r.section == 0) {
      ttl = ttl < 0 ? r.ttl : std::min<int64_t>(ttl, r.ttl);
    }
  }
  if (ttl < 0) return nullptr;  // a negative answer without SOA is not cached (RFC 2308 §5)
  ttl = negative ? std::min(ttl, options_.cache_negative_max_ttl)
                 : std::clamp(ttl, options_.cache_min_ttl, options_.cache_max_ttl);
  if (ttl <= 0) return nullptr;
  entry->original_ttl = static_cast<uint32_t>(ttl);
  entry->stored_ms = clock_.NowMs();
  entry->expires_ms = entry->stored_ms + ttl * 1000;
  Shard& shard = shards_[std::hash<std::string>{}(key) % kShards];
  std::lock_guard lock(shard.mu);
  if (entries_.load() >= options_.cache_max_entries && !shard.entries.contains(key) &&
      !shard.entries.empty()) {
    shard.entries.erase(shard.entries.begin());  // full: drop an arbitrary entry of this shard
    entries_.fetch_sub(1);
  }
  if (shard.entries.insert_or_assign(key, entry).second) entries_.fetch_add(1);
  return entry;
}

size_t UpstreamForwarder::BuildResponse(const Query& q, const CacheEntry& entry, bool stale,
                                        size_t limit, uint8_t* out, size_t cap) const {
  const size_t cookie = q.cookie_out ? 4 + sizeof(q.cookie_reply) : 0;
  const size_t opt = q.edns.present ? OptSize(stale) + cookie : 0;
  if (entry.message.size() + opt > std::min(limit, cap)) {
    // Too big for this transport: an empty truncated answer sends the client to TCP.
    ResponseWriter w(out, cap);
    w.Begin(q, true, limit, q.edns.present ? OptSize(stale) : 0);  // Begin adds the cookie's room
    w.SetRa(true);
    w.SetTc();
    w.SetRcode(static_cast<uint8_t>(entry.message[3] & 0xF));
    return w.Finish(q, q.edns.present, stale ? kEdeStaleAnswer : 0);
  }
  std::memcpy(out, entry.message.data(), entry.message.size());
  size_t size = entry.message.size();
  Write16(out, q.id);
  // Flags: keep the upstream's rcode and TC; RD as the client asked, RA set, AA and AD clear
  // (these answers are neither ours nor validated by us).
  uint16_t flags = Read16(out + 2);
  flags =
      static_cast<uint16_t>((flags & ~(0x0400 | 0x0100 | 0x0020)) | 0x0080 | (q.rd ? 0x0100 : 0));
  Write16(out + 2, flags);
  std::memcpy(out + kHeaderSize, q.qname.data, q.qname.size);  // echo the client's case
  const int64_t elapsed_s = (clock_.NowMs() - entry.stored_ms) / 1000;
  for (uint16_t offset : entry.ttl_offsets) {
    const uint32_t ttl = Read32(out + offset);
    Write32(out + offset,
            stale ? kStaleTtl : static_cast<uint32_t>(std::max<int64_t>(0, ttl - elapsed_s)));
  }
  if (q.edns.present) {
    uint8_t* p = out + size;
    p[0] = 0;
    Write16(p + 1, kTypeOPT);
    Write16(p + 3, kOurUdpSize);
    Write32(p + 5, q.edns.do_bit ? 0x8000u : 0u);
    Write16(p + 9, static_cast<uint16_t>((stale ? 6 : 0) + cookie));
    uint8_t* option = p + 11;
    if (stale) {
      Write16(option, 15);
      Write16(option + 2, 2);
      Write16(option + 4, kEdeStaleAnswer);
      option += 6;
    }
    if (cookie != 0) {
      Write16(option, kOptionCookie);
      Write16(option + 2, sizeof(q.cookie_reply));
      std::memcpy(option + 4, q.cookie_reply, sizeof(q.cookie_reply));
    }
    size += opt;
    Write16(out + 10, static_cast<uint16_t>(Read16(out + 10) + 1));
  }
  return size;
}

size_t UpstreamForwarder::ServFail(const Query& q, uint8_t* out, size_t cap) const {
  ResponseWriter w(out, cap);
  w.Begin(q, true, 512, q.edns.present ? OptSize(true) : 0);
  w.SetRa(true);
  w.SetRcode(kRcodeServFail);
  return w.Finish(q, q.edns.present, kEdeNoReachableAuthority);
}

void UpstreamForwarder::Resolve(common::EventLoop& loop, const Query& q, size_t limit,
                                Reply reply) {
  uint8_t* out = common::ThreadBuffer<struct ResolveAnswer, kMaxMessage>();
  const std::string key = CacheKey(q);
  if (auto entry = CacheFind(key); entry && clock_.NowMs() < entry->expires_ms) {
    hits_->Inc();
    reply(out, BuildResponse(q, *entry, false, limit, out, kMaxMessage));
    // Prefetch: an entry in its last tenth that is still asked for is refreshed now.
    const int64_t remaining_ms = entry->expires_ms - clock_.NowMs();
    if (entry->original_ttl >= 10 && remaining_ms * 10 < int64_t{entry->original_ttl} * 1000 &&
        !entry->prefetching.exchange(true)) {
      prefetches_->Inc();
      auto ex = std::make_shared<Exchange>();
      ex->q = q;
      ex->cache_key = key;
      ex->prefetched = entry;
      Start(loop, std::move(ex));
    }
    return;
  }
  misses_->Inc();
  auto ex = std::make_shared<Exchange>();
  ex->q = q;
  ex->limit = limit;
  ex->reply = std::move(reply);
  ex->cache_key = key;
  Start(loop, std::move(ex));
}

void UpstreamForwarder::Start(common::EventLoop& loop, std::shared_ptr<Exchange> ex) {
  ex->forwarder = this;
  ex->loop = &loop;
  ex->first = 0;
  for (size_t i = 0; i < upstreams_.size(); ++i) {
    if (upstreams_[i]->consecutive_failures.load() < kUnhealthyAfter) {
      ex->first = i;
      break;
    }
  }
  // The upstream query: the client's question (case kept), RD, our EDNS size, DO as asked.
  uint8_t* w = ex->wire;
  Write16(w + 2, static_cast<uint16_t>(0x0100 | (ex->q.cd ? 0x0010 : 0)));
  Write16(w + 4, 1);
  Write16(w + 6, 0);
  Write16(w + 8, 0);
  Write16(w + 10, 1);
  std::memcpy(w + kHeaderSize, ex->q.qname.data, ex->q.qname.size);
  size_t pos = kHeaderSize + ex->q.qname.size;
  Write16(w + pos, ex->q.qtype);
  Write16(w + pos + 2, ex->q.qclass);
  pos += 4;
  w[pos] = 0;
  Write16(w + pos + 1, kTypeOPT);
  Write16(w + pos + 3, kOurUdpSize);
  Write32(w + pos + 5, ex->q.edns.do_bit ? 0x8000u : 0u);
  Write16(w + pos + 9, 0);
  ex->wire_size = pos + 11;
  ex->self = ex;
  Attempt(std::move(ex));
}

void UpstreamForwarder::Attempt(std::shared_ptr<Exchange> ex) {
  ex->CloseIo();
  if (ex->tried >= upstreams_.size()) return Finish(ex, nullptr, 0, false);
  ex->current = (ex->first + ex->tried) % upstreams_.size();
  ++ex->tried;
  Upstream& up = *upstreams_[ex->current];
  ex->id = RandomQueryId();
  Write16(ex->wire, ex->id);
  ex->fd = socket(up.addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  // connect(): the kernel then delivers only datagrams from this upstream's address and port.
  if (ex->fd < 0 ||
      connect(ex->fd, reinterpret_cast<const sockaddr*>(&up.addr), up.addr_len) != 0 ||
      send(ex->fd, ex->wire, ex->wire_size, 0) < 0) {
    up.failures->Inc();
    up.consecutive_failures.fetch_add(1);
    return Attempt(std::move(ex));
  }
  up.queries->Inc();
  ex->sent_us = NowUs();
  ex->deadline_us = ex->sent_us + options_.timeout_ms * 1000;
  auto on_event = [](evutil_socket_t fd, short what, void* arg) {
    auto* raw = static_cast<Exchange*>(arg);
    std::shared_ptr<Exchange> ex = raw->self;
    UpstreamForwarder* f = ex->forwarder;
    Upstream& up = *f->upstreams_[ex->current];
    if (what & EV_TIMEOUT) {
      up.failures->Inc();
      up.consecutive_failures.fetch_add(1);
      return f->Attempt(std::move(ex));
    }
    uint8_t buf[65535];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n < static_cast<ssize_t>(kHeaderSize) || Read16(buf) != ex->id || !(buf[2] & 0x80) ||
        !SameQuestion(buf, static_cast<size_t>(n), ex->q)) {
      if (n >= 0) f->mismatched_->Inc();
      // Keep waiting for the real answer until the deadline.
      const int64_t left = std::max<int64_t>(1, ex->deadline_us - NowUs());
      timeval tv{static_cast<time_t>(left / 1'000'000), static_cast<suseconds_t>(left % 1'000'000)};
      event_add(ex->ev.get(), &tv);
      return;
    }
    const uint8_t rcode = buf[3] & 0xF;
    if (rcode == kRcodeServFail || rcode == kRcodeRefused) {
      up.failures->Inc();
      up.consecutive_failures.fetch_add(1);
      return f->Attempt(std::move(ex));
    }
    up.latency_us->Inc(static_cast<uint64_t>(NowUs() - ex->sent_us));
    up.consecutive_failures.store(0);
    if (buf[2] & 0x02) return f->StartTcp(std::move(ex));  // truncated: ask again over TCP
    f->Finish(std::move(ex), buf, static_cast<size_t>(n), true);
  };
  ex->ev.reset(event_new(ex->loop->base(), ex->fd, EV_READ, on_event, ex.get()));
  timeval tv{static_cast<time_t>(options_.timeout_ms / 1000),
             static_cast<suseconds_t>((options_.timeout_ms % 1000) * 1000)};
  event_add(ex->ev.get(), &tv);
}

void UpstreamForwarder::StartTcp(std::shared_ptr<Exchange> ex) {
  ex->CloseIo();
  Upstream& up = *upstreams_[ex->current];
  ex->bev = bufferevent_socket_new(ex->loop->base(), -1, BEV_OPT_CLOSE_ON_FREE);
  auto on_read = [](bufferevent* bev, void* arg) {
    auto* raw = static_cast<Exchange*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    uint8_t prefix[2];
    if (evbuffer_copyout(in, prefix, 2) < 2) return;
    const size_t size = Read16(prefix);
    if (evbuffer_get_length(in) < size + 2) return;
    std::vector<uint8_t> msg(size + 2);
    evbuffer_remove(in, msg.data(), msg.size());
    std::shared_ptr<Exchange> ex = raw->self;
    const uint8_t* m = msg.data() + 2;
    if (size < kHeaderSize || Read16(m) != ex->id || !SameQuestion(m, size, ex->q)) {
      ex->forwarder->mismatched_->Inc();
      return ex->forwarder->Attempt(std::move(ex));
    }
    ex->forwarder->Finish(std::move(ex), m, size, true);
  };
  auto on_event = [](bufferevent*, short what, void* arg) {
    if (!(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))) return;
    std::shared_ptr<Exchange> ex = static_cast<Exchange*>(arg)->self;
    Upstream& up = *ex->forwarder->upstreams_[ex->current];
    up.failures->Inc();
    up.consecutive_failures.fetch_add(1);
    ex->forwarder->Attempt(std::move(ex));
  };
  bufferevent_setcb(ex->bev, on_read, nullptr, on_event, ex.get());
  timeval tv{static_cast<time_t>(options_.timeout_ms / 1000),
             static_cast<suseconds_t>((options_.timeout_ms % 1000) * 1000)};
  bufferevent_set_timeouts(ex->bev, &tv, &tv);
  bufferevent_enable(ex->bev, EV_READ | EV_WRITE);
  uint8_t prefix[2];
  Write16(prefix, static_cast<uint16_t>(ex->wire_size));
  bufferevent_write(ex->bev, prefix, 2);
  bufferevent_write(ex->bev, ex->wire, ex->wire_size);
  if (bufferevent_socket_connect(ex->bev, reinterpret_cast<const sockaddr*>(&up.addr),
                                 static_cast<int>(up.addr_len)) != 0) {
    up.failures->Inc();
    Attempt(std::move(ex));
  }
}

void UpstreamForwarder::Finish(std::shared_ptr<Exchange> ex, const uint8_t* answer, size_t size,
                               bool ok) {
  uint8_t* out = common::ThreadBuffer<struct FinishAnswer, kMaxMessage>();
  ex->self.reset();  // the caller's reference keeps it alive until its callback returns
  if (ex->prefetched) ex->prefetched->prefetching.store(false);
  if (ok) {
    auto entry = CacheStore(ex->cache_key, answer, size);
    if (!ex->reply) return;
    if (entry)
      return ex->reply(out, BuildResponse(ex->q, *entry, false, ex->limit, out, kMaxMessage));
    // Not cacheable (errors, no SOA, odd OPT placement): pass it through as is.
    CacheEntry passthrough;
    passthrough.message.assign(reinterpret_cast<const char*>(answer), size);
    passthrough.stored_ms = clock_.NowMs();
    std::vector<RecordInfo> records;
    if (WalkRecords(answer, size, records)) {
      for (const auto& r : records) {
        if (r.type == kTypeOPT && r.end == size) {
          passthrough.message.resize(r.start);
          Write16(reinterpret_cast<uint8_t*>(passthrough.message.data()) + 10,
                  static_cast<uint16_t>(Read16(answer + 10) - 1));
        } else if (r.type != kTypeOPT) {
          passthrough.ttl_offsets.push_back(static_cast<uint16_t>(r.ttl_offset));
        }
      }
    }
    return ex->reply(out, BuildResponse(ex->q, passthrough, false, ex->limit, out, kMaxMessage));
  }
  if (!ex->reply) return;
  if (auto entry = CacheFind(ex->cache_key);
      entry && clock_.NowMs() < entry->expires_ms + options_.stale_max_s * 1000) {
    stale_->Inc();
    return ex->reply(out, BuildResponse(ex->q, *entry, true, ex->limit, out, kMaxMessage));
  }
  servfail_->Inc();
  ex->reply(out, ServFail(ex->q, out, kMaxMessage));
}

}  // namespace dnsd::dns
