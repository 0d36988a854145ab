#include "dnsd/registry_zone.h"

#include <arpa/inet.h>
#include <ldns/sha2.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace dnsd::dns {
namespace {

constexpr char kSep = '\x01';
constexpr char kBase32Hex[] = "0123456789abcdefghijklmnopqrstuv";
constexpr uint16_t kPriorityHealthy = 10;
constexpr uint16_t kPriorityProtected = 20;
constexpr size_t kMaxLabels = 128;

// Nacos fails open: at or below the protect threshold (0 healthy with the default 0) every
// enabled instance is returned, unhealthy ones last. `cluster_index` -1: all clusters.
bool ProtectThresholdReached(const ServiceAnswers& answers, int cluster_index) {
  size_t total = 0, healthy = 0;
  for (const auto& host : answers.hosts) {
    if (cluster_index >= 0 && host.cluster != cluster_index) continue;
    if (!answers.counts_as_instance(host)) continue;
    ++total;
    healthy += host.healthy ? 1 : 0;
  }
  return total > 0 &&
         static_cast<double>(healthy) / static_cast<double>(total) <= answers.protect_threshold;
}

bool IsLdhLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
    return false;
  for (char c : label) {
    if (!common::IsAlnum(c) && c != '-') return false;
  }
  return true;
}

std::string Base32Hex(const uint8_t* data, size_t size) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | data[i];
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32Hex[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32Hex[(buffer << (5 - bits)) & 31]);
  return out;
}

std::string HashLabel(std::string_view value) {
  unsigned char digest[32];
  ldns_sha256(reinterpret_cast<const unsigned char*>(value.data()),
              static_cast<unsigned int>(value.size()), digest);
  return "h-" + Base32Hex(digest, 16);
}

// Record header with the owner compressed to the question name; returns the RDATA position.
uint8_t* PutQnameHeader(uint8_t* p, uint16_t type, uint32_t ttl, uint16_t rdlen) {
  Write16(p, 0xC00C);
  Write16(p + 2, type);
  Write16(p + 4, kClassIN);
  Write32(p + 6, ttl);
  Write16(p + 10, rdlen);
  return p + 12;
}

int Base32HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'v') return c - 'a' + 10;
  return -1;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "00".."ff": the hex of a byte in one copy (SRV targets are written per query).
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    for (int i = 0; i < 256; ++i) {
      pairs[i][0] = kBase32Hex[i >> 4];
      pairs[i][1] = kBase32Hex[i & 15];
    }
  }
};
constexpr HexPairs kHexPairs;

uint64_t NextRandom() {
  thread_local uint64_t state = std::random_device{}() | 1;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

// The labels of the lowercased question name, as offsets into it (no allocation, and no
// per-query initialisation of a 128-entry array).
struct LabelList {
  const char* base;
  uint8_t offset[kMaxLabels];
  uint8_t length[kMaxLabels];
  int count;
  struct Accessor {
    const LabelList* list;
    std::string_view operator[](int i) const {
      return {list->base + list->offset[i], list->length[i]};
    }
  };
  Accessor label{this};
};

void SplitLabels(const WireName& name, LabelList& out) {
  out.base = reinterpret_cast<const char*>(name.data);
  out.count = 0;
  for (size_t i = 0; i < name.size && name.data[i] != 0 && out.count < static_cast<int>(kMaxLabels);
       i += 1 + name.data[i]) {
    out.offset[out.count] = static_cast<uint8_t>(i + 1);
    out.length[out.count] = name.data[i];
    ++out.count;
  }
}

// Appends labels [from, to) joined by dots to a fixed buffer; false if it would overflow.
struct KeyBuffer {
  char data[600];
  size_t size = 0;
  bool Append(std::string_view s) {
    if (size + s.size() > sizeof(data)) return false;
    std::memcpy(data + size, s.data(), s.size());
    size += s.size();
    return true;
  }
  bool Append(char c) { return Append(std::string_view(&c, 1)); }
  bool AppendLabels(const LabelList& l, int from, int to) {
    for (int i = from; i < to; ++i) {
      if (i > from && !Append('.')) return false;
      if (!Append(l.label[i])) return false;
    }
    return true;
  }
  std::string_view view() const { return {data, size}; }
};

thread_local std::vector<std::pair<double, const ServiceAnswers::Host*>> t_order;

uint64_t NextInstanceId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}
thread_local std::vector<std::pair<size_t, const ServiceAnswers::Host*>> t_srv_written;

}  // namespace

std::string RegistryZone::LabelFor(std::string_view value) {
  if (value == "DEFAULT_GROUP") return "default-group";
  std::string out;
  for (char c : value) {
    char m = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    if (m == '_' || m == '.' || m == ':') m = '-';
    if (m == '-' && !out.empty() && out.back() == '-') continue;
    out.push_back(m);
  }
  while (!out.empty() && out.front() == '-') out.erase(out.begin());
  while (!out.empty() && out.back() == '-') out.pop_back();
  const bool idna_reserved = out.size() >= 4 && out[2] == '-' && out[3] == '-';
  if (out.empty() || idna_reserved || !IsLdhLabel(out)) return HashLabel(value);
  return out;
}

