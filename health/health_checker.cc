#include "health/health_checker.h"

#include <algorithm>
#include <future>

#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::health {
namespace {

std::string Describe(const ProbeSpec& spec) {
  if (spec.type == registry::HealthCheckType::kTcp) {
    return common::StrCat("tcp ", spec.address.ToString());
  }
  // "GET /path HTTP/1.1" -> the path.
  const std::string_view request = spec.request;
  const size_t start = request.find(' ') + 1;
  const size_t end = request.find(' ', start);
  return common::StrCat("http ", spec.address.ToString(), request.substr(start, end - start));
}

}  // namespace

HealthChecker::HealthChecker(HealthCheckOptions options, const registry::Registry& registry,
                             const common::Clock& clock, common::MetricsRegistry& metrics,
                             HealthCheckHooks hooks)
    : options_(options),
      registry_(registry),
      clock_(clock),
      hooks_(std::move(hooks)),
      random_(std::random_device{}()),
      tcp_passed_(metrics.GetCounter("dnsd_health_checks_total",
                                     "Health checks of persistent instances, by type and result",
                                     R"(type="tcp",result="passed")")),
      tcp_failed_(
          metrics.GetCounter("dnsd_health_checks_total", "", R"(type="tcp",result="failed")")),
      http_passed_(
          metrics.GetCounter("dnsd_health_checks_total", "", R"(type="http",result="passed")")),
      http_failed_(
          metrics.GetCounter("dnsd_health_checks_total", "", R"(type="http",result="failed")")),
      to_healthy_(metrics.GetCounter("dnsd_health_check_flips_total",
                                     "Instances the health checks turned healthy or unhealthy",
                                     R"(to="healthy")")),
      to_unhealthy_(metrics.GetCounter("dnsd_health_check_flips_total", "", R"(to="unhealthy")")),
      report_failures_(metrics.GetCounter(
          "dnsd_health_check_report_failures_total",
          "Health flips that could not be written (no leader, storage); retried by later checks")),
      delayed_(metrics.GetCounter(
          "dnsd_health_check_delayed_total",
          "Checks that waited for a free slot (max_in_flight checks were running)")) {
  metrics.AddGauge("dnsd_health_check_targets", "Persistent instances this node checks",
                   [this] { return static_cast<double>(target_gauge_.load()); });
  metrics.AddGauge("dnsd_health_check_in_flight", "Health checks running now",
                   [this] { return static_cast<double>(in_flight_gauge_.load()); });
  metrics.AddGauge("dnsd_health_check_waiting", "Health checks due and waiting for a slot",
                   [this] { return static_cast<double>(waiting_gauge_.load()); });
  metrics.AddGauge("dnsd_health_check_unchecked_instances",
                   "Persistent instances not checked: their address is a host name",
                   [this] { return static_cast<double>(unchecked_gauge_.load()); });
}

absl::StatusOr<std::unique_ptr<HealthChecker>> HealthChecker::Create(
    HealthCheckOptions options, const registry::Registry& registry, const common::Clock& clock,
    common::MetricsRegistry& metrics, HealthCheckHooks hooks) {
  if (options.interval_ms <= 0 || options.timeout_ms <= 0 || options.check_times <= 0 ||
      options.max_in_flight == 0) {
    return absl::InvalidArgumentError(
        "health check interval, timeout, times and "
        "max_in_flight must be positive");
  }
  if (!hooks.report) return absl::InvalidArgumentError("health checks need a way to report");
  std::unique_ptr<HealthChecker> checker(
      new HealthChecker(options, registry, clock, metrics, std::move(hooks)));
  auto loop = common::EventLoop::Create();
  if (!loop.ok()) return loop.status();
  checker->loop_ = std::move(*loop);
  return checker;
}

HealthChecker::~HealthChecker() {
  Stop();
  // Free what lives on the loop before the loop itself.
  probes_.clear();
  services_.clear();
  loop_.reset();
}

void HealthChecker::Start() {
  loop_->Post([this] { FollowSwitch(); });
  loop_->RunEvery(options_.enabled_check_ms, [this] { FollowSwitch(); });
  loop_->RunEvery(options_.responsibility_check_ms, [this] { CheckResponsibility(); });
  thread_ = std::thread([this] {
    common::SetThreadName("health-check");
    loop_->Run();
  });
}

void HealthChecker::Stop() {
  if (!thread_.joinable()) return;
  loop_->Stop();
  thread_.join();
}

void HealthChecker::OnServiceChanged(const registry::ServiceKey& key,
                                     const std::shared_ptr<const registry::ServiceView>& view) {
  // Ephemeral services never hold persistent instances (a service's kind is for life); a
  // removed one (view == nullptr) may have been persistent.
  if (view && view->meta().ephemeral) return;
  std::lock_guard lock(mu_);
  changed_.insert(key);
  if (drain_posted_) return;
  drain_posted_ = true;
  loop_->Post([this] { Drain(); });
}

