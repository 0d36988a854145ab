#include "api/udp_push.h"

#include <fcntl.h>
#include <json/json.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "api/json_writer.h"
#include "api/naming_json.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::api {
namespace {

constexpr size_t kMaxDatagram = 65'000;
constexpr int64_t kExpiryCheckMs = 1000;

// The target as the socket of `family` addresses it (IPv4 targets of a dual-stack socket are
// v4-mapped IPv6 addresses).
absl::StatusOr<common::SocketAddress> TargetAddress(const std::string& ip, int port, int family) {
  auto address = common::SocketAddress::FromIp(ip, port);
  if (!address.ok()) return address.status();
  if (address->family() == family) return address;
  if (family == AF_INET) return absl::InvalidArgumentError("an IPv6 target on an IPv4 socket");
  return common::SocketAddress::FromIp(common::StrCat("::ffff:", ip), port);
}

int PortOf(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in&>(address).sin_port);
  }
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6&>(address).sin6_port);
  }
  return -1;
}

// An acknowledgement counts when it comes from the target's port, from any address: a
// multi-homed client reports one of its addresses as clientIP and may answer from another
// (the nacos npm SDK reports its first ethN address; its answer to a push from a loopback
// socket leaves from 127.0.0.1). The push id must match as well.
bool FromTargetPort(const common::SocketAddress& target, const sockaddr_storage& from) {
  return PortOf(target.storage) == PortOf(from);
}

}  // namespace

UdpPusher::UdpPusher(const UdpPushOptions& options, const registry::Registry& registry,
                     const common::Clock& clock, common::MetricsRegistry& metrics)
    : options_(options),
      registry_(registry),
      clock_(clock),
      sent_(metrics.GetCounter("dnsd_udp_push_sent_total",
                               "UDP pushes sent to Nacos 1.x clients (first sends)")),
      acked_(metrics.GetCounter("dnsd_udp_push_acked_total", "UDP pushes acknowledged")),
      retried_(metrics.GetCounter("dnsd_udp_push_retries_total", "UDP pushes sent again")),
      failed_(metrics.GetCounter("dnsd_udp_push_failed_total",
                                 "UDP pushes never acknowledged after every retry")),
      bad_packets_(
          metrics.GetCounter("dnsd_udp_push_bad_packets_total",
                             "Datagrams to the push socket that are not acknowledgements")),
      stray_acks_(metrics.GetCounter(
          "dnsd_udp_push_stray_acks_total",
          "Acknowledgements of no pending push (late, repeated, or from another address)")),
      refused_targets_(metrics.GetCounter("dnsd_udp_push_refused_targets_total",
                                          "Push targets not recorded: the target table is full")),
      expired_targets_(metrics.GetCounter("dnsd_udp_push_expired_targets_total",
                                          "Push targets dropped after no list query for a while")),
      too_large_(metrics.GetCounter("dnsd_udp_push_too_large_total",
                                    "Pushes not sent: the list does not fit a datagram")),
      untracked_(metrics.GetCounter(
          "dnsd_udp_push_untracked_total",
          "Pushes sent once without retries: too many were awaiting acknowledgement")) {
  metrics.AddGauge("dnsd_udp_push_targets", "UDP push targets (Nacos 1.x subscribers)",
                   [this] { return static_cast<double>(target_gauge_.load()); });
  metrics.AddGauge("dnsd_udp_push_pending", "UDP pushes awaiting acknowledgement",
                   [this] { return static_cast<double>(pending_gauge_.load()); });
}

