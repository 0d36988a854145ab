#include "dnsd/dns_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <unordered_map>

#include "common/socket_address.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::dns {
namespace {

constexpr int kBatch = 32;
constexpr size_t kControlBytes = 64;  // room for one IP_PKTINFO / IPV6_PKTINFO message

// The source a reply must leave from: the address the query arrived on. Only needed when the
// socket is bound to a wildcard address (else the kernel uses the bound one); clients drop a
// reply that comes from another address than the one they asked.
struct ReplySource {
  alignas(cmsghdr) uint8_t control[kControlBytes];
  size_t length = 0;
};

// Builds the control message for a reply to the datagram received with `in`.
void ReplySourceOf(const msghdr& in, ReplySource& out) {
  out.length = 0;
  if (in.msg_controllen == 0) return;
  for (cmsghdr* c = CMSG_FIRSTHDR(const_cast<msghdr*>(&in)); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&in), c)) {
    msghdr reply{};
    reply.msg_control = out.control;
    reply.msg_controllen = sizeof(out.control);
    cmsghdr* r = CMSG_FIRSTHDR(&reply);
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      info.ipi_spec_dst = info.ipi_addr;
      info.ipi_ifindex = 0;
      r->cmsg_level = IPPROTO_IP;
      r->cmsg_type = IP_PKTINFO;
      r->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(r), &info, sizeof(info));
      out.length = CMSG_SPACE(sizeof(info));
      return;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      r->cmsg_level = IPPROTO_IPV6;
      r->cmsg_type = IPV6_PKTINFO;
      r->cmsg_len = CMSG_LEN(sizeof(info));
      std::memcpy(CMSG_DATA(r), &info, sizeof(info));
      out.length = CMSG_SPACE(sizeof(info));
      return;
    }
  }
}

bool IsWildcard(const common::SocketAddress& addr) {
  return addr.ip() == "0.0.0.0" || addr.ip() == "::";
}
constexpr size_t kUdpIn = 4096;
constexpr size_t kUdpOut = 1280;

absl::StatusOr<common::SocketAddress> ListenAddress(const std::string& address, int port) {
  auto parsed = common::SocketAddress::FromIp(address, port);
  if (!parsed.ok())
    return absl::InvalidArgumentError(common::StrCat("dns.address: ", parsed.status().message()));
  return parsed;
}

std::string IpOf(const sockaddr_storage& ss) {
  return common::SocketAddress::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss), sizeof(ss))
      .ip();
}

// Binds a socket of `type`; `reuse_port` lets every worker bind the same port.
absl::StatusOr<int> BindSocket(int type, const common::SocketAddress& addr, bool reuse_port,
                               const std::string& what) {
  const int fd = socket(addr.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(common::StrCat("socket: ", std::strerror(errno)));
  const int one = 1;
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  if (type == SOCK_DGRAM) {
    // Responses never exceed 1232 bytes, so send them with DF and without path-MTU state, as
    // DNS Flag Day 2020 advises (and the kernel skips IP id generation for DF packets).
    const int probe = IP_PMTUDISC_PROBE;
    if (addr.family() == AF_INET) {
      setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe));
    } else {
      const int probe6 = IPV6_PMTUDISC_PROBE;
      setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &probe6, sizeof(probe6));
    }
  }
  if (bind(fd, addr.get(), addr.length) != 0) {
    const int err = errno;
    close(fd);
    return absl::UnavailableError(common::StrCat("cannot listen for DNS (", what, ") on ",
                                                 addr.ToString(), ": ", std::strerror(err)));
  }
  if (type == SOCK_STREAM && listen(fd, 512) != 0) {
    close(fd);
    return absl::UnavailableError(common::StrCat("listen: ", std::strerror(errno)));
  }
  return fd;
}

}  // namespace

struct DnsServer::Connection {
  ~Connection() {
    if (message_timer) event_free(message_timer);
  }
  Worker* worker = nullptr;
  bufferevent* bev = nullptr;
  event* message_timer = nullptr;  // armed while a message is partly received
  std::string client_ip;
  sockaddr_storage client{};  // for DNS cookies
  bool may_forward = false;
  bool open = true;
};

