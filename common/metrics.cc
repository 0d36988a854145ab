#include "common/metrics.h"

#include "common/strings.h"

namespace dnsd::common {

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
    StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ",
              family.is_counter ? "counter" : "gauge", "\n");
    if (family.is_counter) {
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
