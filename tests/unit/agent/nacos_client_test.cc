// The agent's Nacos gRPC client against real dnsd processes (the binary built with the tests):
// subscribe, the answer and the pushes that follow, acknowledgements, failover to another
// server with the subscriptions made again; and the ServiceInfo parser on bad input.
#include "agent/nacos_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "testing/files.h"

namespace dnsd::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// A dnsd process on free ports of 127.0.0.1 with its own data directory.
class Server {
 public:
  Server() : dir_(testing::TempDir("agent-server")) {
    int out[2];
    EXPECT_EQ(pipe(out), 0);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      execl(DNSD_BINARY_PATH, DNSD_BINARY_PATH, "--http-address", "127.0.0.1", "--http-port", "0",
            "--grpc-port", "0", "--dns-port", "0", "--data-dir", dir_.c_str(), "--log-level",
            "warn", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    FILE* f = fdopen(out[0], "r");
    char line[512];
    while (fgets(line, sizeof(line), f) != nullptr) {
      if (sscanf(line, "dnsd ready http=%d dns=%*d grpc=%d", &http_, &grpc_) == 2) break;
    }
    fclose(f);  // dnsd's later stdout writes go nowhere; it logs to stderr
  }
  ~Server() {
    Kill();
    fs::remove_all(dir_);
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string grpc_target() const { return "127.0.0.1:" + std::to_string(grpc_); }
  bool ready() const { return http_ > 0 && grpc_ > 0; }

  // POST through a plain socket; the body of the answer.
  std::string Post(const std::string& path, const std::string& form) const {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(http_));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd);
      return "";
    }
    const std::string request =
        "POST " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" +
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
        std::to_string(form.size()) + "\r\n\r\n" + form;
    (void)!write(fd, request.data(), request.size());
    std::string response;
    char buf[4096];
    for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0;) response.append(buf, n);
    close(fd);
    const size_t body = response.find("\r\n\r\n");
    return body == std::string::npos ? "" : response.substr(body + 4);
  }
  std::string Register(const std::string& service, const std::string& ip) const {
    return Post("/nacos/v1/ns/instance",
                "serviceName=" + service + "&ip=" + ip + "&port=80&ephemeral=false");
  }

 private:
  std::string dir_;
  pid_t pid_ = -1;
  int http_ = 0;
  int grpc_ = 0;
};

// What the client delivered, per service: the last list and how many updates came.
struct Seen {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> ips;
  std::map<std::string, int> updates;
  void Add(const ServiceUpdate& u) {
    std::lock_guard lock(mu);
    auto& list = ips[u.key.name];
    list.clear();
    for (const auto& h : u.hosts) list.push_back(h.ip());
    std::sort(list.begin(), list.end());
    ++updates[u.key.name];
  }
  bool Has(const std::string& service, std::vector<std::string> expected) {
    std::lock_guard lock(mu);
    auto it = ips.find(service);
    return it != ips.end() && it->second == expected;
  }
};

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
    if (done()) return true;
  }
  return done();
}

registry::ServiceKey Key(const std::string& name) { return {"public", "DEFAULT_GROUP", name}; }

NacosClientOptions Options(std::vector<std::string> servers, Seen& seen) {
  NacosClientOptions options;
  options.servers = std::move(servers);
  options.health_check_ms = 500;
  options.backoff_min_ms = 50;
  options.backoff_max_ms = 200;
  options.on_service = [&seen](const ServiceUpdate& u) { seen.Add(u); };
  return options;
}

TEST(NacosClientTest, SubscribesAndFollowsPushes) {
  Server server;
  ASSERT_TRUE(server.ready());
  Seen seen;
  NacosClient client(Options({server.grpc_target()}, seen));
  client.Subscribe(Key("web"));
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.connected(); }));
  EXPECT_EQ(client.server(), server.grpc_target());
  ASSERT_TRUE(WaitFor([&] { return seen.Has("web", {}); })) << "the subscription's answer";

  EXPECT_EQ(server.Register("web", "10.1.0.1"), "ok");
  ASSERT_TRUE(WaitFor([&] { return seen.Has("web", {"10.1.0.1"}); })) << "a push";
  EXPECT_GE(client.stats().pushes.load(), 1u);
  // Registered before the subscription, so its answer carries the instance and no push for
  // that change is owed (one could otherwise arrive after the unsubscription below).
  EXPECT_EQ(server.Register("api", "10.2.0.1"), "ok");
  client.Subscribe(Key("api"));  // while connected
  ASSERT_TRUE(WaitFor([&] { return seen.Has("api", {"10.2.0.1"}); }));
  client.Unsubscribe(Key("api"));
  // Requests leave one at a time in order: once a later subscription is answered, the server
  // has dropped the one to api.
  client.Subscribe(Key("marker"));
  ASSERT_TRUE(WaitFor([&] { return seen.Has("marker", {}); }));
  const int updates_before = [&] {
    std::lock_guard lock(seen.mu);
    return seen.updates["api"];
  }();
  EXPECT_EQ(server.Register("api", "10.2.0.2"), "ok");
  EXPECT_EQ(server.Register("web", "10.1.0.2"), "ok");
  ASSERT_TRUE(WaitFor([&] { return seen.Has("web", {"10.1.0.1", "10.1.0.2"}); }));
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.updates["api"], updates_before) << "no pushes after unsubscribing";
  }
  EXPECT_EQ(client.stats().bad_messages.load(), 0u);
}

