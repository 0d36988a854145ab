#include "registry/naming_model.h"

#include <arpa/inet.h>

#include <charconv>

#include "common/status_macros.h"
#include "common/strings.h"

namespace dnsd::registry {

void AppendDefaultInstanceId(std::string& out, const InstanceAddress& address,
                             const ServiceKey& service) {
  common::StrAppend(&out, address.ip, "#", address.port, "#", address.cluster.str(), "#",
                    service.group, kGroupSeparator, service.name);
}

std::string DefaultInstanceId(const InstanceAddress& address, const ServiceKey& service) {
  std::string out;
  AppendDefaultInstanceId(out, address, service);
  return out;
}

std::string_view HealthCauseName(HealthCause cause) {
  switch (cause) {
    case HealthCause::kRegistered:
      return "registered";
    case HealthCause::kManual:
      return "set through the health API";
    case HealthCause::kCheckPassed:
      return "health check passed";
    case HealthCause::kCheckRefused:
      return "health check failed: connection refused";
    case HealthCause::kCheckTimeout:
      return "health check failed: timed out";
    case HealthCause::kCheckBadStatus:
      return "health check failed: unexpected HTTP status";
    case HealthCause::kCheckError:
      return "health check failed";
    case HealthCause::kBeatMissed:
      return "heartbeats stopped";
    case HealthCause::kBeat:
      return "heartbeat received";
  }
  return "unknown";
}

std::string_view HealthCheckTypeName(HealthCheckType type) {
  switch (type) {
    case HealthCheckType::kTcp:
      return "TCP";
    case HealthCheckType::kHttp:
      return "HTTP";
    case HealthCheckType::kNone:
      return "NONE";
  }
  return "TCP";
}

const ClusterMeta& ServiceMeta::Cluster(const std::string& name) const {
  static const ClusterMeta kDefaults;
  auto it = clusters.find(name);
  return it == clusters.end() ? kDefaults : it->second;
}

bool IsIpLiteral(std::string_view ip) {
  if (ip.empty() || ip.size() >= INET6_ADDRSTRLEN) return false;
  char buf[INET6_ADDRSTRLEN];
  ip.copy(buf, ip.size());
  buf[ip.size()] = '\0';
  unsigned char out[16];
  return inet_pton(AF_INET, buf, out) == 1 || inet_pton(AF_INET6, buf, out) == 1;
}

bool IsHostName(std::string_view host) {
  // RFC 1123 host name; the last label must not be all digits, so "300.1.1.1" is rejected
  // rather than being taken for a name.
  if (host.empty() || host.size() > 253) return false;
  size_t start = 0;
  bool last_all_digits = false;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
      return false;
    }
    last_all_digits = true;
    for (char c : label) {
      if (!common::IsAlnum(c) && c != '-') return false;
      if (!common::IsDigit(c)) last_all_digits = false;
    }
    start = dot + 1;
    if (dot == host.size()) break;
  }
  return !last_all_digits;
}

