// MetricsRegistry's exposition: counters, histograms, gauges, and gauge families whose label sets
// are only known at render time, with label values escaped.
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

TEST(MetricsTest, HistogramsRenderCumulativeBucketsSumAndCount) {
  MetricsRegistry metrics;
  Histogram& h =
      metrics.GetHistogram("latency_seconds", "push latency", {0.01, 0.1, 1}, "module=\"naming\"");
  h.Observe(0.005);
  h.Observe(0.01);  // on a bound: counted in that bucket (le is "less or equal")
  h.Observe(0.5);
  h.Observe(7);  // above every bound: +Inf only
  EXPECT_EQ(&h, &metrics.GetHistogram("latency_seconds", "push latency", {0.01, 0.1, 1},
                                      "module=\"naming\""));
  metrics.GetHistogram("latency_seconds", "push latency", {0.01, 0.1, 1}, "module=\"config\"");
  const std::string text = metrics.RenderPrometheus();
  EXPECT_NE(text.find("# TYPE latency_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("latency_seconds_bucket{module=\"naming\",le=\"0.01\"} 2\n"
                      "latency_seconds_bucket{module=\"naming\",le=\"0.1\"} 2\n"
                      "latency_seconds_bucket{module=\"naming\",le=\"1\"} 3\n"
                      "latency_seconds_bucket{module=\"naming\",le=\"+Inf\"} 4\n"
                      "latency_seconds_sum{module=\"naming\"} 7.515\n"
                      "latency_seconds_count{module=\"naming\"} 4\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("latency_seconds_count{module=\"config\"} 0\n"), std::string::npos) << text;
  const Histogram::Snapshot snapshot = h.Read();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{2, 2, 3, 4}));
}

TEST(MetricsTest, LabelValuesAreEscaped) {
  EXPECT_EQ(MetricsRegistry::EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(MetricsRegistry::EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace dnsd::common
