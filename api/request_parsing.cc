#include "api/request_parsing.h"

#include <json/json.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <memory>

#include "api/api_status.h"
#include "common/strings.h"

namespace dnsd::api {
namespace {

absl::StatusOr<Json::Value> ParseJson(std::string_view text, std::string_view what) {
  Json::CharReaderBuilder builder;
  builder["collectComments"] = false;
  builder["failIfExtra"] = true;
  builder["rejectDupKeys"] = false;
  builder["stackLimit"] = 64;
  std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  Json::Value root;
  std::string errors;
  if (!reader->parse(text.data(), text.data() + text.size(), &root, &errors)) {
    return absl::InvalidArgumentError(common::StrCat(what, " is not valid JSON: ", errors));
  }
  return root;
}

// Scalars become strings the way Jackson would map them into Map<String,String>.
std::optional<std::string> ScalarText(const Json::Value& v) {
  if (v.isString()) return v.asString();
  if (v.isBool()) return v.asBool() ? "true" : "false";
  if (v.isIntegral())
    return v.isUInt64() ? std::to_string(v.asUInt64()) : std::to_string(v.asInt64());
  if (v.isDouble()) return common::StrCat(v.asDouble());
  return std::nullopt;
}

}  // namespace

absl::StatusOr<std::string> RequiredParam(const Params& params, std::string_view name) {
  const std::string* v = params.Find(name);
  if (v == nullptr || common::Trim(*v).empty()) return MissingParam(name);
  return *v;
}

std::optional<std::string> ParamAny(const Params& params,
                                    std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    if (const std::string* v = params.Find(name)) return *v;
  }
  return std::nullopt;
}

absl::StatusOr<std::optional<bool>> OptionalBool(const Params& params,
                                                 std::initializer_list<std::string_view> names) {
  for (auto name : names) {
    const std::string* v = params.Find(name);
    if (v == nullptr) continue;
    const std::string lower = common::ToLower(common::Trim(*v));
    if (lower.empty()) return std::optional<bool>();
    if (lower == "true") return std::optional<bool>(true);
    if (lower == "false") return std::optional<bool>(false);
    return InvalidParam(
        kParameterValidateError,
        common::StrCat("Parameter '", name, "' must be true or false, got '", *v, "'"));
  }
  return std::optional<bool>();
}

absl::StatusOr<bool> BoolParam(const Params& params, std::string_view name, bool fallback) {
  auto v = OptionalBool(params, {name});
  if (!v.ok()) return v.status();
  return v->value_or(fallback);
}

absl::StatusOr<int64_t> IntParam(const Params& params, std::string_view name, int64_t fallback) {
  const std::string* v = params.Find(name);
  if (v == nullptr) return fallback;
  const std::string_view text = common::Trim(*v);
  if (text.empty()) return fallback;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return InvalidParam(
        kParameterValidateError,
        common::StrCat("Parameter '", name, "' must be an integer, got '", *v, "'"));
  }
  return out;
}

absl::StatusOr<std::optional<double>> OptionalDouble(const Params& params, std::string_view name) {
  const std::string* v = params.Find(name);
  if (v == nullptr) return std::optional<double>();
  const std::string_view text = common::Trim(*v);
  if (text.empty()) return std::optional<double>();
  double out = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(out)) {
    return InvalidParam(kParameterValidateError,
                        common::StrCat("Parameter '", name, "' must be a number, got '", *v, "'"));
  }
  return std::optional<double>(out);
}

namespace {

absl::StatusOr<registry::Metadata> ParseMetadataText(std::string_view text) {
  registry::Metadata out;
  const std::string_view trimmed = common::Trim(text);
  if (trimmed.empty()) return out;
  if (trimmed.front() != '{') {
    // Legacy form k1=v1,k2=v2.
    for (std::string_view pair : common::Split(trimmed, ',')) {
      const size_t eq = pair.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return InvalidParam(kInstanceMetadataError,
                            common::StrCat("metadata entry '", pair, "' is not key=value"));
      }
      out[std::string(common::Trim(pair.substr(0, eq)))] =
          std::string(common::Trim(pair.substr(eq + 1)));
    }
    return out;
  }
  auto root = ParseJson(trimmed, "metadata");
  if (!root.ok()) return WithCode(root.status(), kInstanceMetadataError);
  if (!root->isObject())
    return InvalidParam(kInstanceMetadataError, "metadata must be a JSON object");
  for (const auto& name : root->getMemberNames()) {
    auto text_value = ScalarText((*root)[name]);
    if (!text_value) {
      return InvalidParam(kInstanceMetadataError,
                          common::StrCat("metadata value of '", name, "' must be a string"));
    }
    out[name] = *text_value;
  }
  return out;
}

}  // namespace

absl::StatusOr<registry::Metadata> ParseMetadata(std::string_view text) {
  auto metadata = ParseMetadataText(text);
  if (!metadata.ok()) return metadata;
  if (auto s = registry::ValidateClientMetadata(*metadata); !s.ok()) {
    return WithCode(s, kInstanceMetadataError);
  }
  return metadata;
}