absl::Status ValidateClusterName(std::string_view cluster) {
  if (cluster.empty()) return absl::InvalidArgumentError("clusterName is empty");
  for (char c : cluster) {
    if (!common::IsAlnum(c) && c != '-') {
      return absl::InvalidArgumentError(common::StrCat(
          "clusterName '", cluster, "' is invalid: only letters, digits and '-' are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateServiceKey(const ServiceKey& key) {
  if (key.name.empty()) return absl::InvalidArgumentError("serviceName is empty");
  if (key.group.empty()) return absl::InvalidArgumentError("groupName is empty");
  if (key.namespace_id.empty()) return absl::InvalidArgumentError("namespaceId is empty");
  if (key.name.find(kGroupSeparator) != std::string::npos ||
      key.group.find(kGroupSeparator) != std::string::npos) {
    return absl::InvalidArgumentError("serviceName or groupName contains '@@'");
  }
  if (key.name.size() > 512 || key.group.size() > 128 || key.namespace_id.size() > 128) {
    return absl::InvalidArgumentError("serviceName, groupName or namespaceId is too long");
  }
  return absl::OkStatus();
}

namespace {

// `what` must be well-formed UTF-8 without control characters (line breaks and tabs too,
// unless `allow_breaks`).
absl::Status CheckClientText(std::string_view field, std::string_view text, bool allow_breaks) {
  if (!common::IsValidUtf8(text)) {
    return absl::InvalidArgumentError(common::StrCat(field, " is not valid UTF-8"));
  }
  for (unsigned char c : text) {
    const bool is_break = c == '\t' || c == '\n' || c == '\r';
    if ((c < 0x20 || c == 0x7f) && !(allow_breaks && is_break)) {
      return absl::InvalidArgumentError(
          common::StrCat(field, " contains a control character (byte ", static_cast<int>(c), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateClientServiceKey(const ServiceKey& key) {
  DNSD_RETURN_IF_ERROR(ValidateServiceKey(key));
  DNSD_RETURN_IF_ERROR(CheckClientText("serviceName", key.name, false));
  DNSD_RETURN_IF_ERROR(CheckClientText("groupName", key.group, false));
  DNSD_RETURN_IF_ERROR(CheckClientText("namespaceId", key.namespace_id, false));
  if (key.name.front() == '@' || key.group.front() == '@') {
    return absl::InvalidArgumentError("serviceName and groupName must not start with '@'");
  }
  return absl::OkStatus();
}

absl::Status ValidateClientClusterName(std::string_view cluster) {
  if (cluster.size() > kMaxClusterNameLength) {
    return absl::InvalidArgumentError(
        common::StrCat("clusterName is longer than ", kMaxClusterNameLength, " characters"));
  }
  return ValidateClusterName(cluster);
}

absl::Status ValidateClientMetadata(const Metadata& metadata) {
  if (metadata.size() > kMaxMetadataEntries) {
    return absl::InvalidArgumentError(
        common::StrCat("metadata has more than ", kMaxMetadataEntries, " entries"));
  }
  size_t bytes = 0;
  for (const auto& [key, value] : metadata) {
    bytes += key.size() + value.size();
    if (key.empty()) return absl::InvalidArgumentError("metadata has an empty key");
    DNSD_RETURN_IF_ERROR(CheckClientText("a metadata key", key, false));
    DNSD_RETURN_IF_ERROR(CheckClientText("a metadata value", value, true));
  }
  if (bytes > kMaxMetadataBytes) {
    return absl::InvalidArgumentError(common::StrCat("metadata is ", bytes, " bytes; at most ",
                                                     kMaxMetadataBytes, " are accepted"));
  }
  return absl::OkStatus();
}

absl::Status ValidateClientInstance(const Instance& instance) {
  DNSD_RETURN_IF_ERROR(ValidateClientClusterName(instance.cluster()));
  DNSD_RETURN_IF_ERROR(ValidateClientMetadata(instance.metadata));
  return ValidateInstance(instance);
}

absl::Status ValidateInstance(const Instance& instance) {
  if (!IsIpLiteral(instance.ip()) && !IsHostName(instance.ip())) {
    return absl::InvalidArgumentError(
        common::StrCat("ip '", instance.ip(), "' is not an IP address or host name"));
  }
  if (instance.port() < 1 || instance.port() > 65535) {
    return absl::InvalidArgumentError(
        common::StrCat("port ", instance.port(), " is out of range [1, 65535]"));
  }
  if (!(instance.weight >= 0.0 && instance.weight <= 10000.0)) {
    return absl::InvalidArgumentError(
        common::StrCat("weight ", instance.weight, " is out of range [0, 10000]"));
  }
  if (auto s = ValidateClusterName(instance.cluster()); !s.ok()) return s;
  HeartbeatPolicy ignored;
  return ParseHeartbeatPolicy(instance.metadata, HeartbeatPolicy{}, ignored);
}

namespace {
absl::Status ReadPositiveMs(const Metadata& metadata, std::string_view key, int64_t& out) {
  auto it = metadata.find(std::string(key));
  if (it == metadata.end()) return absl::OkStatus();
  int64_t value = 0;
  const auto& text = it->second;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value <= 0) {
    return absl::InvalidArgumentError(
        common::StrCat("metadata ", key, " must be a positive number of milliseconds"));
  }
  out = value;
  return absl::OkStatus();
}
}  // namespace

absl::Status ParseHeartbeatPolicy(const Metadata& metadata, const HeartbeatPolicy& defaults,
                                  HeartbeatPolicy& out) {
  out = defaults;
  if (auto s = ReadPositiveMs(metadata, kMetaBeatInterval, out.interval_ms); !s.ok()) return s;
  if (auto s = ReadPositiveMs(metadata, kMetaBeatTimeout, out.timeout_ms); !s.ok()) return s;
  if (auto s = ReadPositiveMs(metadata, kMetaDeleteTimeout, out.delete_timeout_ms); !s.ok()) {
    return s;
  }
  if (out.timeout_ms < out.interval_ms || out.delete_timeout_ms < out.interval_ms) {
    return absl::InvalidArgumentError(
        "instance 'heart beat interval' is larger than 'heart beat timeout' or 'ip delete "
        "timeout'");
  }
  return absl::OkStatus();
}

std::string HttpClientId(const InstanceAddress& address) {
  return common::StrCat(address.ip, ":", address.port, "#true");
}

bool IsHttpClientId(std::string_view client_id) { return client_id.ends_with("#true"); }

}  // namespace dnsd::registry
