// The Nacos naming data model: namespace -> group -> service -> cluster -> instance.
// Plain value types with Nacos's defaults; no behaviour beyond validation and naming helpers.
// Values are immutable once published inside a ServiceView, so they are safe to share across
// threads by const reference.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "common/atom.h"
#include "registry/metadata.h"

namespace dnsd::registry {

inline constexpr std::string_view kDefaultNamespace = "public";
inline constexpr std::string_view kDefaultGroup = "DEFAULT_GROUP";
inline constexpr std::string_view kDefaultCluster = "DEFAULT";
inline constexpr std::string_view kGroupSeparator = "@@";

// Preserved metadata keys that change how the server treats an instance.
inline constexpr std::string_view kMetaBeatInterval = "preserved.heart.beat.interval";
inline constexpr std::string_view kMetaBeatTimeout = "preserved.heart.beat.timeout";
inline constexpr std::string_view kMetaDeleteTimeout = "preserved.ip.delete.timeout";

struct ServiceKey {
  std::string namespace_id;
  std::string group;
  std::string name;

  // "group@@name", the form Nacos uses inside a namespace.
  std::string GroupedName() const { return group + std::string(kGroupSeparator) + name; }

  friend bool operator==(const ServiceKey&, const ServiceKey&) = default;
  friend auto operator<=>(const ServiceKey&, const ServiceKey&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const ServiceKey& k) {
    return H::combine(std::move(h), k.namespace_id, k.group, k.name);
  }
};

// For maps keyed by a service's shared key (one copy, held by the registry and its views) and
// looked up by ServiceKey.
struct SharedServiceKeyHash {
  using is_transparent = void;
  size_t operator()(const ServiceKey& k) const { return absl::Hash<ServiceKey>()(k); }
  size_t operator()(const std::shared_ptr<const ServiceKey>& k) const { return (*this)(*k); }
};
struct SharedServiceKeyEq {
  using is_transparent = void;
  static const ServiceKey& Of(const ServiceKey& k) { return k; }
  static const ServiceKey& Of(const std::shared_ptr<const ServiceKey>& k) { return *k; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return Of(a) == Of(b);
  }
};

// Identity of an instance inside a service.
// Cluster names repeat across instances (most are "DEFAULT"): interned, 8 bytes.
struct InstanceAddress {
  std::string ip;
  int port = 0;
  common::Atom cluster{kDefaultCluster};

  friend bool operator==(const InstanceAddress&, const InstanceAddress&) = default;
  friend auto operator<=>(const InstanceAddress&, const InstanceAddress&) = default;
};

// The id of the HTTP client that publishes an ephemeral instance: Nacos 2.x's "ip:port#true".
std::string HttpClientId(const InstanceAddress& address);
// True for an id HttpClientId makes (other clients are gRPC connections).
bool IsHttpClientId(std::string_view client_id);

struct HeartbeatPolicy {
  int64_t interval_ms = 5000;
  int64_t timeout_ms = 15000;
  int64_t delete_timeout_ms = 30000;
};

// Why an instance's `healthy` flag has its value: what last set it. Shown in the instance
// JSON so an operator can tell a client's word from a failed check. One byte, kept in what
// would otherwise be padding of Instance.
enum class HealthCause : uint8_t {
  kRegistered = 0,      // as the client registered or updated it
  kManual = 1,          // the health API (/instance/health)
  kCheckPassed = 2,     // the server's health check passed (enough times in a row)
  kCheckRefused = 3,    // the check's connection was refused
  kCheckTimeout = 4,    // the check did not finish in time
  kCheckBadStatus = 5,  // an HTTP check answered with another status than expected
  kCheckError = 6,      // any other failure of the check (reset, unreachable, bad answer)
  kBeatMissed = 7,      // an ephemeral instance's heartbeats stopped
  kBeat = 8,            // a heartbeat revived it
};
inline constexpr uint8_t kMaxHealthCause = 8;
std::string_view HealthCauseName(HealthCause cause);

// One per instance, shared by the registry and its views: kept compact (80 bytes).
struct Instance {
  InstanceAddress address;
  // Client supplied; empty means the default (see InstanceIdOf). Usually empty: an Atom is 8
  // bytes where a std::string is 32.
  common::Atom instance_id;
  double weight = 1.0;
  bool healthy = true;
  bool enabled = true;
  bool ephemeral = true;
  HealthCause health_cause = HealthCause::kRegistered;
  Metadata metadata;