bool RegistryZone::NaturalFormInto(std::string_view service, char* out, size_t capacity,
                                   size_t& size) {
  if (service.empty() || service.size() > capacity) return false;
  size_t label_start = 0;
  for (size_t i = 0; i <= service.size(); ++i) {
    if (i == service.size() || service[i] == '.') {
      if (!IsLdhLabel(std::string_view(out + label_start, i - label_start))) return false;
      if (i < service.size()) out[i] = '.';
      label_start = i + 1;
      continue;
    }
    const char c = service[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
  size = service.size();
  return true;
}

std::string RegistryZone::NaturalForm(std::string_view service) {
  std::string out(service.size(), '\0');
  size_t size = 0;
  if (!NaturalFormInto(service, out.data(), out.size(), size)) return "";
  return out;
}

std::string RegistryZone::EncodedForm(std::string_view service, size_t room) {
  const std::string b32 =
      Base32Hex(reinterpret_cast<const uint8_t*>(service.data()), service.size());
  std::string out;
  for (size_t i = 0; i < b32.size(); i += 63) {
    if (!out.empty()) out.push_back('.');
    out.append(b32.substr(i, 63));
  }
  if (out.size() + 1 > room) return HashLabel(service);
  return out;
}

RegistryZone::RegistryZone(RegistryZoneOptions options, common::MetricsRegistry& metrics)
    : options_(std::move(options)),
      instance_id_(NextInstanceId()),
      collisions_(metrics.GetCounter("dnsd_dns_name_collisions_total",
                                     "Services whose natural DNS name collides with another's")) {
  WireName raw;
  NameFromText(options_.zone, raw);
  ToLowerName(raw, apex_);
  if (!options_.compat_suffix.empty()) {
    NameFromText(options_.compat_suffix, raw);
    ToLowerName(raw, compat_apex_);
  }
  addr_suffix_ = std::string(
                     "\x04"
                     "addr",
                     5) +
                 std::string(apex_.view());
  NameFromText("ns1." + NameToText(apex_.view()), mname_);
  NameFromText("hostmaster." + NameToText(apex_.view()), rname_);
  if (inet_pton(AF_INET, options_.ns_address.c_str(), ns_rdata_) == 1) {
    ns_rdlen_ = 4;
  } else if (inet_pton(AF_INET6, options_.ns_address.c_str(), ns_rdata_) == 1) {
    ns_rdlen_ = 16;
  }
  default_ns_label_ = LabelFor(options_.default_namespace);
  default_grp_label_ = LabelFor(options_.default_group);
}

// ---------------------------------------------------------------- writer side

std::shared_ptr<ServiceAnswers> RegistryZone::BuildAnswers(
    const registry::ServiceView& view, std::vector<std::string>* host_names) const {
  auto answers = std::make_shared<ServiceAnswers>();
  answers->protect_threshold = view.meta().protect_threshold;
  answers->service_name = view.key().name;
  // Each answerable instance's address, parsed once: IPv4, IPv6, or a host name (its
  // addresses looked up now, in instance order).
  struct Parsed {
    int family = 0;  // AF_INET, AF_INET6, or 0 for a host name
    uint8_t addr[16];
  };
  std::vector<Parsed> parsed;
  std::vector<std::shared_ptr<const HostAddresses>> resolved;
  double max_weight = 1;
  size_t host_count = 0;
  size_t address_bytes = 0;
  for (const auto& instance : view.instances()) {
    if (!instance->enabled || !(instance->weight > 0)) continue;
    Parsed& p = parsed.emplace_back();
    const char* ip = instance->ip().c_str();
    if (inet_pton(AF_INET, ip, p.addr) == 1) {
      p.family = AF_INET;
      address_bytes += 4;
    } else if (inet_pton(AF_INET6, ip, p.addr) == 1) {
      p.family = AF_INET6;
      address_bytes += 16;
    } else if (registry::IsHostName(instance->ip())) {
      auto addresses = resolver_ != nullptr ? resolver_->Lookup(instance->ip()) : nullptr;
      if (addresses) {
        host_count += addresses->v4.size() + addresses->v6.size();
        address_bytes += addresses->v4.size() * 4 + addresses->v6.size() * 16;
      }
      resolved.push_back(std::move(addresses));
      if (host_names != nullptr) host_names->push_back(instance->ip());
    } else {
      p.family = -1;  // neither (validation keeps these out; old data might not)
      continue;
    }
    ++host_count;
    max_weight = std::max(max_weight, instance->weight * 100);
  }
  if (host_names != nullptr) {
    std::sort(host_names->begin(), host_names->end());
    host_names->erase(std::unique(host_names->begin(), host_names->end()), host_names->end());
  }
  const double scale = max_weight > 65535 ? 65535 / max_weight : 1;
  answers->hosts.reserve(host_count);
  std::vector<uint8_t>& packed = answers->addresses;
  packed.resize(address_bytes);
  uint8_t* const base = packed.data();
  uint8_t* p = base;
  auto put_address = [&](ServiceAnswers::Host& host, const uint8_t* addr) {
    host.offset = static_cast<uint32_t>(p - base);
    std::memcpy(p, addr, host.address_len());
    p += host.address_len();
  };
  std::string_view last_cluster;
  uint16_t last_cluster_index = 0;
  size_t next_parsed = 0;
  size_t next_resolved = 0;
  for (const auto& instance : view.instances()) {
    if (!instance->enabled || !(instance->weight > 0)) continue;
    const Parsed& p = parsed[next_parsed++];
    ServiceAnswers::Host host;
    const uint8_t* addr = p.addr;
    const std::shared_ptr<const HostAddresses>* addresses = nullptr;
    WireName target;
    if (p.family == AF_INET || p.family == AF_INET6) {
      host.v6 = p.family == AF_INET6;
    } else if (p.family == 0) {
      addresses = &resolved[next_resolved++];
      if (!NameFromText(instance->ip(), target)) continue;
      host.kind = ServiceAnswers::Host::kNameTarget;
    } else {
      continue;
    }
    host.healthy = instance->healthy;
    host.weight = static_cast<float>(instance->weight);
    if (instance->cluster() != last_cluster || answers->clusters.empty()) {
      const std::string label = LabelFor(instance->cluster());
      auto it = std::find(answers->clusters.begin(), answers->clusters.end(), label);
      last_cluster_index = static_cast<uint16_t>(it - answers->clusters.begin());
      if (it == answers->clusters.end()) answers->clusters.push_back(label);
      last_cluster = instance->cluster();
    }
    host.cluster = last_cluster_index;
    host.port = static_cast<uint16_t>(instance->port());
    host.srv_weight =
        static_cast<uint16_t>(std::clamp(std::lround(instance->weight * 100 * scale), 1L, 65535L));
    if (host.kind == ServiceAnswers::Host::kAddress) {
      put_address(host, addr);
      answers->hosts.push_back(host);
      continue;
    }
    // A host name: its SRV target, then one A/AAAA host per address it resolves to, sharing
    // the instance's weight so that the instance keeps its share of first places.
    host.offset = static_cast<uint32_t>(answers->names.size());
    answers->names.insert(answers->names.end(), target.data, target.data + target.size);
    answers->hosts.push_back(host);
    if (!*addresses) continue;
    const HostAddresses& resolved_addresses = **addresses;
    const size_t count = resolved_addresses.v4.size() + resolved_addresses.v6.size();
    ServiceAnswers::Host address_host = host;
    address_host.kind = ServiceAnswers::Host::kResolvedAddress;
    address_host.weight = static_cast<float>(instance->weight / static_cast<double>(count));
    for (const auto& a : resolved_addresses.v4) {
      address_host.v6 = false;
      put_address(address_host, a.data());
      answers->hosts.push_back(address_host);
    }
    for (const auto& a : resolved_addresses.v6) {
      address_host.v6 = true;
      put_address(address_host, a.data());
      answers->hosts.push_back(address_host);
    }
  }
  packed.resize(static_cast<size_t>(p - base));
  return answers;
}

void RegistryZone::AddRef(const std::string& key,
                          const std::shared_ptr<const ServiceAnswers>* answers) {
  RefCounts& refs = names_[key];
  if (answers) {
    refs.answers = *answers;
  } else if (refs.ent++ > 0) {
    return;  // already an empty non-terminal: what DNS sees of the name is unchanged
  }
  auto entry = std::make_shared<NameEntry>();
  entry->answers = refs.answers;
  entry->exists_as_ent = refs.ent > 0;
  index_.Publish(key, std::move(entry));
}

void RegistryZone::Release(const std::string& key, bool as_service) {
  auto it = names_.find(key);
  if (it == names_.end()) return;
  if (as_service) {
    it->second.answers.reset();
  } else if (--it->second.ent > 0) {
    return;  // still an empty non-terminal (a namespace's or group's other services)
  }
  if (!it->second.answers && it->second.ent <= 0) {
    index_.Remove(key);
    // A collided natural name answers nothing but keeps its claimants.
    if (it->second.claims.empty()) names_.erase(it);
    return;
  }
  auto entry = std::make_shared<NameEntry>();
  entry->answers = it->second.answers;
  entry->exists_as_ent = it->second.ent > 0;
  index_.Publish(key, std::move(entry));
}

RegistryZone::DerivedKeys RegistryZone::KeysFor(const registry::ServiceKey& key) const {
  DerivedKeys out;
  const std::string ns_label = LabelFor(key.namespace_id);
  const std::string prefix = ns_label + kSep + LabelFor(key.group) + kSep;
  out.ent_keys.push_back(ns_label + kSep);  // the namespace exists
  out.ent_keys.push_back(prefix);           // the group exists
  const size_t room = NameRoom();
  const std::string encoded = EncodedForm(key.name, room);
  out.encoded_key = prefix + "e:" + encoded;
  out.encoded_is_hash = encoded.rfind("h-", 0) == 0;
  const std::string natural = NaturalForm(key.name);
  if (!natural.empty() && natural.size() + 1 <= room) {
    out.natural_key = prefix + "s:" + natural;
    for (size_t dot = natural.find('.'); dot != std::string::npos;
         dot = natural.find('.', dot + 1)) {
      out.ent_keys.push_back(prefix + "s:" + natural.substr(dot + 1));
    }
  }
  return out;
}

size_t RegistryZone::NameRoom() const { return kMaxName - apex_.size - 40; }

std::string RegistryZone::NaturalKeyFor(const registry::ServiceKey& key) const {
  const std::string natural = NaturalForm(key.name);
  if (natural.empty() || natural.size() + 1 > NameRoom()) return {};
  return common::StrCat(LabelFor(key.namespace_id), kSep, LabelFor(key.group), kSep, "s:", natural);
}

void RegistryZone::IndexEncoded(const registry::ServiceKey& key, Published& p) {
  if (p.encoded_indexed) return;
  p.encoded_indexed = true;
  AddRef(KeysFor(key).encoded_key, &p.answers);
}

void RegistryZone::OnServiceChanged(const registry::ServiceKey& key,
                                    const std::shared_ptr<const registry::ServiceView>& view) {
  std::lock_guard lock(mu_);
  serial_.fetch_add(1, std::memory_order_relaxed);
  auto existing = published_.find(key);
  if (!view) {
    if (existing == published_.end()) return;
    Published& p = existing->second;
    const DerivedKeys keys = KeysFor(key);
    if (p.has_natural) {
      auto named = names_.find(keys.natural_key);
      Claimants& claims = named->second.claims;
      const bool was_sole = claims.size() == 1;
      claims.erase(std::remove_if(claims.begin(), claims.end(),
                                  [&](const auto& claimant) { return *claimant == key; }),
                   claims.end());
      if (claims.size() == 1) {
        // The collision is over: the remaining service gets its natural name back.
        AddRef(keys.natural_key, &published_.find(*claims.front())->second.answers);
      } else if (was_sole) {
        Release(keys.natural_key, /*as_service=*/true);  // drops the name unless an ENT
      }
    }
    if (p.encoded_indexed) Release(keys.encoded_key, /*as_service=*/true);
    for (const auto& ent : keys.ent_keys) Release(ent, /*as_service=*/false);
    TrackHosts(key, nullptr, {});
    published_.erase(existing);
    services_named_.store(published_.size(), std::memory_order_relaxed);
    return;
  }

  std::vector<std::string> hosts;
  auto built = BuildAnswers(*view, resolver_ != nullptr ? &hosts : nullptr);
  if (follower_ != nullptr) built->freshness = follower_->FreshnessOf(key);
  const std::shared_ptr<const ServiceAnswers> answers = std::move(built);
  if (existing == published_.end()) {
    const DerivedKeys keys = KeysFor(key);
    for (const auto& ent : keys.ent_keys) AddRef(ent, nullptr);
    Published p;
    p.answers = answers;
    p.has_natural = !keys.natural_key.empty();
    existing = published_.emplace(view->shared_key(), std::move(p)).first;
    services_named_.store(published_.size(), std::memory_order_relaxed);
    Published& added = existing->second;
    if (!added.has_natural || keys.encoded_is_hash) IndexEncoded(key, added);
    if (added.has_natural) {
      RefCounts& named = names_[keys.natural_key];
      named.claims.push_back(view->shared_key());
      if (named.claims.size() == 2) {
        collisions_.Inc();
        spdlog::warn("services in {} / {} collide on DNS name {}; only their .enc names answer",
                     key.namespace_id, key.group, NaturalForm(key.name));
        Release(keys.natural_key, /*as_service=*/true);
      }
      if (named.claims.size() >= 2) {
        // IndexEncoded adds names: copy the claimants before names_ may rehash.
        const Claimants claimants = named.claims;
        for (const auto& other : claimants) {
          IndexEncoded(*other, published_.find(*other)->second);
        }
      }
    }
  }
  TrackHosts(key, view, std::move(hosts));
  PublishAnswers(key, answers);
}

void RegistryZone::BeginBulk() {
  std::lock_guard lock(mu_);
  index_.BeginBatch();
}

void RegistryZone::EndBulk() {
  std::lock_guard lock(mu_);
  index_.EndBatch();
}

size_t RegistryZone::service_count() const {
  std::lock_guard lock(mu_);
  return published_.size();
}

std::vector<ServiceDnsName> RegistryZone::NamesOf(const registry::ServiceKey& key,
                                                  bool* natural_collides) const {
  std::lock_guard lock(mu_);
  if (natural_collides != nullptr) *natural_collides = false;
  std::vector<ServiceDnsName> out;
  const auto it = published_.find(key);
  if (it == published_.end() || !it->second.answers) return out;
  const Published& p = it->second;
  const ServiceAnswers& answers = *p.answers;
  // What the zone's answers hold now, per the rules of AnswerService.
  auto types_of = [&](int cluster_index) {
    const bool protect = ProtectThresholdReached(answers, cluster_index);
    bool v4 = false, v6 = false, srv = false;
    for (const auto& host : answers.hosts) {
      if (cluster_index >= 0 && host.cluster != cluster_index) continue;
      if (!host.healthy && !protect) continue;
      if (host.kind != ServiceAnswers::Host::kResolvedAddress) srv = true;
      if (host.kind != ServiceAnswers::Host::kNameTarget) (host.v6 ? v6 : v4) = true;
    }
    std::vector<std::string> types;
    if (v4) types.emplace_back("A");
    if (v6) types.emplace_back("AAAA");
    if (srv) types.emplace_back("SRV");
    return types;
  };
  const std::vector<std::string> all_types = types_of(-1);
  const std::string zone = NameToText(apex_.view());
  const std::string ns_label = LabelFor(key.namespace_id);
  const std::string grp_label = LabelFor(key.group);
  const bool defaults = ns_label == default_ns_label_ && grp_label == default_grp_label_;
  const std::string qualified = common::StrCat(grp_label, ".grp.", ns_label, ".ns.", zone);
  auto add = [&](std::string name, std::string form, std::vector<std::string> types,
                 std::string cluster = {}) {
    out.push_back({std::move(name), std::move(form), std::move(cluster), std::move(types)});
  };

  const DerivedKeys keys = KeysFor(key);
  std::string natural;
  if (p.has_natural) {
    const auto named = names_.find(keys.natural_key);
    if (named != names_.end() && named->second.claims.size() == 1) {
      natural = NaturalForm(key.name);
    } else if (natural_collides != nullptr) {
      *natural_collides = true;
    }
  }
  const std::string encoded = keys.encoded_key.substr(keys.encoded_key.find("e:") + 2);
  // The service label(s) the per-cluster names use: the natural form when there is one.
  const std::string service_part = natural.empty() ? encoded + ".enc" : natural + ".svc";
  if (!natural.empty()) {
    if (defaults) add(common::StrCat(natural, ".svc.", zone), "natural", all_types);
    add(common::StrCat(natural, ".svc.", qualified), "natural", all_types);
    const bool one_label = natural.find('.') == std::string::npos;
    std::vector<std::string> srv_only;
    if (std::find(all_types.begin(), all_types.end(), "SRV") != all_types.end()) {
      srv_only.emplace_back("SRV");
    }
    if (one_label) {
      if (defaults) add(common::StrCat("_", natural, "._tcp.svc.", zone), "rfc2782", srv_only);
      add(common::StrCat("_", natural, "._tcp.svc.", qualified), "rfc2782", srv_only);
    }
    if (one_label && !options_.compat_suffix.empty() && ns_label == default_ns_label_) {
      std::string suffix = NameToText(compat_apex_.view());
      if (grp_label == default_grp_label_) {
        add(common::StrCat(natural, ".", suffix), "compat", all_types);
      }
      add(common::StrCat(natural, ".", grp_label, ".", suffix), "compat", all_types);
    }
    if (options_.bare_names && defaults) add(natural + ".", "bare", all_types);
  }
  if (defaults) add(common::StrCat(encoded, ".enc.", zone), "encoded", all_types);
  add(common::StrCat(encoded, ".enc.", qualified), "encoded", all_types);
  for (size_t i = 0; i < answers.clusters.size(); ++i) {
    add(common::StrCat(service_part, ".", answers.clusters[i], ".cl.", qualified), "cluster",
        types_of(static_cast<int>(i)), answers.clusters[i]);
  }
  return out;
}

void RegistryZone::PublishAnswers(const registry::ServiceKey& key,
                                  const std::shared_ptr<const ServiceAnswers>& answers) {
  Published& p = published_.find(key)->second;
  p.answers = answers;
  if (p.encoded_indexed) AddRef(KeysFor(key).encoded_key, &answers);
  if (p.has_natural) {
    const std::string natural_key = NaturalKeyFor(key);
    const auto named = names_.find(natural_key);
    if (named != names_.end() && named->second.claims.size() == 1) AddRef(natural_key, &answers);
  }
}

void RegistryZone::SetHostResolver(HostResolver* resolver) {
  resolver_ = resolver;
  resolver_->SetOnChange([this](const std::string& host) { OnHostChanged(host); });
}

void RegistryZone::TrackHosts(const registry::ServiceKey& key,
                              const std::shared_ptr<const registry::ServiceView>& view,
                              std::vector<std::string> hosts) {
  if (resolver_ == nullptr) return;
  auto tracked = host_named_.find(key);
  if (hosts.empty() && tracked == host_named_.end()) return;  // the common case: IPs only
  static const std::vector<std::string> kNone;
  const std::vector<std::string>& before =
      tracked == host_named_.end() ? kNone : tracked->second.hosts;
  for (const auto& host : hosts) {
    if (std::binary_search(before.begin(), before.end(), host)) continue;
    resolver_->Acquire(host);
    host_users_[host].insert(key);
  }
  for (const auto& host : before) {
    if (std::binary_search(hosts.begin(), hosts.end(), host)) continue;
    resolver_->Release(host);
    auto users = host_users_.find(host);
    if (users == host_users_.end()) continue;
    users->second.erase(key);
    if (users->second.empty()) host_users_.erase(users);
  }
  if (hosts.empty()) {
    host_named_.erase(tracked);
  } else if (tracked == host_named_.end()) {
    host_named_.emplace(key, HostNamed{view, std::move(hosts)});
  } else {
    tracked->second = HostNamed{view, std::move(hosts)};
  }
}

void RegistryZone::OnHostChanged(const std::string& host) {
  std::lock_guard lock(mu_);
  auto users = host_users_.find(host);
  if (users == host_users_.end()) return;
  serial_.fetch_add(1, std::memory_order_relaxed);
  for (const auto& key : users->second) {
    auto tracked = host_named_.find(key);
    if (tracked == host_named_.end() || !published_.contains(key)) continue;
    auto built = BuildAnswers(*tracked->second.view);
    if (follower_ != nullptr) built->freshness = follower_->FreshnessOf(key);
    PublishAnswers(key, std::move(built));
  }
}

// ---------------------------------------------------------------- reader side

const NameEntry* RegistryZone::Lookup(std::string_view key) const {
  // Each DNS thread keeps a reader cache of the index; the instance id (not the address)
  // tells a cache of another, possibly destroyed, zone apart.
  thread_local uint64_t cache_owner = 0;
  thread_local std::unique_ptr<common::CowIndex<std::string, NameEntry>::ReaderCache> cache;
  if (cache_owner != instance_id_) {
    cache = std::make_unique<common::CowIndex<std::string, NameEntry>::ReaderCache>();
    cache_owner = instance_id_;
  }
  return index_.Find(absl::string_view(key.data(), key.size()), *cache);
}

bool RegistryZone::HasEntry(std::string_view key) const { return Lookup(key) != nullptr; }

void RegistryZone::Negative(ResponseWriter& w, uint8_t rcode) const {
  w.SetRcode(rcode);
  w.AddSoa(ResponseWriter::kAuthority, apex_.view(), mname_.view(), rname_.view(),
           serial_.load(std::memory_order_relaxed), 3600, 600, 86400, options_.negative_ttl,
           options_.negative_ttl);
}

void RegistryZone::AnswerApex(const Query& q, ResponseWriter& w) const {
  if (q.qtype == kTypeSOA || q.qtype == kTypeANY) {
    w.AddSoa(ResponseWriter::kAnswer, apex_.view(), mname_.view(), rname_.view(),
             serial_.load(std::memory_order_relaxed), 3600, 600, 86400, options_.negative_ttl,
             options_.negative_ttl);
    return;
  }
  if (q.qtype == kTypeNS) {
    uint8_t rdata[kMaxName];
    std::memcpy(rdata, mname_.data, mname_.size);
    w.AddRecord(ResponseWriter::kAnswer, apex_.view(), kTypeNS, options_.ttl, rdata, mname_.size);
    if (ns_rdlen_ != 0) {
      w.AddRecord(ResponseWriter::kAdditional, mname_.view(), ns_rdlen_ == 4 ? kTypeA : kTypeAAAA,
                  options_.ttl, ns_rdata_, ns_rdlen_);
    }
    return;
  }
  Negative(w, kRcodeNoError);
}

void RegistryZone::AnswerAddr(const Query& q, ResponseWriter& w, std::string_view hex) const {
  if (hex.size() != 8 && hex.size() != 32) return Negative(w, kRcodeNxDomain);
  uint8_t addr[16];
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexDigit(hex[i]), lo = HexDigit(hex[i + 1]);
    if (hi < 0 || lo < 0) return Negative(w, kRcodeNxDomain);
    addr[i / 2] = static_cast<uint8_t>(hi << 4 | lo);
  }
  const uint16_t type = hex.size() == 8 ? kTypeA : kTypeAAAA;
  if (q.qtype == type || q.qtype == kTypeANY) {
    w.AddQnameRecord(ResponseWriter::kAnswer, type, options_.addr_ttl, addr,
                     static_cast<uint16_t>(hex.size() / 2));
    return;
  }
  Negative(w, kRcodeNoError);
}

bool RegistryZone::AnswerService(const Query& q, ResponseWriter& w, const ServiceAnswers& answers,
                                 std::string_view cluster, bool srv_owner) const {
  int cluster_index = -1;
  if (!cluster.empty()) {
    for (size_t i = 0; i < answers.clusters.size(); ++i) {
      if (answers.clusters[i] == cluster) cluster_index = static_cast<int>(i);
    }
    if (cluster_index < 0) return false;
  }
  const bool protect = ProtectThresholdReached(answers, cluster_index);
  auto eligible = [&](const ServiceAnswers::Host& h) {
    return (cluster_index < 0 || h.cluster == cluster_index) && (h.healthy || protect);
  };

  if (q.qtype == kTypeANY) {
    static const uint8_t kHinfo[] = {7, 'R', 'F', 'C', '8', '4', '8', '2', 0};
    w.AddQnameRecord(ResponseWriter::kAnswer, kTypeHINFO, options_.ttl, kHinfo, sizeof(kHinfo));
    return true;
  }
  if ((q.qtype == kTypeA || q.qtype == kTypeAAAA) && !srv_owner) {
    const bool want_v6 = q.qtype == kTypeAAAA;
    auto& order = t_order;
    order.clear();
    double total_weight[2] = {0, 0};  // healthy, protected
    for (const auto& host : answers.hosts) {
      if (host.kind == ServiceAnswers::Host::kNameTarget) continue;
      if (host.v6 != want_v6 || !eligible(host)) continue;
      order.emplace_back(host.weight, &host);
      total_weight[host.healthy ? 0 : 1] += host.weight;
    }
    if (order.empty()) return false;
    // Weighted random order, healthy hosts first (then protected unhealthy ones): the first
    // address is chosen in proportion to its weight, then the next among the rest, and so on.
    // std::partition, not stable_partition: order does not matter before the shuffle, and the
    // stable one allocates.
    std::partition(order.begin(), order.end(), [](const auto& e) { return e.second->healthy; });
    auto uniform = [] {
      return (static_cast<double>(NextRandom() >> 11) + 0.5) * (1.0 / 9007199254740992.0);
    };
    const auto healthy_end =
        std::find_if(order.begin(), order.end(), [](const auto& e) { return !e.second->healthy; });
    auto shuffle = [&](auto first, auto last, double total) {
      if (last - first <= 8) {
        // Few hosts: draw one at a time (no logarithms, no sort).
        for (; last - first > 1; ++first) {
          double pick = uniform() * total;
          auto chosen = first;
          for (auto it = first; it != last; ++it) {
            pick -= it->first;
            chosen = it;
            if (pick < 0) break;
          }
          total -= chosen->first;
          std::iter_swap(first, chosen);
        }
        return;
      }
      // Many hosts: exponential keys with rate = weight give the same distribution.
      for (auto it = first; it != last; ++it) it->first = -std::log(uniform()) / it->first;
      std::sort(first, last, [](const auto& a, const auto& b) { return a.first < b.first; });
    };
    shuffle(order.begin(), healthy_end, total_weight[0]);
    shuffle(healthy_end, order.end(), total_weight[1]);
    const size_t mark = w.Mark();
    uint8_t rr[28];
    for (const auto& [key, host] : order) {
      const uint16_t len = host->address_len();
      std::memcpy(PutQnameHeader(rr, host->v6 ? kTypeAAAA : kTypeA, options_.ttl, len),
                  answers.address(*host), len);
      if (!w.AddRaw(ResponseWriter::kAnswer, rr, 12u + len, 1)) {
        w.Rollback(mark, ResponseWriter::kAnswer, 0);
        w.SetTc();
        return true;
      }
    }
    return true;
  }
  if (q.qtype == kTypeSRV) {
    auto& written = t_srv_written;
    written.clear();
    const size_t mark = w.Mark();
    for (const auto& host : answers.hosts) {
      if (host.kind == ServiceAnswers::Host::kResolvedAddress || !eligible(host)) continue;
      // SRV record, owner compressed to the question, target <hex address>.addr.<zone> (or
      // the instance's host name) written in full (never compressed, RFC 2782).
      uint8_t rr[kMaxName + 18];
      const bool named = host.kind == ServiceAnswers::Host::kNameTarget;
      const uint16_t addr_len = host.v6 ? 16 : 4;
      const std::string_view name = named ? answers.target_name(host) : std::string_view();
      const auto target_len =
          static_cast<uint16_t>(named ? name.size() : 1 + 2 * addr_len + addr_suffix_.size());
      uint8_t* p =
          PutQnameHeader(rr, kTypeSRV, options_.ttl, static_cast<uint16_t>(6 + target_len));
      Write16(p, host.healthy ? kPriorityHealthy : kPriorityProtected);
      Write16(p + 2, host.srv_weight);
      Write16(p + 4, host.port);
      p += 6;
      if (named) {
        std::memcpy(p, name.data(), name.size());
        p += name.size();
      } else {
        *p++ = static_cast<uint8_t>(2 * addr_len);
        const uint8_t* addr = answers.address(host);
        for (int i = 0; i < addr_len; ++i, p += 2) std::memcpy(p, kHexPairs.pairs[addr[i]], 2);
        std::memcpy(p, addr_suffix_.data(), addr_suffix_.size());
        p += addr_suffix_.size();
      }
      const size_t at = w.Mark();
      if (!w.AddRaw(ResponseWriter::kAnswer, rr, static_cast<size_t>(p - rr), 1)) {
        w.Rollback(mark, ResponseWriter::kAnswer, 0);
        w.SetTc();
        return true;
      }
      written.emplace_back(at + 18, &host);  // 2 owner + 10 header + 6 priority/weight/port
    }
    if (written.empty()) return false;
    if (options_.minimal_responses) return true;
    // Glue: the target's address, its owner pointing at the target inside the SRV RDATA.
    // Additional data that does not fit is left out without TC (RFC 2181 §9).
    for (const auto& [target_offset, host] : written) {
      if (target_offset >= 0x3FFF) break;
      // A host name is outside our authority: resolvers look it up themselves.
      if (host->kind == ServiceAnswers::Host::kNameTarget) continue;
      uint8_t rr[28];
      Write16(rr, static_cast<uint16_t>(0xC000 | target_offset));
      Write16(rr + 2, host->v6 ? kTypeAAAA : kTypeA);
      Write16(rr + 4, kClassIN);
      Write32(rr + 6, options_.addr_ttl);
      const uint16_t len = host->v6 ? 16 : 4;
      Write16(rr + 10, len);
      std::memcpy(rr + 12, answers.address(*host), len);
      if (!w.AddRaw(ResponseWriter::kAdditional, rr, 12u + len, 1)) break;
    }
    return true;
  }
  return false;
}

void RegistryZone::SetFollower(RegistryFollower* follower, common::MetricsRegistry& metrics) {
  follower_ = follower;
  const char* kinds[] = {"stale", "stale_nxdomain", "servfail_not_ready", "servfail_no_authority"};
  for (int i = 0; i < 4; ++i) {
    follower_answers_[i] = &metrics.GetCounter(
        "dnsd_dns_follower_answers_total",
        "Registry answers shaped by the agent's rules: stale (EDE 3), stale NXDOMAIN (EDE 19), "
        "SERVFAIL not ready (EDE 14), SERVFAIL expired or unreachable (EDE 22)",
        common::StrCat("kind=\"", kinds[i], "\""));
  }
}

bool RegistryZone::FreshnessAllows(ResponseWriter& w, const ServiceAnswers& answers) const {
  if (!answers.freshness) return true;
  answers.freshness->MarkQueried();
  switch (answers.freshness->state.load(std::memory_order_relaxed)) {
    case Freshness::kFresh:
      return true;
    case Freshness::kStale:
      follower_answers_[kStaleAnswer]->Inc();
      w.SetEde(kEdeStaleAnswer);
      w.CapTtl(follower_->stale_ttl());
      return true;
    case Freshness::kExpired:
      break;
  }
  follower_answers_[kServFailNoAuthority]->Inc();
  w.SetAa(false);
  w.SetRcode(kRcodeServFail);
  w.SetEde(kEdeNoReachableAuthority);
  return false;
}

void RegistryZone::AnswerHit(const Query& q, ResponseWriter& w, const ServiceAnswers& answers,
                             std::string_view cluster, bool srv_owner) const {
  if (!FreshnessAllows(w, answers)) return;
  if (!AnswerService(q, w, answers, cluster, srv_owner)) Negative(w, kRcodeNoError);
}

ZoneResult RegistryZone::MissRules(ResponseWriter& w, const ServiceGuess& guess, bool may_wait,
                                   std::string_view key, const NameEntry*& late) const {
  const MissAction action = follower_->OnMiss(guess, may_wait);
  if (action == MissAction::kNegative || action == MissAction::kStaleNegative) {
    // The follower says the service has data: it may have come (and been published) between
    // the caller's lookup and the follower's answer. Then it answers, not the negative.
    if (const NameEntry* again = Lookup(key); again != nullptr && again->answers) {
      late = again;
      return ZoneResult::kNotOurs;
    }
  }
  switch (action) {
    case MissAction::kWait:
      return ZoneResult::kWait;
    case MissAction::kNotReady:
    case MissAction::kNoAuthority:
      follower_answers_[action == MissAction::kNotReady ? kServFailNotReady : kServFailNoAuthority]
          ->Inc();
      w.SetAa(false);
      w.SetRcode(kRcodeServFail);
      w.SetEde(action == MissAction::kNotReady ? kEdeNotReady : kEdeNoReachableAuthority);
      return ZoneResult::kAnswered;
    case MissAction::kStaleNegative:
      follower_answers_[kStaleNxDomain]->Inc();
      w.SetEde(kEdeStaleNxDomain);
      w.CapTtl(follower_->stale_ttl());
      break;
    case MissAction::kNegative:
      break;
  }
  return ZoneResult::kNotOurs;
}

ZoneResult RegistryZone::AnswerCompat(const Query& q, ResponseWriter& w, size_t before,
                                      bool may_wait) const {
  LabelList l;
  SplitLabels(q.qname_lower, l);
  w.SetAa(true);
  auto negative = [&](uint8_t rcode) {
    w.SetRcode(rcode);
    w.AddSoa(ResponseWriter::kAuthority, compat_apex_.view(), mname_.view(), rname_.view(),
             serial_.load(std::memory_order_relaxed), 3600, 600, 86400, options_.negative_ttl,
             options_.negative_ttl);
  };
  if (before == 0) {
    if (q.qtype == kTypeSOA) {
      w.AddSoa(ResponseWriter::kAnswer, compat_apex_.view(), mname_.view(), rname_.view(),
               serial_.load(std::memory_order_relaxed), 3600, 600, 86400, options_.negative_ttl,
               options_.negative_ttl);
    } else {
      negative(kRcodeNoError);
    }
    return ZoneResult::kAnswered;
  }
  if (before > 2) {
    negative(kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  KeyBuffer key;
  key.Append(default_ns_label_);
  key.Append(kSep);
  key.Append(before == 2 ? l.label[1] : std::string_view(default_grp_label_));
  key.Append(kSep);
  key.Append("s:");
  key.Append(l.label[0]);
  const NameEntry* entry = Lookup(key.view());
  if (!entry && follower_ != nullptr) {
    // The service's first label as sent: the name with its case.
    const std::string_view name(reinterpret_cast<const char*>(q.qname.data + 1), q.qname.data[0]);
    const ZoneResult rules = MissRules(
        w,
        {default_ns_label_, before == 2 ? l.label[1] : std::string_view(default_grp_label_), name},
        may_wait, key.view(), entry);
    if (rules != ZoneResult::kNotOurs) return rules;
  }
  if (!entry || !entry->answers) {
    negative(entry ? kRcodeNoError : kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  if (!FreshnessAllows(w, *entry->answers)) return ZoneResult::kAnswered;
  if (!AnswerService(q, w, *entry->answers, {}, false)) negative(kRcodeNoError);
  return ZoneResult::kAnswered;
}

ZoneResult RegistryZone::Answer(const Query& q, ResponseWriter& w, bool may_wait) const {
  const WireName& name = q.qname_lower;
  const bool in_zone = name.size >= apex_.size &&
                       std::memcmp(name.data + name.size - apex_.size, apex_.data, apex_.size) == 0;
  LabelList l;
  SplitLabels(name, l);
  const int apex_labels = apex_.LabelCount();
  // The suffix must start at a label boundary.
  bool boundary = false;
  if (in_zone) {
    size_t off = 0;
    for (int i = 0; i < l.count - apex_labels; ++i) off += 1 + l.label[i].size();
    boundary = name.size - off == apex_.size;
  }
  if (!in_zone || !boundary) {
    if (compat_apex_.size > 0 && name.size >= compat_apex_.size &&
        std::memcmp(name.data + name.size - compat_apex_.size, compat_apex_.data,
                    compat_apex_.size) == 0) {
      const int before = l.count - compat_apex_.LabelCount();
      size_t off = 0;
      for (int i = 0; i < before; ++i) off += 1 + l.label[i].size();
      if (name.size - off == compat_apex_.size)
        return AnswerCompat(q, w, static_cast<size_t>(before), may_wait);
    }
    if (options_.bare_names && l.count > 0) {
      KeyBuffer key;
      key.Append(default_ns_label_);
      key.Append(kSep);
      key.Append(default_grp_label_);
      key.Append(kSep);
      key.Append("s:");
      if (!key.AppendLabels(l, 0, l.count)) return ZoneResult::kNotOurs;
      const auto entry = Lookup(key.view());
      if (entry && entry->answers) {
        // Not our zone: no SOA to offer, so a name without data is an empty NOERROR.
        w.SetRa(true);
        if (FreshnessAllows(w, *entry->answers)) AnswerService(q, w, *entry->answers, {}, false);
        return ZoneResult::kAnswered;
      }
    }
    return ZoneResult::kNotOurs;
  }

  w.SetAa(true);
  int idx = l.count - apex_labels - 1;  // rightmost label below the apex
  if (idx < 0) {
    AnswerApex(q, w);
    return ZoneResult::kAnswered;
  }
  if (idx == 0 && l.label[0] == "ns1") {
    if ((q.qtype == kTypeA && ns_rdlen_ == 4) || (q.qtype == kTypeAAAA && ns_rdlen_ == 16)) {
      w.AddQnameRecord(ResponseWriter::kAnswer, q.qtype, options_.ttl, ns_rdata_, ns_rdlen_);
    } else {
      Negative(w, kRcodeNoError);
    }
    return ZoneResult::kAnswered;
  }
  std::string_view ns = default_ns_label_, grp = default_grp_label_, cluster;
  bool explicit_ns = false, explicit_grp = false;
  if (idx >= 1 && l.label[idx] == "ns") {
    ns = l.label[idx - 1];
    explicit_ns = true;
    idx -= 2;
  }
  if (idx >= 1 && l.label[idx] == "grp") {
    grp = l.label[idx - 1];
    explicit_grp = true;
    idx -= 2;
  }
  if (idx >= 1 && l.label[idx] == "cl") {
    cluster = l.label[idx - 1];
    idx -= 2;
  }
  KeyBuffer key;
  key.Append(ns);
  key.Append(kSep);
  const std::string_view namespace_key = key.view();  // stays valid: the buffer is fixed
  // A follower learns namespaces and groups with their services: a missing one is a miss
  // of the service below (decided by the follower), not an NXDOMAIN of its own.
  if (explicit_ns && follower_ == nullptr && !HasEntry(namespace_key)) {
    Negative(w, kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  key.Append(grp);
  key.Append(kSep);
  if (explicit_grp && follower_ == nullptr && !HasEntry(key.view())) {
    Negative(w, kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  if (idx < 0) {  // e.g. public.ns.<zone>: an empty non-terminal
    Negative(w, (explicit_ns || explicit_grp || !cluster.empty()) ? kRcodeNoError : kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  const std::string_view type = l.label[idx];
  if (type == "addr") {
    if (explicit_ns || explicit_grp || !cluster.empty() || idx > 1) {
      Negative(w, kRcodeNxDomain);
    } else if (idx == 0) {
      Negative(w, kRcodeNoError);
    } else {
      AnswerAddr(q, w, l.label[0]);
    }
    return ZoneResult::kAnswered;
  }
  if (idx == 0 && cluster.empty() && (type == "cl" || type == "grp" || type == "ns")) {
    // A marker label with nothing to its left: the parent of every `<value>.<marker>` name
    // below (RFC 8020: an empty non-terminal, not NXDOMAIN, while one of those exists).
    // Cluster names answer for any value, so `cl` always has some.
    bool has_children = type == "cl";
    if (type == "grp" && !explicit_grp) {
      has_children = explicit_ns || HasEntry(namespace_key);  // an explicit one was checked
    } else if (type == "ns" && !explicit_ns && !explicit_grp) {
      has_children = services_named_.load(std::memory_order_relaxed) > 0;
    }
    Negative(w, has_children ? kRcodeNoError : kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  if (type != "svc" && type != "enc") {
    Negative(w, kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  if (idx == 0) {  // svc.<zone>, enc.<zone>
    Negative(w, kRcodeNoError);
    return ZoneResult::kAnswered;
  }
  int first = 0;
  bool srv_owner = false;
  key.Append(type == "svc" ? "s:" : "e:");
  if (idx == 2 && l.label[0].size() > 1 && l.label[0][0] == '_' &&
      (l.label[1] == "_tcp" || l.label[1] == "_udp")) {
    // RFC 2782 style: _<service>._tcp.svc.<zone>
    std::string_view service = l.label[0].substr(1);
    const size_t key_prefix = key.size;
    key.Append(service);
    if (const auto entry = Lookup(key.view()); entry && entry->answers) {
      AnswerHit(q, w, *entry->answers, cluster, /*srv_owner=*/true);
      return ZoneResult::kAnswered;
    }
    if (follower_ != nullptr) {
      const std::string_view name(reinterpret_cast<const char*>(q.qname.data + 2),
                                  q.qname.data[0] - 1u);
      const NameEntry* late = nullptr;
      const ZoneResult rules = MissRules(w, {ns, grp, name}, may_wait, key.view(), late);
      if (rules != ZoneResult::kNotOurs) return rules;
      if (late != nullptr) {
        AnswerHit(q, w, *late->answers, cluster, /*srv_owner=*/true);
        return ZoneResult::kAnswered;
      }
    }
    key.size = key_prefix;
  }
  if (idx >= 3 && l.label[0][0] == '_' && l.label[1][0] == '_') {
    first = 2;
    srv_owner = true;
  }
  for (int i = first; i < idx; ++i) {
    if (!l.label[i].empty() && l.label[i][0] == '_') {
      Negative(w, kRcodeNxDomain);
      return ZoneResult::kAnswered;
    }
  }
  // The service name a miss names: the exact name of an .enc name, or the labels as sent.
  char raw[kMaxName];
  size_t raw_size = 0;
  if (type == "enc" && !(idx - first == 1 && l.label[first].substr(0, 2) == "h-")) {
    // Decode the base32hex labels to the Nacos name; when the service has a usable natural
    // name, that entry answers (after checking it is this very service).
    uint32_t buffer = 0;
    int bits = 0;
    for (int i = first; i < idx; ++i) {
      for (char c : l.label[i]) {
        const int v = Base32HexValue(c);
        if (v < 0) {
          Negative(w, kRcodeNxDomain);
          return ZoneResult::kAnswered;
        }
        buffer = (buffer << 5) | static_cast<uint32_t>(v);
        bits += 5;
        if (bits >= 8) {
          if (raw_size == sizeof(raw)) {
            Negative(w, kRcodeNxDomain);
            return ZoneResult::kAnswered;
          }
          raw[raw_size++] = static_cast<char>((buffer >> (bits - 8)) & 0xFF);
          bits -= 8;
        }
      }
    }
    const std::string_view name(raw, raw_size);
    const size_t key_prefix = key.size - 2;  // before "e:"
    char natural[kMaxName];
    size_t natural_size = 0;
    if (NaturalFormInto(name, natural, sizeof(natural), natural_size)) {
      key.size = key_prefix;
      key.Append("s:");
      key.Append(std::string_view(natural, natural_size));
      if (const auto entry = Lookup(key.view());
          entry && entry->answers && entry->answers->service_name == name) {
        AnswerHit(q, w, *entry->answers, cluster, srv_owner);
        return ZoneResult::kAnswered;
      }
      key.size = key_prefix;
      key.Append("e:");
    }
  }
  if (!key.AppendLabels(l, first, idx)) {
    Negative(w, kRcodeNxDomain);
    return ZoneResult::kAnswered;
  }
  const NameEntry* entry = Lookup(key.view());
  if (!entry) {
    const NameEntry* late = nullptr;
    if (follower_ != nullptr) {
      // An .enc name left `raw` decoded; an h-<hash> one left it empty (only data can say
      // what it names) and the follower hears an empty name.
      if (type != "enc") {
        LabelList original;  // the labels with the case they were sent in
        SplitLabels(q.qname, original);
        for (int i = first; i < idx; ++i) {
          if (raw_size + original.label[i].size() + 1 > sizeof(raw)) break;
          if (i > first) raw[raw_size++] = '.';
          std::memcpy(raw + raw_size, original.label[i].data(), original.label[i].size());
          raw_size += original.label[i].size();
        }
      }
      const ZoneResult rules =
          MissRules(w, {ns, grp, std::string_view(raw, raw_size)}, may_wait, key.view(), late);
      if (rules != ZoneResult::kNotOurs) return rules;
    }
    if (late != nullptr) {
      AnswerHit(q, w, *late->answers, cluster, srv_owner);
    } else {
      Negative(w, kRcodeNxDomain);
    }
  } else if (!entry->answers) {
    Negative(w, kRcodeNoError);  // an empty non-terminal of a dotted service name
  } else {
    AnswerHit(q, w, *entry->answers, cluster, srv_owner);
  }
  return ZoneResult::kAnswered;
}

}  // namespace dnsd::dns
