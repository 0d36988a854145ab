#include "dnsd/static_zones.h"

#include <ldns/ldns.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "common/strings.h"

namespace dnsd::dns {
namespace {

std::string LowerWire(const ldns_rdf* dname) {
  std::string out(reinterpret_cast<const char*>(ldns_rdf_data(dname)), ldns_rdf_size(dname));
  for (size_t i = 0; i < out.size();) {
    const auto len = static_cast<uint8_t>(out[i]);
    for (size_t k = 1; k <= len && i + k < out.size(); ++k) {
      char& c = out[i + k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    i += 1 + len;
    if (len == 0) break;
  }
  return out;
}

bool EndsWithName(std::string_view name, std::string_view suffix) {
  if (name.size() < suffix.size() || name.substr(name.size() - suffix.size()) != suffix)
    return false;
  // The suffix must start on a label boundary of `name`.
  for (size_t i = 0; i < name.size(); i += 1 + static_cast<uint8_t>(name[i])) {
    if (name.size() - i == suffix.size()) return true;
    if (name[i] == 0) break;
  }
  return false;
}

std::string_view Parent(std::string_view name) {
  if (name.empty() || name[0] == 0) return name;
  return name.substr(1 + static_cast<uint8_t>(name[0]));
}

}  // namespace

std::vector<std::string> ZoneFilesIn(const std::string& path) {
  std::vector<std::string> files;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
      if (entry.is_regular_file() && entry.path().extension() == ".zone")
        files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  } else if (std::filesystem::exists(path, ec)) {
    files.push_back(path);
  }
  return files;
}

absl::StatusOr<std::shared_ptr<const StaticZone>> LoadZoneFile(const std::string& path) {
  FILE* fp = std::fopen(path.c_str(), "r");
  if (fp == nullptr) return absl::NotFoundError(common::StrCat(path, ": cannot open"));
  ldns_zone* parsed = nullptr;
  int line = 0;
  const ldns_status status =
      ldns_zone_new_frm_fp_l(&parsed, fp, nullptr, 3600, LDNS_RR_CLASS_IN, &line);
  std::fclose(fp);
  if (status != LDNS_STATUS_OK) {
    return absl::InvalidArgumentError(
        common::StrCat(path, ":", line, ": ", ldns_get_errorstr_by_id(status)));
  }
  std::unique_ptr<ldns_zone, decltype(&ldns_zone_deep_free)> zone(parsed, &ldns_zone_deep_free);
  const ldns_rr* soa = ldns_zone_soa(zone.get());
  if (soa == nullptr)
    return absl::InvalidArgumentError(common::StrCat(path, ": the zone has no SOA record"));

  auto out = std::make_shared<StaticZone>();
  out->file = path;
  out->apex = LowerWire(ldns_rr_owner(soa));
  auto add = [&](const ldns_rr* rr) -> absl::Status {
    const std::string owner = LowerWire(ldns_rr_owner(rr));
    if (!EndsWithName(owner, out->apex)) {
      return absl::InvalidArgumentError(common::StrCat(
          path, ": record ", NameToText(owner), " is outside the zone ", NameToText(out->apex)));
    }
    ldns_buffer* buf = ldns_buffer_new(512);
    ldns_rr_rdata2buffer_wire(buf, rr);
    RRset& set = out->names[owner][static_cast<uint16_t>(ldns_rr_get_type(rr))];
    set.ttl = ldns_rr_ttl(rr);  // RFC 2181 §5.2: one TTL per RRset; the last one wins
    set.rdatas.emplace_back(reinterpret_cast<const char*>(ldns_buffer_begin(buf)),
                            ldns_buffer_position(buf));
    ldns_buffer_free(buf);
    for (std::string_view p = Parent(owner); p.size() > out->apex.size(); p = Parent(p)) {
      out->empty_non_terminals.insert(std::string(p));
    }
    return absl::OkStatus();
  };
  if (auto s = add(soa); !s.ok()) return s;
  const ldns_rr_list* rrs = ldns_zone_rrs(zone.get());
  for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); ++i) {
    if (auto s = add(ldns_rr_list_rr(rrs, i)); !s.ok()) return s;
  }
  out->soa = &out->names[out->apex][kTypeSOA];
  return std::shared_ptr<const StaticZone>(std::move(out));
}