absl::Status ValidateSelector(std::string_view text) {
  auto root = ParseJson(text, "selector");
  if (!root.ok()) return WithCode(root.status(), kSelectorError);
  if (!root->isObject() || !(*root)["type"].isString()) {
    return InvalidParam(kSelectorError, "selector must be a JSON object with a string 'type'");
  }
  const std::string type = (*root)["type"].asString();
  if (type != "none" && type != "label") {
    return InvalidParam(kSelectorError, common::StrCat("selector type '", type,
                                                       "' is not supported (none, label)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<BeatInfo> ParseBeat(std::string_view json) {
  auto root = ParseJson(json, "beat");
  if (!root.ok()) return root.status();
  if (!root->isObject()) return absl::InvalidArgumentError("beat must be a JSON object");
  BeatInfo beat;
  const Json::Value& r = *root;
  if (r["ip"].isString()) beat.ip = r["ip"].asString();
  if (r["port"].isIntegral()) {
    const auto port = r["port"].asInt64();
    if (port < 0 || port > 65535) return absl::InvalidArgumentError("beat port is out of range");
    beat.port = static_cast<int>(port);
  }
  if (r["cluster"].isString() && !r["cluster"].asString().empty())
    beat.cluster = r["cluster"].asString();
  if (r["weight"].isNumeric()) beat.weight = r["weight"].asDouble();
  if (r["serviceName"].isString()) beat.service_name = r["serviceName"].asString();
  if (r["metadata"].isObject()) {
    for (const auto& name : r["metadata"].getMemberNames()) {
      if (auto v = ScalarText(r["metadata"][name])) beat.metadata[name] = *v;
    }
  }
  return beat;
}

absl::StatusOr<std::vector<registry::InstanceAddress>> ParseInstanceList(std::string_view json) {
  std::vector<registry::InstanceAddress> out;
  if (common::Trim(json).empty()) return out;
  auto root = ParseJson(json, "instances");
  if (!root.ok()) return root.status();
  if (!root->isArray()) return absl::InvalidArgumentError("instances must be a JSON array");
  for (const auto& item : *root) {
    if (!item.isObject() || !item["ip"].isString() || !item["port"].isIntegral()) {
      return absl::InvalidArgumentError("each of instances needs a string ip and an integer port");
    }
    registry::InstanceAddress address;
    address.ip = item["ip"].asString();
    address.port = static_cast<int>(item["port"].asInt64());
    if (item["clusterName"].isString() && !item["clusterName"].asString().empty()) {
      address.cluster = item["clusterName"].asString();
    }
    out.push_back(std::move(address));
  }
  return out;
}

absl::StatusOr<registry::HealthCheckSpec> ParseHealthChecker(std::string_view json) {
  auto parsed = ParseJson(json, "healthChecker");
  if (!parsed.ok()) {
    return InvalidParam(kParameterValidateError, std::string(parsed.status().message()));
  }
  const Json::Value& root = *parsed;
  if (!root.isObject() || !root["type"].isString()) {
    return InvalidParam(kParameterValidateError, "healthChecker must be an object with a type");
  }
  registry::HealthCheckSpec spec;
  std::string type = root["type"].asString();
  for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (type == "TCP") {
    spec.type = registry::HealthCheckType::kTcp;
  } else if (type == "NONE") {
    spec.type = registry::HealthCheckType::kNone;
  } else if (type == "HTTP") {
    spec.type = registry::HealthCheckType::kHttp;
  } else if (type == "MYSQL") {
    return InvalidParam(kParameterValidateError,
                        "healthChecker type MYSQL is not supported by dnsd (use TCP or HTTP)");
  } else {
    return InvalidParam(kParameterValidateError,
                        common::StrCat("healthChecker type '", root["type"].asString(),
                                       "' is unknown (TCP, HTTP or NONE)"));
  }
  if (spec.type != registry::HealthCheckType::kHttp) return spec;
  auto text = [&](const char* field) -> absl::StatusOr<std::string> {
    const Json::Value& v = root[field];
    if (v.isNull()) return std::string();
    if (!v.isString()) {
      return InvalidParam(kParameterValidateError,
                          common::StrCat("healthChecker.", field, " must be a string"));
    }
    return v.asString();
  };
  auto path = text("path");
  if (!path.ok()) return path.status();
  auto headers = text("headers");
  if (!headers.ok()) return headers.status();
  spec.path = *path;
  spec.headers = *headers;
  auto has_control = [](std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
  };
  if (!spec.path.empty() && (spec.path.front() != '/' || has_control(spec.path) ||
                             spec.path.find(' ') != std::string::npos || spec.path.size() > 1024)) {
    return InvalidParam(kParameterValidateError,
                        "healthChecker.path must start with '/' and hold no spaces or control "
                        "characters (at most 1024 bytes)");
  }
  if (has_control(spec.headers) || spec.headers.size() > 4096) {
    return InvalidParam(kParameterValidateError,
                        "healthChecker.headers must hold no control characters (at most 4096 "
                        "bytes)");
  }
  const std::vector<std::string_view> parts =
      common::Split(spec.headers, '|', /*skip_empty=*/false);
  if (!spec.headers.empty()) {
    if (parts.size() % 2 != 0) {
      return InvalidParam(kParameterValidateError,
                          "healthChecker.headers must be name|value pairs separated by '|'");
    }
    for (size_t i = 0; i < parts.size(); i += 2) {
      const std::string_view name = common::Trim(parts[i]);
      if (name.empty() || name.find(':') != std::string_view::npos ||
          name.find(' ') != std::string_view::npos) {
        return InvalidParam(
            kParameterValidateError,
            common::StrCat("healthChecker.headers: bad header name '", parts[i], "'"));
      }
    }
  }
  const Json::Value& code = root["expectedResponseCode"];
  if (!code.isNull()) {
    if (!code.isIntegral() || code.asInt64() < 100 || code.asInt64() > 599) {
      return InvalidParam(kParameterValidateError,
                          "healthChecker.expectedResponseCode must be an HTTP status (100-599)");
    }
    spec.expected_code = code.asInt();
  }
  return spec;
}

}  // namespace dnsd::api
