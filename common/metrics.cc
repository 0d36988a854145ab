#include "common/metrics.h"

#include <algorithm>

#include "common/strings.h"

namespace dnsd::common {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot out;
  out.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative.push_back(running);
  }
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

Histogram& MetricsRegistry::GetHistogram(std::string_view name, std::string_view help,
                                         std::vector<double> bounds, std::string_view labels) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(std::string(name));
  if (inserted) it->second.help = std::string(help);
  it->second.is_counter = false;
  auto& slot = it->second.histograms[std::string(labels)];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return *slot;
}

Counter& MetricsRegistry::GetCounter(std::string_view name, std::string_view help,
                                     std::string_view labels) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = families_.try_emplace(std::string(name));
  if (inserted) it->second.help = std::string(help);
  auto& slot = it->second.counters[std::string(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

void MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                               std::function<double()> read, std::string_view labels) {
  std::lock_guard lock(mu_);
  auto& family = families_[std::string(name)];
  family.help = std::string(help);
  family.is_counter = false;
  family.gauges[std::string(labels)] = std::move(read);
}

void MetricsRegistry::AddCounterFn(std::string_view name, std::string_view help,
                                   std::function<double()> read, std::string_view labels) {
  std::lock_guard lock(mu_);
  auto& family = families_[std::string(name)];
  family.help = std::string(help);
  family.is_counter = true;
  family.gauges[std::string(labels)] = std::move(read);
}

void MetricsRegistry::AddGaugeFamily(std::string_view name, std::string_view help,
                                     std::function<LabelledValues()> read) {
  std::lock_guard lock(mu_);
  Family& family = families_[std::string(name)];
  family.help = std::string(help);
  family.is_counter = false;
  family.labelled = std::move(read);
}

std::string MetricsRegistry::EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard lock(mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    const char* type = family.is_counter            ? "counter"
                       : !family.histograms.empty() ? "histogram"
                                                    : "gauge";
    StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ", type, "\n");
    if (!family.histograms.empty()) {
      for (const auto& [labels, histogram] : family.histograms) {
        const Histogram::Snapshot s = histogram->Read();
        const std::string prefix = labels.empty() ? std::string() : labels + ",";
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          StrAppend(&out, name, "_bucket{", prefix, "le=\"");
          if (i < s.bounds.size()) {
            StrAppend(&out, s.bounds[i]);
          } else {
            out.append("+Inf");
          }
          StrAppend(&out, "\"} ", s.cumulative[i], "\n");
        }
        const std::string braces = labels.empty() ? std::string() : "{" + labels + "}";
        StrAppend(&out, name, "_sum", braces, " ", s.sum, "\n", name, "_count", braces, " ",
                  s.cumulative.back(), "\n");
      }
    } else if (family.is_counter) {
      for (const auto& [labels, counter] : family.counters) {
        if (labels.empty()) {
          StrAppend(&out, name, " ", counter->value(), "\n");
        } else {
          StrAppend(&out, name, "{", labels, "} ", counter->value(), "\n");
        }
      }
      for (const auto& [labels, read] : family.gauges) {  // AddCounterFn
        if (labels.empty()) {
          StrAppend(&out, name, " ", read(), "\n");
        } else {
          StrAppend(&out, name, "{", labels, "} ", read(), "\n");
        }
      }
    } else {
      if (family.labelled) {
        for (const auto& [labels, value] : family.labelled()) {
          StrAppend(&out, name, "{", labels, "} ", value, "\n");
        }
      }
      for (const auto& [labels, read] : family.gauges) {
        if (labels.empty()) {
          StrAppend(&out, name, " ", read(), "\n");
        } else {
          StrAppend(&out, name, "{", labels, "} ", read(), "\n");
        }
      }
    }
  }
  return out;
}

}  // namespace dnsd::common
