// Prometheus metrics: counters, histograms and callback gauges, rendered as text exposition
// format.
// Registration takes a lock and returns a stable reference; incrementing a counter is one
// relaxed atomic add, safe from any thread. Names follow dnsd_<module>_<what>_<unit>.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dnsd::common {

// A counter for hot paths: each thread increments its own cache line with a plain
// load + store (no locked instruction, no sharing); reading sums the lines. Threads beyond
// kLines share one line with atomic adds.
class Counter {
 public:
  void Inc(uint64_t n = 1) {
    const size_t line = ThreadLine();
    if (line < kLines) {
      auto& v = lines_[line].value;
      v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    } else {
      overflow_.fetch_add(n, std::memory_order_relaxed);
    }
  }
  uint64_t value() const {
    uint64_t sum = overflow_.load(std::memory_order_relaxed);
    for (const auto& line : lines_) sum += line.value.load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr size_t kLines = 32;
  static size_t ThreadLine() {
    static std::atomic<size_t> next{0};
    thread_local const size_t line = next.fetch_add(1);
    return line;
  }
  struct alignas(64) Line {
    std::atomic<uint64_t> value{0};
  };
  std::array<Line, kLines> lines_;
  std::atomic<uint64_t> overflow_{0};
};

// A histogram over fixed upper bounds (Prometheus `le` buckets, +Inf implied). Observe is a
// few relaxed atomic operations, safe from any thread; meant for events counted in thousands
// per second at most (pushes, elections), not per DNS packet.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // per bound, then +Inf (= count)
    double sum = 0;
  };
  Snapshot Read() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // not cumulative; bounds_.size() + 1
  std::atomic<double> sum_{0};
};

class MetricsRegistry {
 public:
  // Returns the counter for (name, labels), creating it on first use. `labels` is the
  // inside of the braces, e.g. `reason="bad_ip"`, or empty.
  Counter& GetCounter(std::string_view name, std::string_view help, std::string_view labels = {});
  // The histogram for (name, labels), created with `bounds` (ascending) on first use.
  Histogram& GetHistogram(std::string_view name, std::string_view help, std::vector<double> bounds,
                          std::string_view labels = {});
  // A gauge whose value is read when /metrics is rendered. The callback must be thread-safe.
  void AddGauge(std::string_view name, std::string_view help, std::function<double()> read,
                std::string_view labels = {});
  // A counter kept elsewhere (a module's own atomic), read when /metrics is rendered; `read`
  // must only ever grow and be thread-safe.
  void AddCounterFn(std::string_view name, std::string_view help, std::function<double()> read,
                    std::string_view labels = {});

  // A gauge whose label sets are only known when /metrics is rendered (one per followed
  // service, say): `read` returns (labels, value) pairs, labels as for GetCounter, already
  // escaped (EscapeLabelValue). The callback must be thread-safe.
  using LabelledValues = std::vector<std::pair<std::string, double>>;
  void AddGaugeFamily(std::string_view name, std::string_view help,
                      std::function<LabelledValues()> read);
  // A label value with `\`, `"` and newlines escaped as the exposition format wants.
  static std::string EscapeLabelValue(std::string_view value);

  std::string RenderPrometheus() const;

 private:
  struct Family {
    std::string help;
    bool is_counter = true;
    std::map<std::string, std::unique_ptr<Counter>> counters;      // by label string
    std::map<std::string, std::unique_ptr<Histogram>> histograms;  // by label string
    // Values read at render time, by label string: gauges, or counters kept elsewhere.
    std::map<std::string, std::function<double()>> gauges;
    std::function<LabelledValues()> labelled;  // AddGaugeFamily
  };
  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace dnsd::common
