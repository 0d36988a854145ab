// Long-poll fan-out benchmark client: parks N long polls on one config at a dnsd (or any
// Nacos) server, publishes one change, and reports how long it takes until every poll has
// been answered. One thread, non-blocking sockets and epoll, so the client itself adds
// little to the figure.
//
//   longpoll_fanout <port> [listeners=10000] [data-id=fanout.txt]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// One blocking request on a fresh connection; returns the response text.
std::string Exchange(int port, const std::string& request) {
  const int fd = Connect(port);
  if (fd < 0) return "";
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
    // Content-Length framed; the answers used here are short.
    const size_t head_end = out.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    const size_t cl = out.find("Content-Length: ");
    if (cl == std::string::npos) continue;  // read to the end (the request closes)
    if (out.size() >= head_end + 4 + std::strtoul(out.c_str() + cl + 16, nullptr, 10)) break;
  }
  close(fd);
  return out;
}

std::string Post(const std::string& path, const std::string& body,
                 const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
         "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string BodyOf(const std::string& response) {
  const size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

double ParkedListeners(int port) {
  const std::string metrics = BodyOf(
      Exchange(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"));
  static constexpr char kName[] = "\ndnsd_config_listeners ";
  const size_t at = metrics.find(kName);
  return at == std::string::npos ? -1 : std::atof(metrics.c_str() + at + sizeof(kName) - 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <port> [listeners] [data-id]\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int listeners = argc > 2 ? std::atoi(argv[2]) : 10000;
  const std::string data_id = argc > 3 ? argv[3] : "fanout.txt";
  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  // Publish a first version and learn its md5, which every poll then claims to hold.
  Exchange(port, Post("/nacos/v1/cs/configs",
                      "dataId=" + data_id + "&group=DEFAULT_GROUP&content=version-1"));
  const std::string head =
      Exchange(port, "GET /nacos/v1/cs/configs?dataId=" + data_id +
                         "&group=DEFAULT_GROUP HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const size_t md5_at = head.find("Content-MD5: ");
  if (md5_at == std::string::npos) {
    std::fprintf(stderr, "could not read the config back: %s\n", head.c_str());
    return 1;
  }
  const std::string md5 = head.substr(md5_at + 13, 32);
  const std::string poll =
      Post("/nacos/v1/cs/configs/listener",
           "Listening-Configs=" + data_id + "%02DEFAULT_GROUP%02" + md5 + "%01",
           "Long-Pulling-Timeout: 60000\r\n");

  const int ep = epoll_create1(0);
  std::vector<int> fds;
  fds.reserve(static_cast<size_t>(listeners));
  for (int i = 0; i < listeners; ++i) {
    const int fd = Connect(port);
    if (fd < 0) {
      std::fprintf(stderr, "connect %d failed: %s\n", i, std::strerror(errno));
      return 1;
    }
    if (write(fd, poll.data(), poll.size()) != static_cast<ssize_t>(poll.size())) return 1;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  // Wait until the server holds every poll.
  const auto park_deadline = Clock::now() + std::chrono::seconds(30);
  double parked = 0;
  while ((parked = ParkedListeners(port)) < listeners && Clock::now() < park_deadline) {
    usleep(20'000);
  }
  if (parked < listeners) {
    std::fprintf(stderr, "only %.0f of %d polls parked\n", parked, listeners);
    return 1;
  }
  const auto published_at = Clock::now();
  const std::string ack = Exchange(
      port,
      Post("/nacos/v1/cs/configs", "dataId=" + data_id + "&group=DEFAULT_GROUP&content=version-2"));
  const auto acked_at = Clock::now();
  if (BodyOf(ack) != "true") {
    std::fprintf(stderr, "publish failed: %s\n", ack.c_str());
    return 1;
  }

  std::vector<double> answered_ms;
  answered_ms.reserve(fds.size());
  int wrong = 0;
  std::vector<epoll_event> events(1024);
  char buf[4096];
  const auto answer_deadline = published_at + std::chrono::seconds(20);
  while (answered_ms.size() < fds.size() && Clock::now() < answer_deadline) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), 100);
    const auto now = Clock::now();
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<size_t>(i)].data.fd;
      const ssize_t got = read(fd, buf, sizeof(buf));
      epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
      if (got <= 0 ||
          std::string(buf, static_cast<size_t>(got)).find(data_id) == std::string::npos) {
        ++wrong;
      }
      answered_ms.push_back(std::chrono::duration<double, std::milli>(now - published_at).count());
      close(fd);
    }
  }
  std::sort(answered_ms.begin(), answered_ms.end());
  auto pct = [&](double p) {
    if (answered_ms.empty()) return -1.0;
    return answered_ms[std::min(answered_ms.size() - 1,
                                static_cast<size_t>(p * static_cast<double>(answered_ms.size())))];
  };
  std::printf(
      "long-poll fan-out: %zu of %d parked polls answered (%d without the changed key); "
      "publish acked after %.1f ms; answered p50 %.1f ms, p99 %.1f ms, last %.1f ms after "
      "the publish was sent\n",
      answered_ms.size(), listeners, wrong,
      std::chrono::duration<double, std::milli>(acked_at - published_at).count(), pct(0.5),
      pct(0.99), answered_ms.empty() ? -1.0 : answered_ms.back());
  return answered_ms.size() == fds.size() && wrong == 0 ? 0 : 1;
}
