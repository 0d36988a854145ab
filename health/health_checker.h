// HealthChecker checks the persistent instances of the services this node is responsible
// for, as Nacos's server does: per cluster, by its healthChecker (TCP connect, HTTP GET with an
// expected status, or NONE), on the instance's port or the cluster's checkPort. An instance
// turns unhealthy after `check_times` failed checks in a row and healthy again after as many
// passed ones; the flip is written as a durable command (kSetHealth, with the cause) through
// the node's Proposer, so every replica applies the same health in log order and DNS answers,
// HTTP lists and pushes follow at once.
//
// Scheduling: every target is checked every `interval_ms` (each period drawn within ±10% so that
// targets spread out; the first check at a random point in the first period), on the checker's
// own thread and event loop, at most `max_in_flight` checks at once (the others wait their turn
// in order). Nothing here blocks the registry writer: the registry listener only notes the
// service; the checker reads the published view on its loop.
//
// In a cluster each service is checked by one node: `responsible(key)` says whether it is this
// one (Distro's owner of the service name among the members that are up); it is asked again
// every `responsibility_check_ms`, so a member that goes down hands its services over within
// that time. A new checker starts its counts afresh: health stays as written until it has
// `check_times` results of its own.
//
// Instances whose "ip" is a host name are not checked (left as registered) and are counted.
//
// Switched off (the healthCheckEnabled switch, read every `enabled_check_ms`), the checker
// holds nothing: no target, no timer (a timer and its state per persistent instance was ~770
// bytes each, 77 MB at 100,000 instances, for checks that were not made). Switched on again,
// it looks at every persistent service as at start.
//
// Thread-safety: OnServiceChanged is thread-safe; Start/Stop from the owning thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "health/probe.h"
#include "registry/command.h"
#include "registry/registry.h"

namespace dnsd::health {

struct HealthCheckOptions {
  int64_t interval_ms = 5000;
  int64_t timeout_ms = 2000;  // a check's whole time (connect, and for HTTP the status line)
  int check_times = 3;        // consecutive results before health flips (Nacos's checkTimes)
  size_t max_in_flight = 256;
  int64_t responsibility_check_ms = 5000;
  int64_t enabled_check_ms = 1000;
};

struct HealthCheckHooks {
  // Writes a kSetHealth command (the node's Proposer); `done` runs on any thread.
  std::function<void(const registry::Command&, std::function<void(absl::Status)> done)> report;
  // Whether this node checks `key`; unset: every service (a single node).
  std::function<bool(const registry::ServiceKey&)> responsible;
  // Read before every check: the operator switches healthCheckEnabled and checkTimes; unset:
  // enabled, options.check_times.
  std::function<bool()> enabled;
  std::function<int()> check_times;
};

class HealthChecker {
 public:
  static absl::StatusOr<std::unique_ptr<HealthChecker>> Create(HealthCheckOptions options,
                                                               const registry::Registry& registry,
                                                               const common::Clock& clock,
                                                               common::MetricsRegistry& metrics,
                                                               HealthCheckHooks hooks);
  ~HealthChecker();
  // Looks at every persistent service once, then follows changes.
  void Start();
  void Stop();

  // The registry changed `key` (a registry listener; cheap, any thread).
  void OnServiceChanged(const registry::ServiceKey& key,
                        const std::shared_ptr<const registry::ServiceView>& view);

  // What is checked now, for status pages and tests (any thread; a copy made on the loop).
  struct TargetStatus {
    registry::ServiceKey service;
    registry::InstanceAddress address;
    std::string checked;  // "tcp 127.0.0.1:80" / "http 127.0.0.1:80/health"
    bool healthy = true;  // as the registry has it
    int passes = 0;       // consecutive, while unhealthy
    int failures = 0;     // consecutive, while healthy
    std::string last_result;
  };
  std::vector<TargetStatus> Targets();

 private:
  struct Target {
    HealthChecker* checker = nullptr;
    uint64_t id = 0;
    const registry::ServiceKey* service = nullptr;  // the key of its entry in services_
    registry::InstanceAddress address;
    ProbeSpec spec;
    bool healthy = true;
    int passes = 0;
    int failures = 0;
    bool reporting = false;  // a flip is being written
    std::string last_result;
    common::EventPtr timer;
  };
  struct ServiceTargets {
    bool responsible = false;
    int64_t unchecked = 0;  // host-name instances
    std::map<registry::InstanceAddress, std::unique_ptr<Target>> targets;
  };

  HealthChecker(HealthCheckOptions options, const registry::Registry& registry,
                const common::Clock& clock, common::MetricsRegistry& metrics,
                HealthCheckHooks hooks);
  void Drain();  // loop: reconciles the services noted changed
  void Reconcile(const registry::ServiceKey& key);
  void CheckResponsibility();
  void Schedule(Target& target, int64_t delay_ms);
  static void OnTimer(evutil_socket_t, short, void* arg);
  void Due(Target& target);
  void Launch(Target& target);
  void OnResult(uint64_t target_id, uint64_t probe_id, const ProbeResult& result);
  void Report(Target& target, bool healthy, registry::HealthCause cause, const std::string& why);
  void StartWaiting();
  bool Enabled() const;
  int CheckTimes() const;
  int64_t Jittered(int64_t period_ms);

  const HealthCheckOptions options_;
  const registry::Registry& registry_;
  const common::Clock& clock_;
  HealthCheckHooks hooks_;
  std::unique_ptr<common::EventLoop> loop_;
  std::thread thread_;

  std::mutex mu_;  // guards changed_ and drain_posted_
  std::set<registry::ServiceKey> changed_;
  bool drain_posted_ = false;

  // Loop thread only.
  // Loop thread: whether targets are kept (the switch as last seen on).
  bool active_ = false;
  void FollowSwitch();  // loop: starts or drops every target when the switch flipped
  std::map<registry::ServiceKey, ServiceTargets> services_;  // persistent services known
  absl::flat_hash_map<uint64_t, Target*> by_id_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<Probe>> probes_;  // in flight, by probe id
  std::deque<uint64_t> waiting_;                                  // target ids
  uint64_t next_id_ = 1;
  std::mt19937_64 random_;

  std::atomic<int64_t> target_gauge_{0};
  std::atomic<int64_t> in_flight_gauge_{0};
  std::atomic<int64_t> waiting_gauge_{0};
  std::atomic<int64_t> unchecked_gauge_{0};
  common::Counter& tcp_passed_;
  common::Counter& tcp_failed_;
  common::Counter& http_passed_;
  common::Counter& http_failed_;
  common::Counter& to_healthy_;
  common::Counter& to_unhealthy_;
  common::Counter& report_failures_;
  common::Counter& delayed_;
};

}  // namespace dnsd::health