absl::StatusOr<std::unique_ptr<UdpPusher>> UdpPusher::Create(const UdpPushOptions& options,
                                                             const registry::Registry& registry,
                                                             const common::Clock& clock,
                                                             common::MetricsRegistry& metrics) {
  std::unique_ptr<UdpPusher> pusher(new UdpPusher(options, registry, clock, metrics));
  auto bind = common::SocketAddress::FromIp(options.bind_address, 0);
  // Anything but an IP literal (a host name) pushes from every address, as the wildcard does.
  const bool unspecified =
      !bind.ok() || options.bind_address == "0.0.0.0" || options.bind_address == "::";
  if (unspecified) bind = common::SocketAddress::FromIp("::", 0);
  pusher->family_ = bind->family();
  pusher->fd_ = ::socket(pusher->family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (pusher->fd_ < 0 && unspecified) {
    // A host without IPv6: an IPv4 socket reaches every IPv4 subscriber.
    bind = common::SocketAddress::FromIp("0.0.0.0", 0);
    pusher->family_ = AF_INET;
    pusher->fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  }
  if (pusher->fd_ < 0)
    return absl::InternalError(common::StrCat("udp push socket: ", strerror(errno)));
  if (pusher->family_ == AF_INET6 && unspecified) {
    const int off = 0;
    setsockopt(pusher->fd_, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
  }
  // A change to a service with many subscribers sends a burst of pushes and draws a burst of
  // acknowledgements: room for thousands of each (the kernel caps the plain option at
  // net.core.[rw]mem_max; the FORCE variants work with CAP_NET_ADMIN).
  constexpr int kBufferBytes = 4 << 20;
  const int buffer_options[2][2] = {{SO_RCVBUFFORCE, SO_RCVBUF}, {SO_SNDBUFFORCE, SO_SNDBUF}};
  for (const auto& option : buffer_options) {
    if (setsockopt(pusher->fd_, SOL_SOCKET, option[0], &kBufferBytes, sizeof(kBufferBytes)) != 0) {
      setsockopt(pusher->fd_, SOL_SOCKET, option[1], &kBufferBytes, sizeof(kBufferBytes));
    }
  }
  if (::bind(pusher->fd_, bind->get(), bind->length) != 0) {
    return absl::InternalError(
        common::StrCat("udp push socket: bind ", options.bind_address, ": ", strerror(errno)));
  }
  sockaddr_storage bound{};
  socklen_t length = sizeof(bound);
  getsockname(pusher->fd_, reinterpret_cast<sockaddr*>(&bound), &length);
  pusher->port_ =
      common::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), length).port();
  auto loop = common::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  pusher->loop_ = std::move(*loop);
  pusher->read_event_.reset(event_new(pusher->loop_->base(), pusher->fd_, EV_READ | EV_PERSIST,
                                      &UdpPusher::OnReadableCallback, pusher.get()));
  event_add(pusher->read_event_.get(), nullptr);
  // Ids count up from the start time in ms: unique across restarts, and below 2^53 so that
  // JavaScript clients echo them exactly.
  pusher->next_id_ = static_cast<uint64_t>(clock.NowMs());
  pusher->loop_->RunEvery(kExpiryCheckMs, [p = pusher.get()] { p->ExpireTargets(); });
  return pusher;
}

