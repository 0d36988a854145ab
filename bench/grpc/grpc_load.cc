// Load tool for dnsd's Nacos gRPC API (or any Nacos 2.x server), speaking the wire format
// directly with grpc++: each simulated client is its own channel (its own HTTP/2
// connection), does ServerCheck, opens the bi-directional stream with ConnectionSetupRequest
// and acknowledges every push, as the SDKs do.
//
//   grpc_load register <port> <seconds> <clients>   registrations/s
//   grpc_load push <port> <subscribers> <rounds>    registration -> push latency per subscriber
//   grpc_load idle <port> <connections> <hold-s>     holds idle connections (RSS is read by run.sh)
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "nacos_grpc_service.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
using PushHandler = std::function<void(const std::string& type, const std::string& body)>;

Payload Make(const std::string& type, const std::string& json) {
  Payload p;
  p.mutable_metadata()->set_type(type);
  p.mutable_metadata()->set_clientip("127.0.0.1");
  p.mutable_body()->set_value(json);
  return p;
}

std::string Field(const std::string& json, const std::string& name) {
  const std::string key = "\"" + name + "\":\"";
  const size_t at = json.find(key);
  if (at == std::string::npos) return "";
  const size_t end = json.find('"', at + key.size());
  return json.substr(at + key.size(), end - at - key.size());
}

class Client : public grpc::ClientBidiReactor<Payload, Payload> {
 public:
  Client(int port, PushHandler on_push) : on_push_(std::move(on_push)) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_ = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                         grpc::InsecureChannelCredentials(), args);
    unary_ = Request::NewStub(channel_);
    stream_stub_ = BiRequestStream::NewStub(channel_);
  }

  bool Connect() {
    std::string type, body;
    if (!Call("ServerCheckRequest", R"({"module":"internal","headers":{}})", type, body))
      return false;
    stream_stub_->async()->requestBiStream(&stream_context_, this);
    Send(Make(
        "ConnectionSetupRequest",
        R"({"clientVersion":"dnsd-bench:v1","tenant":"","labels":{"source":"sdk","module":"naming"},"module":"internal","headers":{}})"));
    StartRead(&in_);
    StartCall();
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      if (Call("HealthCheckRequest", R"({"module":"internal","headers":{}})", type, body) &&
          type == "HealthCheckResponse") {
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }

  bool Call(const std::string& type, const std::string& json, std::string& out_type,
            std::string& out_body) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Payload reply;
    if (!unary_->request(&context, Make(type, json), &reply).ok()) return false;
    out_type = reply.metadata().type();
    out_body = reply.body().value();
    return true;
  }

  void Send(Payload p) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(p));
    if (!writing_) WriteNextLocked();
  }

  void Close() {
    stream_context_.TryCancel();
    std::unique_lock lock(mu_);
    done_cv_.wait_for(lock, std::chrono::seconds(5), [&] { return done_; });
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    const std::string type = in_.metadata().type();
    const std::string body = in_.body().value();
    static const std::pair<const char*, const char*> kAcks[] = {
        {"NotifySubscriberRequest", "NotifySubscriberResponse"},
        {"ClientDetectionRequest", "ClientDetectionResponse"},
        {"ConfigChangeNotifyRequest", "ConfigChangeNotifyResponse"},
        {"ConnectResetRequest", "ConnectResetResponse"}};
    for (const auto& [push, ack] : kAcks) {
      if (type == push) {
        Send(Make(ack, R"({"resultCode":200,"errorCode":0,"requestId":")" +
                           Field(body, "requestId") + "\"}"));
      }
    }
    if (on_push_) on_push_(type, body);
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (ok) WriteNextLocked();
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard lock(mu_);
    done_ = true;
    done_cv_.notify_all();
  }

 private:
  void WriteNextLocked() {
    if (queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  PushHandler on_push_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Request::Stub> unary_;
  std::unique_ptr<BiRequestStream::Stub> stream_stub_;
  grpc::ClientContext stream_context_;
  Payload in_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::deque<Payload> queue_;
  Payload current_;
  bool writing_ = false;
  bool done_ = false;
};

std::string InstanceRequest(const std::string& service, const std::string& ip, int port) {
  return R"({"headers":{},"namespace":"public","serviceName":")" + service +
         R"(","groupName":"DEFAULT_GROUP","type":"registerInstance","module":"naming","instance":{"ip":")" +
         ip + R"(","port":)" + std::to_string(port) +
         R"(,"weight":1.0,"healthy":true,"enabled":true,"ephemeral":true,"clusterName":"DEFAULT","metadata":{}}})";
}

