#include "dnsd/host_resolver.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/strings.h"
#include "common/thread_name.h"
#include "dnsd/dns_wire.h"
#include "spdlog/spdlog.h"

namespace dnsd::dns {
namespace {

constexpr int64_t kTickMs = 250;
constexpr int64_t kTimeoutMs = 2000;
constexpr int64_t kRetryMs = 5000;
constexpr uint32_t kMinTtl = 5;
constexpr uint32_t kMaxTtl = 300;
constexpr uint32_t kNegativeTtl = 30;  // NXDOMAIN / NODATA: asked again after this
constexpr uint16_t kQtypes[2] = {kTypeA, kTypeAAAA};

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HostResolver::HostResolver(common::MetricsRegistry& metrics)
    : lookups_(metrics.GetCounter("dnsd_dns_host_lookups_total",
                                  "Lookups of instances' host names (A and AAAA, through dnsd's "
                                  "own listener)")),
      failures_(metrics.GetCounter("dnsd_dns_host_lookup_failures_total",
                                   "Host name lookups that failed or timed out (the previous "
                                   "addresses stay)")),
      changes_(metrics.GetCounter("dnsd_dns_host_address_changes_total",
                                  "Times a host name's addresses changed")) {
  metrics.AddGauge("dnsd_dns_host_names", "Host names of instances kept resolved", [this] {
    std::lock_guard lock(mu_);
    return static_cast<double>(hosts_.size());
  });
}

absl::StatusOr<std::unique_ptr<HostResolver>> HostResolver::Create(
    common::MetricsRegistry& metrics) {
  std::unique_ptr<HostResolver> resolver(new HostResolver(metrics));
  auto loop = common::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  resolver->loop_ = std::move(*loop);
  return resolver;
}

HostResolver::~HostResolver() {
  Stop();
  read_event_.reset();
  loop_.reset();
  if (fd_ >= 0) ::close(fd_);
}

absl::Status HostResolver::Start(const common::SocketAddress& server) {
  fd_ = ::socket(server.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0)
    return absl::InternalError(common::StrCat("host resolver socket: ", strerror(errno)));
  if (::connect(fd_, server.get(), server.length) != 0) {
    return absl::InternalError(
        common::StrCat("host resolver: connect ", server.ToString(), ": ", strerror(errno)));
  }
  read_event_.reset(
      event_new(loop_->base(), fd_, EV_READ | EV_PERSIST, &HostResolver::OnReadable, this));
  event_add(read_event_.get(), nullptr);
  loop_->RunEvery(kTickMs, [this] { Tick(); });
  loop_->Post([this] { Tick(); });
  started_ = true;
  thread_ = std::thread([this] {
    common::SetThreadName("dns-hosts");
    loop_->Run();
  });
  return absl::OkStatus();
}

void HostResolver::Stop() {
  if (!thread_.joinable()) return;
  loop_->Stop();
  thread_.join();
}

void HostResolver::Acquire(const std::string& host) {
  bool fresh = false;
  {
    std::lock_guard lock(mu_);
    Entry& entry = hosts_[host];
    fresh = ++entry.refs == 1;
  }
  // A new name is looked up at once rather than at the next tick.
  if (fresh && started_) loop_->Post([this] { Tick(); });
}

void HostResolver::Release(const std::string& host) {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(host);
  if (it == hosts_.end() || --it->second.refs > 0) return;
  for (uint16_t id : it->second.ids) {
    auto pending = by_id_.find(id);
    if (it->second.in_flight && pending != by_id_.end() && pending->second == host) {
      by_id_.erase(pending);
    }
  }
  hosts_.erase(it);
}

std::shared_ptr<const HostAddresses> HostResolver::Lookup(const std::string& host) const {
  std::lock_guard lock(mu_);
  auto it = hosts_.find(host);
  return it == hosts_.end() ? nullptr : it->second.addresses;
}

void HostResolver::Tick() {
  std::vector<std::string> changed;
  {
    std::lock_guard lock(mu_);
    const int64_t now = SteadyMs();
    for (auto& [host, entry] : hosts_) {
      if (entry.in_flight && now - entry.sent_ms >= kTimeoutMs) {
        entry.failed = true;
        for (uint16_t id : entry.ids) by_id_.erase(id);
        Complete(host, entry, now, changed);
      }
      if (!entry.in_flight && now >= entry.next_ms) Send(host, entry, now);
    }
  }
  Notify(changed);
}

void HostResolver::Send(const std::string& host, Entry& entry, int64_t now_ms) {
  WireName name;
  if (!NameFromText(host, name)) {
    entry.next_ms = now_ms + int64_t{kMaxTtl} * 1000;  // cannot be asked; the zone checked it
    return;
  }
  entry.in_flight = true;
  entry.sent_ms = now_ms;
  entry.answered[0] = entry.answered[1] = false;
  entry.failed = false;
  entry.partial = HostAddresses{};
  entry.min_ttl = UINT32_MAX;
  for (int i = 0; i < 2; ++i) {
    uint16_t id = RandomQueryId();
    while (by_id_.contains(id)) id = RandomQueryId();
    entry.ids[i] = id;
    by_id_[id] = host;
    uint8_t packet[kHeaderSize + kMaxName + 4 + 11] = {};
    Write16(packet, id);
    Write16(packet + 2, 0x0100);  // RD
    Write16(packet + 4, 1);       // QDCOUNT
    Write16(packet + 10, 1);      // ARCOUNT: OPT
    uint8_t* p = packet + kHeaderSize;
    std::memcpy(p, name.data, name.size);
    p += name.size;
    Write16(p, kQtypes[i]);
    Write16(p + 2, kClassIN);
    p += 4;
    // OPT: root owner, type 41, our UDP size, no extended flags, no options.
    *p++ = 0;
    Write16(p, 41);
    Write16(p + 2, kOurUdpSize);
    p += 10;
    lookups_.Inc();
    if (::send(fd_, packet, static_cast<size_t>(p - packet), 0) < 0) entry.failed = true;
  }
}

void HostResolver::OnReadable(evutil_socket_t, short, void* self) {
  static_cast<HostResolver*>(self)->Receive();
}

void HostResolver::Receive() {
  std::vector<std::string> changed;
  uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n < 0) break;  // EAGAIN, or an ICMP error for the connected socket
    if (n < static_cast<ssize_t>(kHeaderSize)) continue;
    const uint16_t id = Read16(buffer);
    std::lock_guard lock(mu_);
    auto pending = by_id_.find(id);
    if (pending == by_id_.end()) continue;  // late or stray
    const std::string host = pending->second;
    by_id_.erase(pending);
    auto it = hosts_.find(host);
    if (it == hosts_.end() || !it->second.in_flight) continue;
    Entry& entry = it->second;
    const int which = entry.ids[0] == id ? 0 : 1;
    HostAddresses got;
    uint32_t ttl = UINT32_MAX;
    uint8_t rcode = 0;
    if (!ParseAnswer(buffer, static_cast<size_t>(n), id, kQtypes[which], got, ttl, rcode) ||
        (rcode != kRcodeNoError && rcode != kRcodeNxDomain)) {
      entry.failed = true;
    } else {
      for (const auto& a : got.v4) entry.partial.v4.push_back(a);
      for (const auto& a : got.v6) entry.partial.v6.push_back(a);
      entry.min_ttl = std::min(entry.min_ttl, ttl);
    }
    entry.answered[which] = true;
    if (entry.answered[0] && entry.answered[1]) Complete(host, entry, SteadyMs(), changed);
  }
  Notify(changed);
}

