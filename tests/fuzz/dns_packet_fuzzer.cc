// libFuzzer target for the DNS hot path: every input is decoded as a query and run through the
// whole pipeline (registry zone with a few services, static-zone and forwarding checks), over
// UDP and TCP limits. Besides crashes and sanitizer reports it checks the invariants a client
// relies on: an answer never exceeds the transport limit and always echoes id and QR.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/metrics.h"
#include "dnsd/query_pipeline.h"
#include "dnsd/registry_zone.h"
#include "registry/service_view.h"

namespace {

struct State {
  dnsd::common::MetricsRegistry metrics;
  dnsd::dns::RegistryZone zone{dnsd::dns::RegistryZoneOptions{}, metrics};
  dnsd::dns::QueryPipeline pipeline{zone, metrics};

  State() {
    using dnsd::registry::Instance;
    std::vector<std::shared_ptr<const Instance>> instances;
    for (int i = 0; i < 40; ++i) {
      Instance instance;
      instance.address = {"10.0.0." + std::to_string(i + 1), 8000 + i, i % 2 ? "east" : "DEFAULT"};
      instance.weight = 1 + i;
      instance.healthy = i % 3 != 0;
      instances.push_back(std::make_shared<const Instance>(instance));
    }
    Instance v6;
    v6.address = {"2001:db8::1", 443, "DEFAULT"};
    instances.push_back(std::make_shared<const Instance>(v6));
    for (const char* name : {"orders", "api.payments.example.com", "Odd:Name"}) {
      dnsd::registry::ServiceKey key{"public", "DEFAULT_GROUP", name};
      zone.OnServiceChanged(key, std::make_shared<const dnsd::registry::ServiceView>(
                                     key, dnsd::registry::ServiceMeta{}, instances, 1));
    }
    pipeline.SetForwardingEnabled(true);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State* state = new State();
  static uint8_t out[65535];
  for (bool tcp : {false, true}) {
    dnsd::dns::Query q;
    const auto outcome = state->pipeline.Process(data, size, out, sizeof(out), tcp, true, q);
    if (outcome.verdict != dnsd::dns::Verdict::kRespond) continue;
    if (outcome.size < 12 || outcome.size > 65535) __builtin_trap();
    if (!tcp && outcome.size > 1232) __builtin_trap();
    if ((out[0] != data[0] || out[1] != data[1]) || !(out[2] & 0x80)) __builtin_trap();
  }
  return 0;
}