// Two servers (two single nodes with different lists); the one in use dies: the client goes
// to the other, subscribes again, and that server's full list replaces the dead one's.
TEST(NacosClientTest, FailsOverToAnotherServerAndSubscribesAgain) {
  auto a = std::make_unique<Server>();
  auto b = std::make_unique<Server>();
  ASSERT_TRUE(a->ready() && b->ready());
  EXPECT_EQ(a->Register("web", "10.1.0.1"), "ok");
  EXPECT_EQ(b->Register("web", "10.1.0.2"), "ok");
  Seen seen;
  NacosClient client(Options({a->grpc_target(), b->grpc_target()}, seen));
  client.Subscribe(Key("web"));
  client.Start();
  ASSERT_TRUE(WaitFor([&] { return client.connected(); }));
  if (client.server() == b->grpc_target()) std::swap(a, b);  // `a` is the one in use
  ASSERT_TRUE(
      WaitFor([&] { return seen.Has("web", {"10.1.0.1"}) || seen.Has("web", {"10.1.0.2"}); }));
  const std::vector<std::string> survivors_list = seen.Has("web", {"10.1.0.1"})
                                                      ? std::vector<std::string>{"10.1.0.2"}
                                                      : std::vector<std::string>{"10.1.0.1"};
  a->Kill();
  ASSERT_TRUE(
      WaitFor([&] { return client.connected() && client.server() == b->grpc_target(); }, 15s));
  ASSERT_TRUE(WaitFor([&] { return seen.Has("web", survivors_list); }));
  EXPECT_GE(client.stats().connects.load(), 2u);
  EXPECT_EQ(b->Register("web", "10.1.0.9"), "ok");
  auto with_new = survivors_list;
  with_new.push_back("10.1.0.9");
  ASSERT_TRUE(WaitFor([&] { return seen.Has("web", with_new); })) << "pushes flow again";
}

TEST(NacosClientTest, ServiceInfoParserRefusesMalformedLists) {
  auto ok = ParseServiceInfo(
      R"({"name":"g@@svc","hosts":[{"ip":"10.0.0.1","port":8080,"weight":2.5,"healthy":false,
          "clusterName":"c1","metadata":{"k":"v"}}],"lastRefTime":42})",
      "ns");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->key, (registry::ServiceKey{"ns", "g", "svc"}));
  ASSERT_EQ(ok->hosts.size(), 1u);
  EXPECT_EQ(ok->hosts[0].port(), 8080);
  EXPECT_EQ(ok->hosts[0].cluster(), "c1");
  EXPECT_DOUBLE_EQ(ok->hosts[0].weight, 2.5);
  EXPECT_FALSE(ok->hosts[0].healthy);
  EXPECT_EQ(ok->hosts[0].metadata.at("k"), "v");
  EXPECT_EQ(ok->last_ref_time_ms, 42);
  for (const char* bad :
       {"", "[]", "{", R"({"hosts":[]})", R"({"name":"s"})", R"({"name":"s","hosts":{}})",
        R"({"name":"s","hosts":[1]})", R"({"name":"s","hosts":[{"port":1}]})",
        R"({"name":"s","hosts":[{"ip":"1.2.3.4","port":70000}]})",
        R"({"name":"s","hosts":[{"ip":"1.2.3.4","port":"80"}]})",
        R"({"name":"s","hosts":[{"ip":"1.2.3.4","port":80,"weight":"x"}]})",
        R"({"name":"s","hosts":[{"ip":"1.2.3.4","port":80,"healthy":"yes"}]})"}) {
    EXPECT_FALSE(ParseServiceInfo(bad, "public").ok()) << bad;
  }
}

}  // namespace
}  // namespace dnsd::agent