  const std::string& ip() const { return address.ip; }
  int port() const { return address.port; }
  const std::string& cluster() const { return address.cluster.str(); }
};
static_assert(sizeof(Instance) <= 80, "an Instance is per instance: keep it small");

// A partial update (PATCH) or a full overlay (PUT, with every field set).
struct InstancePatch {
  std::optional<double> weight;
  std::optional<bool> enabled;
  std::optional<bool> healthy;
  std::optional<Metadata> metadata;
  HealthCause health_cause = HealthCause::kRegistered;  // with `healthy`: why it changes
};

// How the server checks the health of a cluster's persistent instances (Nacos's
// `healthChecker`): TCP connects, HTTP sends a GET and expects a status, NONE leaves health to
// the health API. Ephemeral instances are never checked: their heartbeats or connections say.
enum class HealthCheckType : uint8_t { kTcp = 0, kHttp = 1, kNone = 2 };
std::string_view HealthCheckTypeName(HealthCheckType type);

struct HealthCheckSpec {
  HealthCheckType type = HealthCheckType::kTcp;
  std::string path;     // HTTP: the request path ("" means "/")
  std::string headers;  // HTTP: Nacos's "name|value|name|value" form
  int expected_code = 200;

  friend bool operator==(const HealthCheckSpec&, const HealthCheckSpec&) = default;
};

// A cluster's definition (/nacos/v1/ns/cluster). Clusters without one use the defaults: TCP
// on each instance's own port.
struct ClusterMeta {
  HealthCheckSpec checker;
  int check_port = 80;  // used when use_instance_port is false
  bool use_instance_port = true;
  Metadata metadata;

  friend bool operator==(const ClusterMeta&, const ClusterMeta&) = default;
};

struct ServiceMeta {
  double protect_threshold = 0.0;
  Metadata metadata;
  std::string selector_json = R"({"type":"none"})";
  bool ephemeral = true;
  // Set when the service was created or updated through the service API; Nacos 2.x applies
  // the protect threshold only to such services.
  bool stored = false;
  int64_t created_ms = 0;
  std::map<std::string, ClusterMeta> clusters;  // defined clusters, by name

  // The cluster's definition, or the defaults.
  const ClusterMeta& Cluster(const std::string& name) const;

  friend bool operator==(const ServiceMeta&, const ServiceMeta&) = default;
};

// "ip#port#cluster#group@@service", Nacos's default ("simple") instance id.
std::string DefaultInstanceId(const InstanceAddress& address, const ServiceKey& service);
// The same appended to `out`, for encoders that reuse one buffer.
void AppendDefaultInstanceId(std::string& out, const InstanceAddress& address,
                             const ServiceKey& service);

// The instance's id: the client-supplied one, else the default.
inline std::string InstanceIdOf(const Instance& instance, const ServiceKey& service) {
  return instance.instance_id.empty() ? DefaultInstanceId(instance.address, service)
                                      : instance.instance_id.str();
}

// Validation shared by every front end. Messages name the offending field.
absl::Status ValidateInstance(const Instance& instance);
absl::Status ValidateClusterName(std::string_view cluster);
absl::Status ValidateServiceKey(const ServiceKey& key);

// Stricter rules for what clients send, checked where requests enter (HTTP and gRPC), not
// when the log is applied: entries acknowledged under older rules must still replay.
// Names: well-formed UTF-8 without control characters, no leading '@'; cluster names at most
// kMaxClusterNameLength; metadata at most kMaxMetadataEntries entries and kMaxMetadataBytes
// of keys and values, keys without control characters, values without control characters
// other than tab and line breaks.
inline constexpr size_t kMaxClusterNameLength = 64;
inline constexpr size_t kMaxMetadataEntries = 128;
inline constexpr size_t kMaxMetadataBytes = 16 * 1024;
absl::Status ValidateClientServiceKey(const ServiceKey& key);
absl::Status ValidateClientClusterName(std::string_view cluster);
absl::Status ValidateClientMetadata(const Metadata& metadata);
// ValidateInstance plus the client rules for its cluster name and metadata.
absl::Status ValidateClientInstance(const Instance& instance);
bool IsIpLiteral(std::string_view ip);
bool IsHostName(std::string_view host);

// Reads the preserved.* keys, falling back to `defaults`; fails if a value is not a positive
// integer or the timeouts are shorter than the interval.
absl::Status ParseHeartbeatPolicy(const Metadata& metadata, const HeartbeatPolicy& defaults,
                                  HeartbeatPolicy& out);

}  // namespace dnsd::registry
