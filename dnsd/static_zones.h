// StaticZones serves zone files (RFC 1035 master format, parsed by ldns) authoritatively:
// exact matches, CNAME at the name, wildcards, NODATA for empty non-terminals, NXDOMAIN and
// NODATA with the zone's SOA. Zones are parsed at start and on Reload() (SIGHUP); a file that
// fails to parse is reported with its file name and line and the zones already loaded keep
// serving, including the previous version of that file.
//
// Readers (DNS workers) load an immutable ZoneSet snapshot without locks; Reload runs on one
// thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "dnsd/dns_wire.h"

namespace dnsd::dns {

struct RRset {
  uint32_t ttl = 0;
  std::vector<std::string> rdatas;  // uncompressed wire RDATA
};

struct StaticZone {
  std::string file;
  std::string apex;  // lowercase wire name
  std::map<std::string, std::map<uint16_t, RRset>>
      names;  // owner (lowercase wire) -> type -> RRset
  std::set<std::string> empty_non_terminals;
  const RRset* soa = nullptr;
};

struct ZoneSet {
  std::vector<std::shared_ptr<const StaticZone>> zones;  // longest apex first
};

// Parses one zone file; the error names the file and line.
absl::StatusOr<std::shared_ptr<const StaticZone>> LoadZoneFile(const std::string& path);

// What an operator sees of a loaded zone (the console's DNS page).
struct ZoneSummary {
  std::string zone;  // text, with the final dot
  std::string file;
  size_t names = 0;
  size_t records = 0;
  uint32_t serial = 0;
};

class StaticZones {
 public:
  StaticZones();
  // Parses every file; returns one error line per file that failed (those keep their previous
  // version if there was one). Thread-compatible: one Reload at a time.
  std::vector<std::string> Reload(const std::vector<std::string>& files);
  // Writes the answer if the question is in one of the zones; false if it is not.
  bool Answer(const Query& q, ResponseWriter& w) const;
  size_t zone_count() const { return zones_.load()->zones.size(); }
  // The zones serving now, by name.
  std::vector<ZoneSummary> Summaries() const;

 private:
  std::atomic<std::shared_ptr<const ZoneSet>> zones_;
};

// Expands a directory into its *.zone files (sorted); a plain file is returned as is.
std::vector<std::string> ZoneFilesIn(const std::string& path);

}  // namespace dnsd::dns