struct DnsServer::Worker {
  DnsServer* server = nullptr;
  std::unique_ptr<common::EventLoop> loop;
  int udp_fd = -1;
  bool wildcard = false;  // bound to 0.0.0.0 or ::: replies carry their source address
  evconnlistener* listener = nullptr;
  // Receive buffers are kUdpIn long but laid out one cache line further apart: with a 4 KiB
  // stride every buffer's header would fall in the same L1 set, and a batch of 32 would
  // evict its own headers before they are parsed.
  uint8_t in[kBatch][kUdpIn + 64];
  uint8_t out[kBatch][kUdpOut];
  sockaddr_storage addrs[kBatch];
  alignas(cmsghdr) uint8_t in_control[kBatch][kControlBytes];
  ReplySource reply_sources[kBatch];
  mmsghdr in_msgs[kBatch];
  mmsghdr out_msgs[kBatch];
  iovec in_iov[kBatch];
  iovec out_iov[kBatch];
  uint8_t tcp_in[65535];
  uint8_t tcp_out[65537];
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections;

  // Blocking receive loop of the worker's UDP socket; runs on its own thread so each wake-up
  // costs one recvmmsg instead of epoll_wait + recvmmsg.
  void RunUdp();
  // Hands `q` to `handler` (the forwarder, or the waiter) and sends its reply from the UDP
  // socket.
  void Forward(Forwarder* handler, const Query& q, size_t limit, const sockaddr_storage& client,
               const ReplySource& source);
  void OnAccept(evutil_socket_t fd, sockaddr* addr, int len);
  void OnTcpRead(Connection& conn);
  void Close(Connection& conn);
};

