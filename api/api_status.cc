#include "api/api_status.h"

#include <charconv>

#include "absl/strings/cord.h"
#include "api/json_writer.h"
#include "common/strings.h"

namespace dnsd::api {
namespace {

constexpr char kCodePayload[] = "dnsd.nacos/v2code";

int CodeOf(const absl::Status& status) {
  if (auto payload = status.GetPayload(kCodePayload)) {
    const std::string text(*payload);
    int code = 0;
    std::from_chars(text.data(), text.data() + text.size(), code);
    return code;
  }
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
      return kParameterValidateError;
    case absl::StatusCode::kNotFound:
      return kResourceNotFound;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return kResourceConflict;
    default:
      return kServerError;
  }
}

std::string_view MessageOf(int code) {
  switch (code) {
    case kParameterMissing:
      return "parameter missing";
    case kTenantParamError:
      return "tenant parameter error";
    case kParameterValidateError:
      return "parameter validate error";
    case kResourceNotFound:
      return "resource not found";
    case kResourceConflict:
      return "resource conflict";
    case kServiceNameError:
      return "service name error";
    case kWeightError:
      return "weight error";
    case kInstanceMetadataError:
      return "instance metadata error";
    case kInstanceNotFound:
      return "instance not found";
    case kInstanceError:
      return "instance error";
    case kServiceMetadataError:
      return "service metadata error";
    case kSelectorError:
      return "selector error";
    case kServiceAlreadyExist:
      return "service already exist";
    case kServiceNotExist:
      return "service not exist";
    case kServiceDeleteFailure:
      return "service delete failure";
    case kIllegalNamespace:
      return "illegal namespace";
    case kNamespaceNotExist:
      return "namespace not exist";
    case kNamespaceAlreadyExist:
      return "namespace already exist";
    default:
      return "server error";
  }
}

}  // namespace

absl::Status WithCode(absl::Status status, V2Code code) {
  status.SetPayload(kCodePayload, absl::Cord(common::StrCat(static_cast<int>(code))));
  return status;
}

absl::Status MissingParam(std::string_view name) {
  return WithCode(absl::InvalidArgumentError(common::StrCat("Parameter '", name, "' is missing")),
                  kParameterMissing);
}

absl::Status InvalidParam(V2Code code, std::string message) {
  return WithCode(absl::InvalidArgumentError(std::move(message)), code);
}

int HttpStatusOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kPermissionDenied:
    case absl::StatusCode::kUnauthenticated:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAborted:  // a compare-and-set lost the race
      return 409;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

HttpResponse V2Envelope(int http_status, int code, std::string_view message,
                        std::string_view data_json) {
  JsonWriter w;
  w.BeginObject()
      .Key("code")
      .Int(code)
      .Key("message")
      .String(message)
      .Key("data")
      .Raw(data_json)
      .EndObject();
  return HttpResponse::Json(http_status, w.Take());
}

HttpResponse ErrorResponse(ApiVersion version, const absl::Status& status) {
  const int http_status = HttpStatusOf(status);
  if (version == ApiVersion::kV1) {
    return HttpResponse::Text(http_status, std::string(status.message()));
  }
  const int code = CodeOf(status);
  std::string detail;
  JsonWriter::AppendQuoted(detail, common::ToStd(status.message()));
  return V2Envelope(http_status, code, MessageOf(code), detail);
}

HttpResponse CountedErrorResponse(common::MetricsRegistry& metrics, ApiVersion version,
                                  const absl::Status& status) {
  metrics
      .GetCounter("dnsd_api_rejected_requests_total", "API requests refused, by HTTP status",
                  common::StrCat("status=\"", HttpStatusOf(status), "\""))
      .Inc();
  return ErrorResponse(version, status);
}

HttpResponse SuccessJson(ApiVersion version, std::string json) {
  if (version == ApiVersion::kV1) return HttpResponse::Json(200, std::move(json));
  return V2Envelope(200, 0, "success", json);
}

HttpResponse SuccessOk(ApiVersion version) {
  if (version == ApiVersion::kV1) return HttpResponse::Text(200, "ok");
  return V2Envelope(200, 0, "success", "\"ok\"");
}

}  // namespace dnsd::api
