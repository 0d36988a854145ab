// JSON encodings of the naming model exactly as Nacos clients parse them (protocol reference
// §3.2 and §6.3): Instance, ServiceInfo, service detail. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "api/json_writer.h"
#include "registry/service_view.h"

namespace dnsd::api {

// One host entry. `force_healthy` reports the instance healthy (protect threshold reached).
void WriteInstanceJson(JsonWriter& w, const registry::Instance& instance,
                       const registry::ServiceKey& service, bool force_healthy);
void WriteMetadataJson(JsonWriter& w, const registry::Metadata& metadata);
// A cluster's healthChecker object as Nacos writes it.
void WriteHealthCheckerJson(JsonWriter& w, const registry::HealthCheckSpec& spec);

struct ServiceInfoOptions {
  std::string_view clusters;  // echoed as sent
  bool healthy_only = false;
  bool grouped_name = true;  // HTTP answers use group@@name, gRPC the bare name
  int64_t cache_millis = 10000;
  int64_t now_ms = 0;
};

// ServiceInfo for `view`, or for an unknown service when view is null.
std::string ServiceInfoJson(const registry::ServiceKey& key, const registry::ServiceView* view,
                            const ServiceInfoOptions& options);

}  // namespace dnsd::api