void HostResolver::Complete(const std::string& host, Entry& entry, int64_t now_ms,
                            std::vector<std::string>& changed) {
  entry.in_flight = false;
  if (entry.failed) {
    failures_.Inc();
    entry.next_ms = now_ms + kRetryMs;
    return;
  }
  auto addresses = std::make_shared<HostAddresses>(std::move(entry.partial));
  std::sort(addresses->v4.begin(), addresses->v4.end());
  addresses->v4.erase(std::unique(addresses->v4.begin(), addresses->v4.end()), addresses->v4.end());
  std::sort(addresses->v6.begin(), addresses->v6.end());
  addresses->v6.erase(std::unique(addresses->v6.begin(), addresses->v6.end()), addresses->v6.end());
  const uint32_t ttl = addresses->v4.empty() && addresses->v6.empty()
                           ? kNegativeTtl
                           : std::clamp(entry.min_ttl, kMinTtl, kMaxTtl);
  entry.next_ms = now_ms + int64_t{ttl} * 1000;
  if (entry.addresses && *entry.addresses == *addresses) return;
  entry.addresses = std::move(addresses);
  changes_.Inc();
  changed.push_back(host);
}

void HostResolver::Notify(const std::vector<std::string>& changed) {
  if (!on_change_) return;
  for (const auto& host : changed) on_change_(host);
}

bool HostResolver::ParseAnswer(const uint8_t* msg, size_t size, uint16_t id, uint16_t qtype,
                               HostAddresses& out, uint32_t& min_ttl, uint8_t& rcode) {
  if (size < kHeaderSize || Read16(msg) != id) return false;
  const uint16_t flags = Read16(msg + 2);
  if ((flags & 0x8000) == 0 || (flags & 0x0200) != 0) return false;  // not an answer; truncated
  rcode = static_cast<uint8_t>(flags & 0x000F);
  const uint16_t questions = Read16(msg + 4);
  const uint16_t answers = Read16(msg + 6);
  size_t pos = kHeaderSize;
  for (uint16_t i = 0; i < questions; ++i) {
    pos = SkipName(msg, size, pos);
    if (pos == 0 || pos + 4 > size) return false;
    if (Read16(msg + pos) != qtype) return false;
    pos += 4;
  }
  for (uint16_t i = 0; i < answers; ++i) {
    pos = SkipName(msg, size, pos);
    if (pos == 0 || pos + 10 > size) return false;
    const uint16_t type = Read16(msg + pos);
    const uint16_t klass = Read16(msg + pos + 2);
    const uint32_t ttl = Read32(msg + pos + 4);
    const uint16_t rdlen = Read16(msg + pos + 8);
    pos += 10;
    if (pos + rdlen > size) return false;
    min_ttl = std::min(min_ttl, ttl);
    if (klass == kClassIN && type == qtype && type == kTypeA && rdlen == 4) {
      std::array<uint8_t, 4> a;
      std::memcpy(a.data(), msg + pos, 4);
      out.v4.push_back(a);
    } else if (klass == kClassIN && type == qtype && type == kTypeAAAA && rdlen == 16) {
      std::array<uint8_t, 16> a;
      std::memcpy(a.data(), msg + pos, 16);
      out.v6.push_back(a);
    }
    pos += rdlen;
  }
  return true;
}

}  // namespace dnsd::dns