UdpPusher::~UdpPusher() {
  Stop();
  read_event_.reset();
  loop_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void UdpPusher::Start() {
  thread_ = std::thread([this] {
    common::SetThreadName("udp-push");
    loop_->Run();
  });
}

void UdpPusher::Stop() {
  if (!thread_.joinable()) return;
  loop_->Stop();
  thread_.join();
}

void UdpPusher::Record(const registry::ServiceKey& key, const std::string& ip, int port,
                       const std::string& clusters, bool healthy_only) {
  auto address = TargetAddress(ip, port, family_);
  if (!address.ok()) return;  // not an address this socket can reach: no pushes, as Nacos
  {
    std::lock_guard lock(mu_);
    targeted_.insert(key);
  }
  const int64_t now = clock_.NowMs();
  loop_->Post([this, key, address = *address, clusters, healthy_only, now] {
    {
      // Again here: an expiry pass may have dropped the key between the insert above and now.
      std::lock_guard lock(mu_);
      targeted_.insert(key);
    }
    auto& targets = targets_[key];
    const std::string id = address.ToString();
    auto it = targets.find(id);
    if (it == targets.end()) {
      if (target_count_ >= options_.max_targets) {
        refused_targets_.Inc();
        if (targets.empty()) targets_.erase(key);
        return;
      }
      it = targets.emplace(id, Target{}).first;
      target_gauge_.store(++target_count_);
    }
    it->second = Target{address, clusters, healthy_only, now};
  });
}

void UdpPusher::OnServiceChanged(const registry::ServiceKey& key) {
  std::lock_guard lock(mu_);
  if (!targeted_.contains(key)) return;
  changed_.insert(key);
  if (flush_posted_) return;
  flush_posted_ = true;
  loop_->Post([this] { Flush(); });
}

void UdpPusher::Flush() {
  std::set<registry::ServiceKey> changed;
  {
    std::lock_guard lock(mu_);
    changed.swap(changed_);
    flush_posted_ = false;
  }
  for (const auto& key : changed) Push(key);
}

void UdpPusher::Push(const registry::ServiceKey& key) {
  auto targets = targets_.find(key);
  if (targets == targets_.end()) return;
  const auto view = registry_.Find(key);
  const int64_t now = clock_.NowMs();
  // One list per distinct query shape (clusters, healthyOnly) among the targets.
  std::map<std::pair<std::string, bool>, std::string> lists;
  for (const auto& [id, target] : targets->second) {
    auto& data = lists[{target.clusters, target.healthy_only}];
    if (data.empty()) {
      ServiceInfoOptions options;
      options.clusters = target.clusters;
      options.healthy_only = target.healthy_only;
      options.cache_millis = options_.cache_millis;
      options.now_ms = now;
      data = ServiceInfoJson(key, view.get(), options);
    }
    const uint64_t push_id = next_id_++;
    JsonWriter w;
    w.BeginObject()
        .Key("type")
        .String("dom")
        .Key("data")
        .String(data)
        .Key("lastRefTime")
        .Int(static_cast<int64_t>(push_id));
    w.EndObject();
    auto packet = std::make_shared<const std::string>(w.Take());
    if (packet->size() > kMaxDatagram) {
      too_large_.Inc();
      continue;
    }
    sent_.Inc();
    if (pending_.size() >= options_.max_pending) {
      untracked_.Inc();
      ::sendto(fd_, packet->data(), packet->size(), 0, target.address.get(), target.address.length);
      continue;
    }
    pending_[push_id] = Pending{std::move(packet), target.address, 0};
    pending_gauge_.store(pending_.size());
    Send(push_id);
  }
}

void UdpPusher::Send(uint64_t id) {
  Pending& p = pending_.at(id);
  // A full socket buffer loses this send; the retry sends it again.
  ::sendto(fd_, p.packet->data(), p.packet->size(), 0, p.address.get(), p.address.length);
  loop_->RunAfter(options_.retry_ms, [this, id] { Retry(id); });
}

void UdpPusher::Retry(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;  // acknowledged
  if (it->second.tries >= options_.max_retries) {
    failed_.Inc();
    pending_.erase(it);
    pending_gauge_.store(pending_.size());
    return;
  }
  ++it->second.tries;
  retried_.Inc();
  Send(id);
}

void UdpPusher::OnReadableCallback(evutil_socket_t, short, void* self) {
  static_cast<UdpPusher*>(self)->OnReadable();
}

void UdpPusher::OnReadable() {
  char buffer[4096];
  for (int i = 0; i < 256; ++i) {
    sockaddr_storage from{};
    socklen_t length = sizeof(from);
    const ssize_t n =
        ::recvfrom(fd_, buffer, sizeof(buffer), 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) return;  // EAGAIN: drained
    Json::CharReaderBuilder builder;
    std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
    Json::Value ack;
    std::string errors;
    const bool parsed = reader->parse(buffer, buffer + n, &ack, &errors);
    if (!parsed || !ack.isObject() || !ack["type"].isString() || !ack["lastRefTime"].isUInt64()) {
      bad_packets_.Inc();
      continue;
    }
    const std::string type = ack["type"].asString();
    if (type != "push-ack" && type != "dump-ack" && type != "unknown-ack") {
      bad_packets_.Inc();
      continue;
    }
    auto it = pending_.find(ack["lastRefTime"].asUInt64());
    if (it == pending_.end() || !FromTargetPort(it->second.address, from)) {
      stray_acks_.Inc();
      continue;
    }
    acked_.Inc();
    pending_.erase(it);
    pending_gauge_.store(pending_.size());
  }
}

void UdpPusher::ExpireTargets() {
  const int64_t now = clock_.NowMs();
  std::vector<registry::ServiceKey> emptied;
  for (auto it = targets_.begin(); it != targets_.end();) {
    auto& targets = it->second;
    for (auto t = targets.begin(); t != targets.end();) {
      if (now - t->second.last_query_ms >= options_.target_idle_ms) {
        expired_targets_.Inc();
        t = targets.erase(t);
        --target_count_;
      } else {
        ++t;
      }
    }
    if (targets.empty()) {
      emptied.push_back(it->first);
      targets_.erase(it++);
    } else {
      ++it;
    }
  }
  target_gauge_.store(target_count_);
  if (emptied.empty()) return;
  std::lock_guard lock(mu_);
  // A Record posted meanwhile re-adds its key on the loop; only drop keys still empty here.
  for (const auto& key : emptied) {
    if (!targets_.contains(key)) targeted_.erase(key);
  }
}

}  // namespace dnsd::api
