// MetricsRegistry's exposition: counters, gauges, and gauge families whose label sets are only
// known at render time, with label values escaped.
#include "common/metrics.h"

#include <gtest/gtest.h>

namespace dnsd::common {
namespace {

TEST(MetricsTest, GaugeFamiliesRenderTheirCurrentLabelSets) {
  MetricsRegistry metrics;
  int services = 1;
  metrics.AddGaugeFamily("age_seconds", "per service", [&] {
    MetricsRegistry::LabelledValues values;
    for (int i = 0; i < services; ++i) {
      values.emplace_back("service=\"s" + std::to_string(i) + "\"", i * 1.5);
    }
    return values;
  });
  metrics.GetCounter("hits_total", "hits").Inc(3);
  std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE age_seconds gauge\nage_seconds{service=\"s0\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("hits_total 3\n"), std::string::npos);
  services = 3;  // the set follows what the callback reports, nothing is registered
  text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("age_seconds{service=\"s2\"} 3\n"), std::string::npos) << text;
  services = 0;
  EXPECT_EQ(metrics.RenderPrometheus().find("age_seconds{"), std::string::npos);
}

TEST(MetricsTest, CountersKeptElsewhereRenderAsCounters) {
  MetricsRegistry metrics;
  uint64_t pushes = 7;
  metrics.AddCounterFn("pushes_total", "pushes applied",
                       [&] { return static_cast<double>(pushes); });
  metrics.AddCounterFn(
      "bytes_total", "by peer", [] { return 5.0; }, "peer=\"a\"");
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE pushes_total counter\npushes_total 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE bytes_total counter\nbytes_total{peer=\"a\"} 5\n"), std::string::npos)
      << text;
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(MetricsRegistry::EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(MetricsRegistry::EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace dnsd::common