void HealthChecker::Drain() {
  std::set<registry::ServiceKey> changed;
  {
    std::lock_guard lock(mu_);
    changed.swap(changed_);
    drain_posted_ = false;
  }
  for (const auto& key : changed) Reconcile(key);
}

bool HealthChecker::Enabled() const { return !hooks_.enabled || hooks_.enabled(); }

void HealthChecker::FollowSwitch() {
  const bool enabled = Enabled();
  if (enabled == active_) return;
  active_ = enabled;
  if (enabled) {
    for (const auto& view : registry_.ListAll()) {
      if (!view->meta().ephemeral) Reconcile(view->key());
    }
    return;
  }
  // Results of probes in flight find no target and are dropped; waiting targets likewise.
  by_id_.clear();
  services_.clear();
  target_gauge_.store(0);
  unchecked_gauge_.store(0);
}

int HealthChecker::CheckTimes() const {
  const int times = hooks_.check_times ? hooks_.check_times() : options_.check_times;
  return std::max(1, times);
}

int64_t HealthChecker::Jittered(int64_t period_ms) {
  std::uniform_int_distribution<int64_t> jitter(-period_ms / 10, period_ms / 10);
  return std::max<int64_t>(1, period_ms + jitter(random_));
}

void HealthChecker::Reconcile(const registry::ServiceKey& key) {
  if (!active_) return;  // switched off: nothing is kept; switching on looks at everything
  const auto view = registry_.Find(key);
  if (!view || view->meta().ephemeral) {
    auto it = services_.find(key);
    if (it == services_.end()) return;
    for (auto& [address, target] : it->second.targets) by_id_.erase(target->id);
    target_gauge_.fetch_sub(static_cast<int64_t>(it->second.targets.size()));
    services_.erase(it);
    return;
  }
  auto [entry, inserted] = services_.try_emplace(key);
  ServiceTargets& service = entry->second;
  if (inserted || !hooks_.responsible) {
    service.responsible = !hooks_.responsible || hooks_.responsible(key);
  }
  // What should be checked now.
  std::map<registry::InstanceAddress, std::pair<ProbeSpec, bool>> desired;
  int64_t unchecked = 0;
  if (service.responsible) {
    for (const auto& instance : view->instances()) {
      if (instance->ephemeral) continue;
      const registry::ClusterMeta& cluster = view->meta().Cluster(instance->cluster());
      if (cluster.checker.type == registry::HealthCheckType::kNone) continue;
      const int port = cluster.use_instance_port ? instance->port() : cluster.check_port;
      auto address = common::SocketAddress::FromIp(instance->ip(), port);
      if (!address.ok() || port <= 0) {
        ++unchecked;
        continue;
      }
      ProbeSpec spec;
      spec.address = *address;
      spec.type = cluster.checker.type;
      spec.expected_code = cluster.checker.expected_code;
      if (spec.type == registry::HealthCheckType::kHttp) {
        spec.request = HttpCheckRequest(cluster.checker.path, cluster.checker.headers, *address);
      }
      desired.emplace(instance->address, std::make_pair(std::move(spec), instance->healthy));
    }
  }
  unchecked_gauge_.fetch_add(unchecked - service.unchecked);
  service.unchecked = unchecked;
  // Drop targets no longer wanted; an in-flight probe's result is then ignored.
  for (auto it = service.targets.begin(); it != service.targets.end();) {
    if (desired.contains(it->first)) {
      ++it;
      continue;
    }
    by_id_.erase(it->second->id);
    it = service.targets.erase(it);
    target_gauge_.fetch_sub(1);
  }
  for (auto& [address, wanted] : desired) {
    auto& slot = service.targets[address];
    if (!slot) {
      slot = std::make_unique<Target>();
      slot->checker = this;
      slot->id = next_id_++;
      slot->service = &entry->first;
      slot->address = address;
      slot->timer.reset(evtimer_new(loop_->base(), &HealthChecker::OnTimer, slot.get()));
      by_id_[slot->id] = slot.get();
      target_gauge_.fetch_add(1);
      std::uniform_int_distribution<int64_t> first(0, options_.interval_ms);
      Schedule(*slot, first(random_));
    }
    Target& target = *slot;
    if (!(target.spec == wanted.first)) {
      target.spec = std::move(wanted.first);
      target.passes = target.failures = 0;
    }
    if (target.healthy != wanted.second) {
      // Written (by a check, the health API or a re-registration): count afresh.
      target.healthy = wanted.second;
      target.passes = target.failures = 0;
    }
  }
}

void HealthChecker::CheckResponsibility() {
  if (!hooks_.responsible) return;
  std::vector<registry::ServiceKey> moved;
  for (auto& [key, service] : services_) {
    const bool responsible = hooks_.responsible(key);
    if (responsible == service.responsible) continue;
    service.responsible = responsible;
    moved.push_back(key);
  }
  for (const auto& key : moved) {
    spdlog::info("health checks of {} in {}: {} node", key.GroupedName(), key.namespace_id,
                 services_[key].responsible ? "now made by this" : "handed to another");
    Reconcile(key);
  }
}

