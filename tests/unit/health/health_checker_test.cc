// HealthChecker against real loopback listeners: a TCP port that is open or closed, and a
// small HTTP server whose status (or silence) the test sets. Flips are applied straight to a
// registry, as the log would apply them.
#include "health/health_checker.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "common/clock.h"
#include "common/metrics.h"

namespace dnsd::health {
namespace {

using registry::ClusterMeta;
using registry::Command;
using registry::CommandType;
using registry::HealthCause;
using registry::HealthCheckType;
using registry::ServiceKey;

// A listening socket on 127.0.0.1 that serves HTTP answers with `status` (0: accepts and never
// answers) from its own thread, or only accepts (plain TCP).
class Listener {
 public:
  explicit Listener(int port = 0) { Open(port); }
  ~Listener() { Close(); }

  void Open(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0) << errno;
    ::listen(fd_, 128);
    socklen_t length = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length);
    port_ = ntohs(addr.sin_port);
    stop_ = false;
    thread_ = std::thread([this] { Serve(); });
  }
  void Close() {
    if (fd_ < 0) return;
    stop_ = true;
    thread_.join();
    ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }
  std::atomic<int> status{200};
  std::atomic<int> requests{0};

 private:
  void Serve() {
    std::vector<int> silent;
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      char buffer[2048];
      pollfd r{c, POLLIN, 0};
      if (::poll(&r, 1, 200) > 0 && ::recv(c, buffer, sizeof(buffer), 0) > 0) {
        ++requests;
        const int code = status.load();
        if (code == 0) {
          silent.push_back(c);  // never answered; closed at the end
          continue;
        }
        const std::string answer = "HTTP/1.1 " + std::to_string(code) +
                                   " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        ::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      }
      ::close(c);
    }
    for (int c : silent) ::close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class HealthCheckerTest : public ::testing::Test {
 protected:
  HealthCheckerTest() : registry_(registry::RegistryOptions{}) {
    registry_.AddListener([this](const ServiceKey& key, const auto& view) {
      if (checker_) checker_->OnServiceChanged(key, view);
    });
  }
  ~HealthCheckerTest() override {
    if (checker_) checker_->Stop();
  }

  void StartChecker(HealthCheckOptions options = {}, HealthCheckHooks hooks = {}) {
    if (options.interval_ms == HealthCheckOptions{}.interval_ms) options.interval_ms = 30;
    options.timeout_ms = std::min<int64_t>(options.timeout_ms, 300);
    options.check_times = 2;
    options.responsibility_check_ms = 50;
    options.enabled_check_ms = 50;
    hooks.report = [this](const Command& command, std::function<void(absl::Status)> done) {
      ++reports_;
      auto result = registry_.Apply(command);
      done(result.status());
    };
    auto created = HealthChecker::Create(options, registry_, clock_, metrics_, std::move(hooks));
    ASSERT_TRUE(created.ok()) << created.status();
    checker_ = std::move(*created);
    checker_->Start();
  }

  void Persistent(const std::string& cluster, int port, std::string ip = "127.0.0.1") {
    Command c;
    c.type = CommandType::kRegisterInstance;
    c.service = key_;
    c.instance.address = {std::move(ip), port, cluster};
    c.instance.ephemeral = false;
    ASSERT_TRUE(registry_.Apply(c).ok());
  }
  void DefineCluster(const std::string& name, ClusterMeta cluster) {
    Command c;
    c.type = CommandType::kUpdateCluster;
    c.service = key_;
    c.meta.clusters = {{name, std::move(cluster)}};
    ASSERT_TRUE(registry_.Apply(c).ok());
  }
  const registry::Instance* Find(int port) {
    view_ = registry_.Find(key_);
    if (!view_) return nullptr;
    for (const auto& instance : view_->instances()) {
      if (instance->port() == port) return instance.get();
    }
    return nullptr;
  }
  // Waits (bounded) until the instance at `port` has health `healthy`.
  bool WaitHealth(int port, bool healthy, int64_t limit_ms = 5000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limit_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      const registry::Instance* instance = Find(port);
      if (instance != nullptr && instance->healthy == healthy) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // The value of one series in /metrics, -1 when absent.
  double Metric(const std::string& series) {
    const std::string text = metrics_.RenderPrometheus();
    const size_t at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
  }

  common::SystemClock clock_;
  common::MetricsRegistry metrics_;
  registry::Registry registry_;
  std::unique_ptr<HealthChecker> checker_;
  std::shared_ptr<const registry::ServiceView> view_;
  std::atomic<int> reports_{0};
  const ServiceKey key_{"public", "DEFAULT_GROUP", "db"};
};

TEST_F(HealthCheckerTest, TcpCheckFollowsTheListener) {
  Listener listener;
  const int port = listener.port();
  Persistent("DEFAULT", port);
  StartChecker();
  // Up: stays healthy, checked.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(Find(port)->healthy);
  EXPECT_GT(Metric(R"(dnsd_health_checks_total{type="tcp",result="passed"})"), 0);
  listener.Close();
  ASSERT_TRUE(WaitHealth(port, false));
  EXPECT_EQ(Find(port)->health_cause, HealthCause::kCheckRefused);
  listener.Open(port);
  ASSERT_TRUE(WaitHealth(port, true));
  EXPECT_EQ(Find(port)->health_cause, HealthCause::kCheckPassed);
  EXPECT_EQ(reports_.load(), 2);
  EXPECT_EQ(Metric(R"(dnsd_health_check_flips_total{to="unhealthy"})"), 1);
  EXPECT_EQ(Metric(R"(dnsd_health_check_flips_total{to="healthy"})"), 1);
}

TEST_F(HealthCheckerTest, HttpCheckComparesTheStatus) {
  Listener server;
  const int port = server.port();
  Persistent("WEB", port);
  ClusterMeta web;
  web.checker.type = HealthCheckType::kHttp;
  web.checker.path = "/ready";
  web.checker.expected_code = 200;
  DefineCluster("WEB", web);
  StartChecker();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(Find(port)->healthy);
  EXPECT_GT(server.requests.load(), 0);
  server.status = 503;
  ASSERT_TRUE(WaitHealth(port, false));
  EXPECT_EQ(Find(port)->health_cause, HealthCause::kCheckBadStatus);
  server.status = 200;
  ASSERT_TRUE(WaitHealth(port, true));
  server.status = 0;  // accepts, never answers
  ASSERT_TRUE(WaitHealth(port, false));
  EXPECT_EQ(Find(port)->health_cause, HealthCause::kCheckTimeout);
}

TEST_F(HealthCheckerTest, CheckPortReplacesTheInstancePort) {
  Listener check;
  Persistent("C", 1);  // nothing listens on port 1
  ClusterMeta cluster;
  cluster.use_instance_port = false;
  cluster.check_port = check.port();
  DefineCluster("C", cluster);
  StartChecker();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Find(1)->healthy);
  check.Close();
  EXPECT_TRUE(WaitHealth(1, false));
}

TEST_F(HealthCheckerTest, NoneHostNamesAndSwitchedOffAreNotChecked) {
  Persistent("MANUAL", 1);
  ClusterMeta none;
  none.checker.type = HealthCheckType::kNone;
  DefineCluster("MANUAL", none);
  Persistent("DEFAULT", 2, "db.example.internal");
  std::atomic<bool> enabled{false};
  HealthCheckHooks hooks;
  hooks.enabled = [&] { return enabled.load(); };
  Persistent("DEFAULT", 3);  // closed port: would fail once enabled
  StartChecker({}, std::move(hooks));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Find(3)->healthy);  // switched off
  EXPECT_TRUE(checker_->Targets().empty()) << "switched off, nothing is kept";
  EXPECT_EQ(Metric("dnsd_health_check_targets"), 0);
  enabled = true;
  EXPECT_TRUE(WaitHealth(3, false));
  const auto targets = checker_->Targets();
  ASSERT_EQ(targets.size(), 1u);  // only the TCP instance at an IP
  EXPECT_EQ(targets[0].address.port, 3);
  EXPECT_EQ(Metric("dnsd_health_check_unchecked_instances"), 1);
  EXPECT_TRUE(Find(1)->healthy);
  EXPECT_TRUE(Find(2)->healthy);
  // Off again: every target dropped; a change meanwhile is seen when it is switched on.
  enabled = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!checker_->Targets().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(checker_->Targets().empty());
  EXPECT_EQ(Metric("dnsd_health_check_unchecked_instances"), 0);
  Persistent("DEFAULT", 4);  // closed port, registered while off
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(Find(4)->healthy);
  enabled = true;
  EXPECT_TRUE(WaitHealth(4, false));
}

TEST_F(HealthCheckerTest, OnlyTheResponsibleNodeChecks) {
  Persistent("DEFAULT", 3);  // closed port
  std::atomic<bool> mine{false};
  HealthCheckHooks hooks;
  hooks.responsible = [&](const ServiceKey&) { return mine.load(); };
  StartChecker({}, std::move(hooks));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(Find(3)->healthy);
  EXPECT_TRUE(checker_->Targets().empty());
  mine = true;  // another member went down: this one takes the service
  EXPECT_TRUE(WaitHealth(3, false));
  mine = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!checker_->Targets().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(checker_->Targets().empty());
}

TEST_F(HealthCheckerTest, BoundedConcurrencyStillChecksEveryInstance) {
  std::vector<std::unique_ptr<Listener>> listeners;
  for (int i = 0; i < 20; ++i) {
    listeners.push_back(std::make_unique<Listener>());
    Persistent("DEFAULT", listeners.back()->port());
  }
  HealthCheckOptions options;
  options.max_in_flight = 1;
  StartChecker(options);
  std::vector<int> ports;
  for (auto& l : listeners) ports.push_back(l->port());
  for (auto& l : listeners) l->Close();
  for (int port : ports) EXPECT_TRUE(WaitHealth(port, false, 10'000)) << port;
  EXPECT_GT(Metric("dnsd_health_check_delayed_total"), 0);
}

TEST_F(HealthCheckerTest, ARegistrationResetsTheCount) {
  Persistent("DEFAULT", 3);  // closed port
  StartChecker();
  ASSERT_TRUE(WaitHealth(3, false));
  // The client registers again (healthy): the checker needs check_times failures again.
  Persistent("DEFAULT", 3);
  ASSERT_TRUE(Find(3)->healthy);
  EXPECT_TRUE(WaitHealth(3, false));
  EXPECT_EQ(reports_.load(), 2);
}

}  // namespace
}  // namespace dnsd::health
