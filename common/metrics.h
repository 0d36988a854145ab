// Prometheus metrics: counters and callback gauges, rendered as text exposition format.
// Registration takes a lock and returns a stable reference; incrementing a counter is one
// relaxed atomic add, safe from any thread. Names follow dnsd_<module>_<what>_<unit>.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace dnsd::common {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class MetricsRegistry {
 public:
  // Returns the counter for (name, labels), creating it on first use. `labels` is the
  // inside of the braces, e.g. `reason="bad_ip"`, or empty.
  Counter& GetCounter(std::string_view name, std::string_view help, std::string_view labels = {});
  // A gauge whose value is read when /metrics is rendered. The callback must be thread-safe.
  void AddGauge(std::string_view name, std::string_view help, std::function<double()> read,
                std::string_view labels = {});

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    bool is_counter = true;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // by label string
    std::map<std::string, std::function<double()>> gauges;     // by label string
  };
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace dnsd::common