void HealthChecker::Schedule(Target& target, int64_t delay_ms) {
  const timeval tv{static_cast<time_t>(delay_ms / 1000),
                   static_cast<suseconds_t>((delay_ms % 1000) * 1000)};
  evtimer_add(target.timer.get(), &tv);
}

void HealthChecker::OnTimer(evutil_socket_t, short, void* arg) {
  auto* target = static_cast<Target*>(arg);
  target->checker->Due(*target);
}

void HealthChecker::Due(Target& target) {
  if (!Enabled()) {
    target.passes = target.failures = 0;
    Schedule(target, Jittered(options_.interval_ms));
    return;
  }
  if (probes_.size() >= options_.max_in_flight) {
    waiting_.push_back(target.id);
    waiting_gauge_.store(static_cast<int64_t>(waiting_.size()));
    delayed_.Inc();
    return;
  }
  Launch(target);
}

void HealthChecker::Launch(Target& target) {
  const uint64_t probe_id = next_id_++;
  const uint64_t target_id = target.id;
  auto probe = Probe::Start(loop_->base(), target.spec, options_.timeout_ms,
                            [this, target_id, probe_id](const ProbeResult& result) {
                              OnResult(target_id, probe_id, result);
                            });
  probes_.emplace(probe_id, std::move(probe));
  in_flight_gauge_.store(static_cast<int64_t>(probes_.size()));
}

void HealthChecker::OnResult(uint64_t target_id, uint64_t probe_id, const ProbeResult& result) {
  // Called from the probe's last step, which touches nothing of the probe afterwards.
  probes_.erase(probe_id);
  in_flight_gauge_.store(static_cast<int64_t>(probes_.size()));
  StartWaiting();
  auto it = by_id_.find(target_id);
  if (it == by_id_.end()) return;  // no longer checked
  Target& target = *it->second;
  const bool http = target.spec.type == registry::HealthCheckType::kHttp;
  (result.ok ? (http ? http_passed_ : tcp_passed_) : (http ? http_failed_ : tcp_failed_)).Inc();
  target.last_result = result.ok ? "passed" : result.detail;
  Schedule(target, Jittered(options_.interval_ms));
  if (!Enabled()) return;
  const int times = CheckTimes();
  if (result.ok) {
    target.failures = 0;
    if (!target.healthy && ++target.passes >= times) {
      Report(target, true, registry::HealthCause::kCheckPassed, "passed");
    }
  } else {
    target.passes = 0;
    if (target.healthy && ++target.failures >= times) {
      Report(target, false, result.cause, result.detail);
    }
  }
}

void HealthChecker::Report(Target& target, bool healthy, registry::HealthCause cause,
                           const std::string& why) {
  if (target.reporting) return;
  target.reporting = true;
  registry::Command command;
  command.type = registry::CommandType::kSetHealth;
  command.timestamp_ms = clock_.NowMs();
  command.service = *target.service;
  command.instance.address = target.address;
  command.healthy = healthy;
  command.health_cause = cause;
  spdlog::info("health check: {}:{} ({}) of {} in {} turns {} after {} checks: {}",
               target.address.ip, target.address.port, target.address.cluster,
               target.service->GroupedName(), target.service->namespace_id,
               healthy ? "healthy" : "unhealthy", CheckTimes(), why);
  const uint64_t target_id = target.id;
  hooks_.report(command, [this, target_id, healthy](absl::Status status) {
    loop_->Post([this, target_id, healthy, status] {
      if (status.ok()) {
        (healthy ? to_healthy_ : to_unhealthy_).Inc();
      } else if (!absl::IsNotFound(status)) {  // deregistered meanwhile: nothing to write
        report_failures_.Inc();
        spdlog::warn("health check: could not write a health change: {}", status.ToString());
      }
      auto it = by_id_.find(target_id);
      if (it == by_id_.end()) return;
      it->second->reporting = false;
      // Counts start again once the write is seen (Reconcile) or, if it failed, from here.
      if (!status.ok()) it->second->passes = it->second->failures = 0;
    });
  });
}

void HealthChecker::StartWaiting() {
  while (!waiting_.empty() && probes_.size() < options_.max_in_flight) {
    const uint64_t id = waiting_.front();
    waiting_.pop_front();
    auto it = by_id_.find(id);
    if (it == by_id_.end()) continue;
    Launch(*it->second);
  }
  waiting_gauge_.store(static_cast<int64_t>(waiting_.size()));
}

std::vector<HealthChecker::TargetStatus> HealthChecker::Targets() {
  std::promise<std::vector<TargetStatus>> promise;
  auto future = promise.get_future();
  loop_->Post([this, &promise] {
    std::vector<TargetStatus> out;
    for (const auto& [key, service] : services_) {
      for (const auto& [address, target] : service.targets) {
        out.push_back(TargetStatus{key, address, Describe(target->spec), target->healthy,
                                   target->passes, target->failures, target->last_result});
      }
    }
    promise.set_value(std::move(out));
  });
  return future.get();
}

}  // namespace dnsd::health