StaticZones::StaticZones() { zones_.store(std::make_shared<const ZoneSet>()); }

std::vector<std::string> StaticZones::Reload(const std::vector<std::string>& files) {
  std::vector<std::string> errors;
  const auto previous = zones_.load();
  auto next = std::make_shared<ZoneSet>();
  for (const auto& file : files) {
    auto zone = LoadZoneFile(file);
    if (zone.ok()) {
      next->zones.push_back(*zone);
      continue;
    }
    errors.emplace_back(zone.status().message());
    for (const auto& old : previous->zones) {
      if (old->file == file) next->zones.push_back(old);
    }
  }
  std::sort(next->zones.begin(), next->zones.end(),
            [](const auto& a, const auto& b) { return a->apex.size() > b->apex.size(); });
  zones_.store(std::move(next));
  return errors;
}

std::vector<ZoneSummary> StaticZones::Summaries() const {
  std::vector<ZoneSummary> out;
  for (const auto& zone : zones_.load()->zones) {
    ZoneSummary s;
    s.zone = NameToText(zone->apex);
    s.file = zone->file;
    s.names = zone->names.size();
    for (const auto& [owner, types] : zone->names) {
      for (const auto& [type, rrset] : types) s.records += rrset.rdatas.size();
    }
    // SOA RDATA: MNAME and RNAME (uncompressed), then the 32-bit serial.
    if (zone->soa != nullptr && !zone->soa->rdatas.empty()) {
      const std::string& rdata = zone->soa->rdatas.front();
      size_t at = 0;
      for (int name = 0; name < 2; ++name) {
        while (at < rdata.size() && rdata[at] != 0) at += static_cast<uint8_t>(rdata[at]) + 1u;
        ++at;
      }
      if (at + 4 <= rdata.size()) {
        for (int i = 0; i < 4; ++i)
          s.serial = (s.serial << 8) | static_cast<uint8_t>(rdata[at + i]);
      }
    }
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.zone < b.zone; });
  return out;
}