int RunRegister(int port, int seconds, int clients) {
  std::vector<std::unique_ptr<Client>> conns;
  for (int i = 0; i < clients; ++i) {
    conns.push_back(std::make_unique<Client>(port, nullptr));
    if (!conns.back()->Connect()) {
      std::fprintf(stderr, "client %d could not connect\n", i);
      return 1;
    }
  }
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, failed{0};
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      std::string type, body;
      for (int n = 0; !stop; ++n) {
        // Each client keeps one instance per service; every request moves it to a new port,
        // so every registration is a real change (add one instance, drop the replaced one).
        const std::string service = "grpc-bench-" + std::to_string(n % 1000);
        const std::string ip = "10.200." + std::to_string(t) + ".1";
        if (conns[static_cast<size_t>(t)]->Call(
                "InstanceRequest", InstanceRequest(service, ip, 1 + (n / 1000) % 60000), type,
                body) &&
            type == "InstanceResponse" && body.find("\"resultCode\":200") != std::string::npos) {
          ++ok;
        } else {
          ++failed;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("gRPC registrations: %.0f/s (%lld ok, %lld failed, %d clients, %.1f s)\n",
              static_cast<double>(ok) / secs, static_cast<long long>(ok.load()),
              static_cast<long long>(failed.load()), clients, secs);
  for (auto& c : conns) c->Close();
  return failed == 0 ? 0 : 1;
}

int RunPush(int port, int subscribers, int rounds) {
  std::mutex mu;
  std::condition_variable cv;
  int expected_port = -1;
  Clock::time_point sent_at;
  std::vector<double> latencies_ms;
  int arrived = 0;
  std::vector<std::unique_ptr<Client>> subs;
  // A registration can reach a subscriber in more than one push (the new instance, then the
  // replaced one leaving); only the first counts.
  std::vector<int> seen_port(static_cast<size_t>(subscribers), -1);
  for (int i = 0; i < subscribers; ++i) {
    subs.push_back(
        std::make_unique<Client>(port, [&, i](const std::string& type, const std::string& body) {
          if (type != "NotifySubscriberRequest") return;
          const auto now = Clock::now();
          std::lock_guard lock(mu);
          if (expected_port < 0 || seen_port[static_cast<size_t>(i)] == expected_port ||
              body.find("\"port\":" + std::to_string(expected_port) + ",") == std::string::npos) {
            return;
          }
          seen_port[static_cast<size_t>(i)] = expected_port;
          latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - sent_at).count());
          if (++arrived == subscribers) cv.notify_all();
        }));
    if (!subs.back()->Connect()) {
      std::fprintf(stderr, "subscriber %d could not connect\n", i);
      return 1;
    }
    std::string type, body;
    subs.back()->Call(
        "SubscribeServiceRequest",
        R"({"headers":{},"namespace":"public","serviceName":"grpc-fanout","groupName":"DEFAULT_GROUP","subscribe":true,"clusters":"","module":"naming"})",
        type, body);
    if (type != "SubscribeServiceResponse") {
      std::fprintf(stderr, "subscribe failed: %s %s\n", type.c_str(), body.c_str());
      return 1;
    }
  }
  Client publisher(port, nullptr);
  if (!publisher.Connect()) return 1;
  int incomplete = 0;
  for (int r = 0; r < rounds; ++r) {
    {
      std::lock_guard lock(mu);
      expected_port = 20000 + r;
      arrived = 0;
      sent_at = Clock::now();
    }
    std::string type, body;
    publisher.Call("InstanceRequest", InstanceRequest("grpc-fanout", "10.201.0.1", 20000 + r), type,
                   body);
    std::unique_lock lock(mu);
    if (!cv.wait_for(lock, std::chrono::seconds(5), [&] { return arrived == subscribers; })) {
      ++incomplete;
      std::fprintf(stderr, "round %d: %d of %d subscribers got the push\n", r, arrived,
                   subscribers);
    }
    expected_port = -1;
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double p) {
    return latencies_ms.empty()
               ? -1.0
               : latencies_ms[std::min(
                     latencies_ms.size() - 1,
                     static_cast<size_t>(p * static_cast<double>(latencies_ms.size())))];
  };
  std::printf(
      "gRPC push to %d subscribers x %d registrations: %zu deliveries, p50 %.1f ms, p99 %.1f ms, "
      "max %.1f ms (%d rounds incomplete)\n",
      subscribers, rounds, latencies_ms.size(), pct(0.5), pct(0.99),
      latencies_ms.empty() ? -1.0 : latencies_ms.back(), incomplete);
  publisher.Close();
  for (auto& c : subs) c->Close();
  return incomplete == 0 ? 0 : 1;
}

int RunIdle(int port, int connections, int hold_s) {
  std::vector<std::unique_ptr<Client>> conns;
  conns.reserve(static_cast<size_t>(connections));
  for (int i = 0; i < connections; ++i) {
    conns.push_back(std::make_unique<Client>(port, nullptr));
    if (!conns.back()->Connect()) {
      std::fprintf(stderr, "connection %d could not connect\n", i);
      return 1;
    }
  }
  std::printf("holding %d idle gRPC connections for %d s\n", connections, hold_s);
  std::fflush(stdout);
  std::this_thread::sleep_for(std::chrono::seconds(hold_s));
  for (auto& c : conns) c->Close();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: %s register <port> <seconds> <clients>\n"
                 "       %s push <port> <subscribers> <rounds>\n"
                 "       %s idle <port> <connections> <hold-seconds>\n",
                 argv[0], argv[0], argv[0]);
    return 2;
  }
  const std::string mode = argv[1];
  const int port = std::atoi(argv[2]);
  const int a = std::atoi(argv[3]);
  const int b = std::atoi(argv[4]);
  if (mode == "register") return RunRegister(port, a, b);
  if (mode == "push") return RunPush(port, a, b);
  if (mode == "idle") return RunIdle(port, a, b);
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