void DnsServer::Worker::RunUdp() {
  for (int i = 0; i < kBatch; ++i) {
    in_iov[i] = {in[i], kUdpIn};
    std::memset(&in_msgs[i], 0, sizeof(in_msgs[i]));
    in_msgs[i].msg_hdr.msg_name = &addrs[i];
    in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
    in_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  while (!server->stopping_.load(std::memory_order_relaxed)) {
    for (int i = 0; i < kBatch; ++i) {
      in_msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
      if (wildcard) {
        in_msgs[i].msg_hdr.msg_control = in_control[i];
        in_msgs[i].msg_hdr.msg_controllen = kControlBytes;
      }
    }
    // Blocks for the first datagram, then takes whatever else is queued (up to kBatch).
    const int n = recvmmsg(udp_fd, in_msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;  // EINTR, or shutdown() by Stop()
    int responses = 0;
    // Rate limiting counts in whole seconds; one clock read per batch.
    const auto now_s = static_cast<uint32_t>(
        server->rrl_->enabled() ? std::chrono::duration_cast<std::chrono::seconds>(
                                      std::chrono::steady_clock::now().time_since_epoch())
                                      .count()
                                : 0);
    for (int i = 0; i < n; ++i) {
      Query q;
      // The allow-list is only consulted for queries that would be forwarded.
      PipelineOutcome outcome = server->pipeline_.Process(in[i], in_msgs[i].msg_len, out[responses],
                                                          kUdpOut, false, true, q, &addrs[i]);
      // A query that returned our cookie has shown it receives our answers at its address: as
      // TCP does, it is not rate limited.
      const ResponseRateLimiter::Verdict limit = q.cookie_valid
                                                     ? ResponseRateLimiter::Verdict::kAnswer
                                                     : server->rrl_->Check(addrs[i], now_s);
      if (limit == ResponseRateLimiter::Verdict::kDrop) continue;
      if (outcome.verdict == Verdict::kForward && !server->MayForward(addrs[i])) {
        outcome.verdict = Verdict::kRespond;
        outcome.size = server->pipeline_.Refuse(q, false, out[responses], kUdpOut);
      }
      // Slipped: an empty truncated answer instead of anything larger than the query (error
      // answers to undecodable queries are no larger, and keep their rcode).
      if (limit == ResponseRateLimiter::Verdict::kSlip &&
          (outcome.verdict == Verdict::kForward || outcome.verdict == Verdict::kWait ||
           (outcome.verdict == Verdict::kRespond && outcome.size > in_msgs[i].msg_len))) {
        outcome.verdict = Verdict::kRespond;
        outcome.size = server->pipeline_.Truncated(q, out[responses], kUdpOut);
      }
      if (outcome.verdict == Verdict::kRespond) {
        out_iov[responses] = {out[responses], outcome.size};
        std::memset(&out_msgs[responses], 0, sizeof(out_msgs[responses]));
        out_msgs[responses].msg_hdr.msg_name = &addrs[i];
        out_msgs[responses].msg_hdr.msg_namelen = in_msgs[i].msg_hdr.msg_namelen;
        out_msgs[responses].msg_hdr.msg_iov = &out_iov[responses];
        out_msgs[responses].msg_hdr.msg_iovlen = 1;
        if (wildcard) {
          ReplySource& source = reply_sources[responses];
          ReplySourceOf(in_msgs[i].msg_hdr, source);
          if (source.length > 0) {
            out_msgs[responses].msg_hdr.msg_control = source.control;
            out_msgs[responses].msg_hdr.msg_controllen = source.length;
          }
        }
        ++responses;
      } else if (outcome.verdict == Verdict::kForward || outcome.verdict == Verdict::kWait) {
        ReplySource source;
        if (wildcard) ReplySourceOf(in_msgs[i].msg_hdr, source);
        Forwarder* handler =
            outcome.verdict == Verdict::kForward ? server->forwarder_ : server->waiter_;
        // The forwarder and the waiter live on the worker's event loop.
        loop->Post([this, handler, q, client = addrs[i], source] {
          Forward(handler, q, QueryPipeline::ResponseLimit(q, false), client, source);
        });
      }
    }
    for (int sent = 0; sent < responses;) {
      const int r = sendmmsg(udp_fd, out_msgs + sent, static_cast<unsigned>(responses - sent), 0);
      if (r <= 0) break;  // a full socket buffer drops the rest, as a router would
      sent += r;
    }
  }
}

void DnsServer::Worker::Forward(Forwarder* handler, const Query& q, size_t limit,
                                const sockaddr_storage& client, const ReplySource& source) {
  const int fd = udp_fd;
  const socklen_t len = client.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  handler->Resolve(*loop, q, limit, [fd, client, len, source](const uint8_t* data, size_t size) {
    if (size == 0) return;
    iovec iov{const_cast<uint8_t*>(data), size};
    msghdr msg{};
    msg.msg_name = const_cast<sockaddr_storage*>(&client);
    msg.msg_namelen = len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (source.length > 0) {
      msg.msg_control = const_cast<uint8_t*>(source.control);
      msg.msg_controllen = source.length;
    }
    sendmsg(fd, &msg, 0);
  });
}

void DnsServer::Worker::OnAccept(evutil_socket_t fd, sockaddr* addr, int) {
  sockaddr_storage ss{};
  std::memcpy(&ss, addr, addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6));
  const std::string ip = IpOf(ss);
  if (!server->AdmitTcp(ip)) {
    server->tcp_refused_->Inc();
    evutil_closesocket(fd);
    return;
  }
  auto conn = std::make_shared<Connection>();
  conn->worker = this;
  conn->client_ip = ip;
  conn->client = ss;
  conn->may_forward = server->MayForward(ss);
  conn->bev = bufferevent_socket_new(loop->base(), fd, BEV_OPT_CLOSE_ON_FREE);
  Connection* raw = conn.get();
  connections[raw] = std::move(conn);
  bufferevent_setcb(
      raw->bev,
      [](bufferevent*, void* c) {
        static_cast<Connection*>(c)->worker->OnTcpRead(*static_cast<Connection*>(c));
      },
      nullptr,
      [](bufferevent*, short what, void* c) {
        auto* conn = static_cast<Connection*>(c);
        if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
          conn->worker->Close(*conn);
      },
      raw);
  const timeval idle{server->options_.tcp_idle_timeout_ms / 1000,
                     (server->options_.tcp_idle_timeout_ms % 1000) * 1000};
  bufferevent_set_timeouts(raw->bev, &idle, nullptr);
  raw->message_timer = evtimer_new(
      loop->base(),
      [](evutil_socket_t, short, void* c) {
        auto* conn = static_cast<Connection*>(c);
        conn->worker->server->tcp_message_timeouts_->Inc();
        conn->worker->Close(*conn);
      },
      raw);
  bufferevent_enable(raw->bev, EV_READ | EV_WRITE);
}

void DnsServer::Worker::OnTcpRead(Connection& conn) {
  evbuffer* input = bufferevent_get_input(conn.bev);
  for (;;) {
    uint8_t prefix[2];
    const size_t buffered = evbuffer_get_length(input);
    const size_t size = evbuffer_copyout(input, prefix, 2) == 2 ? Read16(prefix) : 0;
    if (buffered < 2 || buffered < 2 + size) {
      // Part of a message: it must be complete before its deadline (set at its first byte).
      if (buffered > 0 && !evtimer_pending(conn.message_timer, nullptr)) {
        const int ms = server->options_.tcp_message_timeout_ms;
        const timeval deadline{ms / 1000, (ms % 1000) * 1000};
        evtimer_add(conn.message_timer, &deadline);
      }
      return;
    }
    evtimer_del(conn.message_timer);
    evbuffer_drain(input, 2);
    evbuffer_remove(input, tcp_in, size);
    Query q;
    const PipelineOutcome outcome = server->pipeline_.Process(
        tcp_in, size, tcp_out + 2, sizeof(tcp_out) - 2, true, conn.may_forward, q, &conn.client);
    if (outcome.verdict == Verdict::kRespond) {
      // Length and message in one write (RFC 7766 §8).
      Write16(tcp_out, static_cast<uint16_t>(outcome.size));
      bufferevent_write(conn.bev, tcp_out, outcome.size + 2);
    } else if (outcome.verdict == Verdict::kForward || outcome.verdict == Verdict::kWait) {
      std::weak_ptr<Connection> weak = connections[&conn];
      Forwarder* handler =
          outcome.verdict == Verdict::kForward ? server->forwarder_ : server->waiter_;
      handler->Resolve(*loop, q, 65535, [weak](const uint8_t* data, size_t n) {
        auto c = weak.lock();
        if (!c || !c->open || n == 0) return;
        uint8_t len[2];
        Write16(len, static_cast<uint16_t>(n));
        evbuffer* out = bufferevent_get_output(c->bev);
        evbuffer_add(out, len, 2);
        evbuffer_add(out, data, n);
      });
    } else if (size == 0) {
      Close(conn);
      return;
    }
  }
}

void DnsServer::Worker::Close(Connection& conn) {
  if (!conn.open) return;
  conn.open = false;
  evtimer_del(conn.message_timer);
  bufferevent_free(conn.bev);
  conn.bev = nullptr;
  server->ReleaseTcp(conn.client_ip);
  connections.erase(&conn);  // may destroy `conn`
}

DnsServer::DnsServer(const DnsServerOptions& options, const QueryPipeline& pipeline,
                     Forwarder* forwarder)
    : options_(options), pipeline_(pipeline), forwarder_(forwarder) {}

DnsServer::~DnsServer() {
  Stop();
  for (auto& w : workers_) {
    w->connections.clear();
    if (w->listener) {
      common::ForgetAcceptPause(w->listener);
      evconnlistener_free(w->listener);
    }
    if (w->udp_fd >= 0) close(w->udp_fd);
  }
}

bool DnsServer::AdmitTcp(const std::string& client_ip) {
  std::lock_guard lock(clients_mu_);
  int& mine = tcp_per_client_[client_ip];
  if (tcp_connections_ >= options_.tcp_max_connections || mine >= options_.tcp_max_per_client) {
    if (mine == 0) tcp_per_client_.erase(client_ip);
    return false;
  }
  ++mine;
  ++tcp_connections_;
  return true;
}

void DnsServer::ReleaseTcp(const std::string& client_ip) {
  std::lock_guard lock(clients_mu_);
  --tcp_connections_;
  if (auto it = tcp_per_client_.find(client_ip); it != tcp_per_client_.end() && --it->second <= 0) {
    tcp_per_client_.erase(it);
  }
}

bool DnsServer::MayForward(const sockaddr_storage& client) const {
  for (const auto& net : allow_) {
    if (InNetwork(net, client)) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<DnsServer>> DnsServer::Create(const DnsServerOptions& options,
                                                             const QueryPipeline& pipeline,
                                                             Forwarder* forwarder,
                                                             common::MetricsRegistry& metrics) {
  std::unique_ptr<DnsServer> server(new DnsServer(options, pipeline, forwarder));
  for (const auto& cidr : options.forward_allow) {
    auto net = ParseNetwork(cidr);
    if (!net.ok())
      return absl::InvalidArgumentError(
          common::StrCat("dns.forward_allow: ", net.status().message()));
    server->allow_.push_back(*net);
  }
  auto rrl = ResponseRateLimiter::Create(options.rrl, metrics);
  if (!rrl.ok()) return rrl.status();
  server->rrl_ = std::move(*rrl);
  server->tcp_refused_ =
      &metrics.GetCounter("dnsd_dns_tcp_refused_connections_total",
                          "TCP connections closed at once because a connection cap was reached");
  server->tcp_accept_errors_ = &metrics.GetCounter("dnsd_dns_tcp_accept_errors_total",
                                                   "accept() failures on the DNS TCP port");
  server->tcp_message_timeouts_ =
      &metrics.GetCounter("dnsd_dns_tcp_message_timeouts_total",
                          "TCP connections closed because a message did not arrive in time");
  auto addr = ListenAddress(options.address, options.port);
  if (!addr.ok()) return addr.status();
  if (options.port != 0) {
    // SO_REUSEPORT would let us share the port with another process of the same user; a
    // plain bind first turns "already in use" into a clear start-up error.
    for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
      auto probe = BindSocket(type, *addr, false, type == SOCK_DGRAM ? "udp" : "tcp");
      if (!probe.ok()) return probe.status();
      close(*probe);
    }
  }
  const int workers = options.workers > 0
                          ? options.workers
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 0; i < workers; ++i) {
    auto worker = std::make_unique<Worker>();
    worker->server = server.get();
    auto loop = common::EventLoop::Create();
    if (!loop.ok()) return loop.status();
    worker->loop = std::move(*loop);
    absl::StatusOr<int> udp = absl::UnavailableError("no port");
    absl::StatusOr<int> tcp = absl::UnavailableError("no port");
    // With port 0 the kernel picks a free UDP port, which may still be busy on TCP: try again.
    for (int attempt = 0; attempt < 20 && !tcp.ok(); ++attempt) {
      if (udp.ok()) close(*udp);
      udp = BindSocket(SOCK_DGRAM, *addr, workers > 1, "udp");
      if (!udp.ok()) return udp.status();
      if (i == 0 && options.port == 0) {
        sockaddr_storage bound{};
        socklen_t bound_len = sizeof(bound);
        getsockname(*udp, reinterpret_cast<sockaddr*>(&bound), &bound_len);
        server->port_ =
            common::SocketAddress::FromSockaddr(reinterpret_cast<sockaddr*>(&bound), bound_len)
                .port();
        addr = ListenAddress(options.address, server->port_);
      } else if (i == 0) {
        server->port_ = options.port;
      }
      tcp = BindSocket(SOCK_STREAM, *addr, workers > 1, "tcp");
      if (!tcp.ok() && !(i == 0 && options.port == 0)) return tcp.status();
      if (!tcp.ok()) addr = ListenAddress(options.address, 0);
    }
    if (!tcp.ok()) return tcp.status();
    worker->udp_fd = *udp;
    worker->wildcard = IsWildcard(*addr);
    if (worker->wildcard) {
      const int one = 1;
      if (addr->family() == AF_INET) {
        setsockopt(worker->udp_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
      } else {
        setsockopt(worker->udp_fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
      }
    }
    worker->listener = evconnlistener_new(
        worker->loop->base(),
        [](evconnlistener*, evutil_socket_t fd, sockaddr* a, int l, void* w) {
          static_cast<Worker*>(w)->OnAccept(fd, a, l);
        },
        worker.get(), LEV_OPT_CLOSE_ON_FREE, 0, *tcp);
    // Out of descriptors, accept() fails at once and a level-triggered listener would spin.
    common::PauseOnAcceptErrors(worker->listener, *server->tcp_accept_errors_, "DNS-TCP");
    // The UDP socket is read by a blocking thread (no receive timeout: that would arm a
    // kernel timer on every wait); Stop() wakes it with shutdown().
    fcntl(worker->udp_fd, F_SETFL, fcntl(worker->udp_fd, F_GETFL) & ~O_NONBLOCK);
    server->workers_.push_back(std::move(worker));
  }
  return server;
}

void DnsServer::Start() {
  for (size_t i = 0; i < workers_.size(); ++i) {
    const std::string index = std::to_string(i);
    // The loop serves TCP and forwarding; the UDP thread answers the registry and zones.
    threads_.emplace_back([loop = workers_[i]->loop.get(), index] {
      common::SetThreadName("dns-loop-" + index);
      loop->Run();
    });
    threads_.emplace_back([worker = workers_[i].get(), index] {
      common::SetThreadName("dns-udp-" + index);
      worker->RunUdp();
    });
  }
}

void DnsServer::Stop() {
  stopping_.store(true);
  for (auto& w : workers_) shutdown(w->udp_fd, SHUT_RD);
  for (auto& w : workers_) w->loop->Stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace dnsd::dns