bool StaticZones::Answer(const Query& q, ResponseWriter& w) const {
  const auto set = zones_.load();
  const std::string_view qname = q.qname_lower.view();
  auto zone_of = [&](std::string_view name) -> const StaticZone* {
    for (const auto& z : set->zones) {
      if (EndsWithName(name, z->apex)) return z.get();
    }
    return nullptr;
  };
  const StaticZone* zone = zone_of(qname);
  if (zone == nullptr) return false;
  w.SetAa(true);
  auto negative_in = [&](const StaticZone* zone, uint8_t rcode) {
    w.SetRcode(rcode);
    if (zone->soa && !zone->soa->rdatas.empty()) {
      const std::string& soa = zone->soa->rdatas[0];
      // Negative TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §5).
      const uint32_t minimum =
          soa.size() >= 4 ? Read32(reinterpret_cast<const uint8_t*>(soa.data()) + soa.size() - 4)
                          : 0;
      w.AddRecord(ResponseWriter::kAuthority, zone->apex, kTypeSOA,
                  std::min(zone->soa->ttl, minimum), reinterpret_cast<const uint8_t*>(soa.data()),
                  static_cast<uint16_t>(soa.size()));
    }
  };
  auto negative = [&](uint8_t rcode) { negative_in(zone, rcode); };
  auto write_set = [&](uint16_t type, const RRset& set) {
    const size_t mark = w.Mark();
    const uint16_t before = w.count(ResponseWriter::kAnswer);
    for (const auto& rdata : set.rdatas) {
      if (!w.AddQnameRecord(ResponseWriter::kAnswer, type, set.ttl,
                            reinterpret_cast<const uint8_t*>(rdata.data()),
                            static_cast<uint16_t>(rdata.size()))) {
        w.Rollback(mark, ResponseWriter::kAnswer, before);
        w.SetTc();
        return;
      }
    }
  };
  // RFC 1034 §4.3.2: a CNAME's target is looked up too when it lies in a zone we serve, its
  // records added after the CNAME (a chain, up to 8 links); the rcode is the last name's
  // (RFC 6604). A target elsewhere is left to the resolver.
  auto follow = [&](const RRset& first) {
    const RRset* cname = &first;
    for (int hop = 0; hop < 8 && !cname->rdatas.empty(); ++hop) {
      const std::string& target = cname->rdatas[0];  // uncompressed wire, as written
      std::string lower = target;
      for (size_t i = 0; i < lower.size() && lower[i] != 0;
           i += static_cast<uint8_t>(lower[i]) + 1) {
        for (size_t j = i + 1; j <= i + static_cast<uint8_t>(lower[i]) && j < lower.size(); ++j) {
          lower[j] = static_cast<char>(std::tolower(static_cast<unsigned char>(lower[j])));
        }
      }
      const StaticZone* target_zone = zone_of(lower);
      if (target_zone == nullptr) return;
      auto node = target_zone->names.find(lower);
      if (node == target_zone->names.end()) {
        negative_in(target_zone, target_zone->empty_non_terminals.contains(lower) ? kRcodeNoError
                                                                                  : kRcodeNxDomain);
        return;
      }
      auto write_at = [&](uint16_t type, const RRset& records) {
        for (const auto& rdata : records.rdatas) {
          if (!w.AddRecord(ResponseWriter::kAnswer, target, type, records.ttl,
                           reinterpret_cast<const uint8_t*>(rdata.data()),
                           static_cast<uint16_t>(rdata.size()))) {
            w.SetTc();
            return false;
          }
        }
        return true;
      };
      if (auto it = node->second.find(q.qtype); it != node->second.end()) {
        write_at(q.qtype, it->second);
        return;
      }
      auto next = node->second.find(kTypeCNAME);
      if (next == node->second.end()) {
        negative_in(target_zone, kRcodeNoError);
        return;
      }
      if (!write_at(kTypeCNAME, next->second)) return;
      cname = &next->second;
    }
  };
  auto answer_node = [&](const std::map<uint16_t, RRset>& node) {
    if (q.qtype == kTypeANY) {
      // RFC 8482: one RRset is enough.
      const auto& [type, set] = *node.begin();
      write_set(type, set);
      return;
    }
    if (auto it = node.find(q.qtype); it != node.end()) return write_set(q.qtype, it->second);
    if (auto it = node.find(kTypeCNAME); it != node.end()) {
      write_set(kTypeCNAME, it->second);
      return follow(it->second);
    }
    negative(kRcodeNoError);
  };
  if (auto node = zone->names.find(std::string(qname)); node != zone->names.end()) {
    answer_node(node->second);
    return true;
  }
  if (zone->empty_non_terminals.contains(std::string(qname))) {
    negative(kRcodeNoError);
    return true;
  }
  // Wildcard at the closest encloser (RFC 4592).
  for (std::string_view p = Parent(qname); p.size() >= zone->apex.size(); p = Parent(p)) {
    const std::string encloser(p);
    if (zone->names.contains(encloser) || zone->empty_non_terminals.contains(encloser)) {
      std::string wildcard = "\x01*" + encloser;
      if (auto node = zone->names.find(wildcard); node != zone->names.end()) {
        answer_node(node->second);
        return true;
      }
      break;
    }
    if (p.size() == zone->apex.size()) break;
  }
  negative(kRcodeNxDomain);
  return true;
}

}  // namespace dnsd::dns
