// How API failures are carried and rendered. Handlers produce absl::Status values; a Nacos v2
// error code rides along as a status payload. v1 renders HTTP status + plain text, v2 the
// {"code","message","data"} envelope (protocol reference §2 and §5).
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "api/http_types.h"
#include "common/metrics.h"

namespace dnsd::api {

// Nacos v2 error codes used here.
enum V2Code : int {
  kParameterMissing = 10000,
  kTenantParamError = 20001,
  kParameterValidateError = 20002,
  kResourceNotFound = 20004,
  kResourceConflict = 20005,
  kServiceNameError = 21000,
  kWeightError = 21001,
  kInstanceMetadataError = 21002,
  kInstanceNotFound = 21003,
  kInstanceError = 21004,
  kServiceMetadataError = 21005,
  kSelectorError = 21006,
  kServiceAlreadyExist = 21007,
  kServiceNotExist = 21008,
  kServiceDeleteFailure = 21009,
  kHealthyParamMiss = 21010,
  kHealthCheckStillRunning = 21011,
  kIllegalNamespace = 22000,
  kNamespaceNotExist = 22001,
  kNamespaceAlreadyExist = 22002,
  kServerError = 30000,
};

enum class ApiVersion { kV1, kV2 };

absl::Status MissingParam(std::string_view name);
absl::Status InvalidParam(V2Code code, std::string message);
absl::Status WithCode(absl::Status status, V2Code code);

int HttpStatusOf(const absl::Status& status);
HttpResponse ErrorResponse(ApiVersion version, const absl::Status& status);
// ErrorResponse, counted in dnsd_api_rejected_requests_total{status}.
HttpResponse CountedErrorResponse(common::MetricsRegistry& metrics, ApiVersion version,
                                  const absl::Status& status);
// v1: `v1_body` as is (JSON when it starts with { [ or is true/false); v2: the envelope with
// `data_json` as data.
HttpResponse SuccessJson(ApiVersion version, std::string json);
HttpResponse SuccessOk(ApiVersion version);  // v1 "ok", v2 data "ok"
HttpResponse V2Envelope(int http_status, int code, std::string_view message,
                        std::string_view data_json);

}  // namespace dnsd::api
