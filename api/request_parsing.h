// Typed reads of request parameters and of the small JSON documents Nacos clients send
// (metadata, beat, instance lists). Every failure is a 400-class Status naming the parameter.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "api/http_types.h"
#include "registry/naming_model.h"

namespace dnsd::api {

absl::StatusOr<std::string> RequiredParam(const Params& params, std::string_view name);
// Reads the first present name among `names` (aliases such as clusterName / cluster).
std::optional<std::string> ParamAny(const Params& params,
                                    std::initializer_list<std::string_view> names);
absl::StatusOr<bool> BoolParam(const Params& params, std::string_view name, bool fallback);
absl::StatusOr<std::optional<bool>> OptionalBool(const Params& params,
                                                 std::initializer_list<std::string_view> names);
// The first item of page `page_no` (from 1) of `page_size` items (both positive), saturating
// rather than overflowing for absurd pages (which are then empty).
inline size_t PageOffset(int64_t page_no, int64_t page_size) {
  const auto before = static_cast<uint64_t>(page_no - 1);
  const auto size = static_cast<uint64_t>(page_size);
  return before > SIZE_MAX / size ? SIZE_MAX : static_cast<size_t>(before * size);
}
absl::StatusOr<int64_t> IntParam(const Params& params, std::string_view name, int64_t fallback);
absl::StatusOr<std::optional<double>> OptionalDouble(const Params& params, std::string_view name);

// Metadata as a JSON object of scalars, or "k1=v1,k2=v2". Empty text is an empty map.
absl::StatusOr<registry::Metadata> ParseMetadata(std::string_view text);
// Selector JSON: {"type":"none"} or {"type":"label","expression":"..."}.
absl::Status ValidateSelector(std::string_view text);
// Nacos's healthChecker JSON: {"type":"TCP"}, {"type":"NONE"}, {"type":"HTTP","path":"/x",
// "headers":"name|value","expectedResponseCode":200}. MYSQL is refused (not supported), as are
// unknown types, paths that are not origin-form and headers that could split the request.
absl::StatusOr<registry::HealthCheckSpec> ParseHealthChecker(std::string_view json);

struct BeatInfo {
  std::optional<std::string> ip;
  std::optional<int> port;
  std::optional<std::string> cluster;
  std::optional<double> weight;
  std::optional<std::string> service_name;
  registry::Metadata metadata;
};
absl::StatusOr<BeatInfo> ParseBeat(std::string_view json);
// [{"ip":..,"port":..,"clusterName":..}, ...]
absl::StatusOr<std::vector<registry::InstanceAddress>> ParseInstanceList(std::string_view json);

}  // namespace dnsd::api
