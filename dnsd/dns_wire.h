// DNS wire format for the hot path: decoding a query (header, question, EDNS OPT) and
// writing a response into caller-provided memory. Nothing here allocates; names are kept in
// fixed 255-byte buffers. RFC 1035 (format, compression), RFC 6891 (EDNS), RFC 8914 (EDE).
//
// Thread-safety: plain values and functions; a ResponseWriter belongs to one query.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace dnsd::dns {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNS = 2;
inline constexpr uint16_t kTypeCNAME = 5;
inline constexpr uint16_t kTypeSOA = 6;
inline constexpr uint16_t kTypeHINFO = 13;
inline constexpr uint16_t kTypeTXT = 16;
inline constexpr uint16_t kTypeAAAA = 28;
inline constexpr uint16_t kTypeSRV = 33;
inline constexpr uint16_t kTypeOPT = 41;
inline constexpr uint16_t kTypeAXFR = 252;
inline constexpr uint16_t kTypeANY = 255;
inline constexpr uint16_t kClassIN = 1;

inline constexpr uint8_t kRcodeNoError = 0;
inline constexpr uint8_t kRcodeFormErr = 1;
inline constexpr uint8_t kRcodeServFail = 2;
inline constexpr uint8_t kRcodeNxDomain = 3;
inline constexpr uint8_t kRcodeNotImp = 4;
inline constexpr uint8_t kRcodeRefused = 5;
inline constexpr uint16_t kRcodeBadVers = 16;  // extended: upper 8 bits go in the OPT TTL

inline constexpr uint16_t kEdeStaleAnswer = 3;
inline constexpr uint16_t kEdeNotReady = 14;
inline constexpr uint16_t kEdeNoReachableAuthority = 22;

inline constexpr size_t kMaxName = 255;
inline constexpr size_t kHeaderSize = 12;
inline constexpr uint16_t kOurUdpSize = 1232;  // DNS Flag Day 2020

// A domain name in uncompressed wire form (length-prefixed labels ending in the root label).
struct WireName {
  uint8_t data[kMaxName];
  uint8_t size = 0;

  std::string_view view() const { return {reinterpret_cast<const char*>(data), size}; }
  // Number of labels, not counting the root.
  int LabelCount() const;
};

// Parses "a.b.c." / "a.b.c" text into wire form; false on an invalid name.
bool NameFromText(std::string_view text, WireName& out);
std::string NameToText(std::string_view wire);
void ToLowerName(const WireName& in, WireName& out);

struct EdnsInfo {
  bool present = false;
  uint16_t udp_size = 512;
  uint8_t version = 0;
  bool do_bit = false;
  // COOKIE option (RFC 7873): the client cookie, and a server cookie when one came back.
  bool has_cookie = false;
  uint8_t cookie[40];  // client cookie (8) then server cookie (8-32)
  uint8_t server_cookie_size = 0;
};

inline constexpr uint16_t kOptionCookie = 10;

struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // second header word as received
  uint8_t opcode = 0;
  bool rd = false;
  bool cd = false;
  uint16_t qdcount = 0;
  WireName qname;        // exactly as sent (case preserved)
  WireName qname_lower;  // for matching
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  EdnsInfo edns;
  // Set by the server before answering a query with a client cookie: the cookie the answer
  // carries (client cookie + our server cookie), and whether the query's server cookie was ours.
  bool cookie_out = false;
  uint8_t cookie_reply[24];
  bool cookie_valid = false;
};

enum class ParseStatus {
  kOk,
  kDrop,         // too short to answer, or a response: send nothing
  kFormErr,      // answer FORMERR (the header is usable)
  kFormErrEdns,  // malformed OPT: FORMERR with an OPT
  kNotImp,       // unknown opcode
};

// Decodes a query. On kFormErr/kNotImp the header fields of `out` are valid, and the question
// too if `has_question` is set.
ParseStatus ParseQuery(const uint8_t* packet, size_t size, Query& out, bool& has_question);

// Builds a response in caller memory. Sections must be written in order (answer, authority,
// additional). Writes past `limit` fail (return false) and leave the message as it was before
// the failed record, so callers can stop at a record boundary and set TC.
class ResponseWriter {
 public:
  ResponseWriter(uint8_t* buf, size_t capacity) : buf_(buf), cap_(capacity) {}

  // Header + echoed question. `limit` is the largest response allowed (UDP size or 65535);
  // `opt_reserve` bytes are kept free for the OPT record written by Finish.
  void Begin(const Query& q, bool has_question, size_t limit, size_t opt_reserve);
  void SetRcode(uint16_t rcode) { rcode_ = rcode; }
  void SetAa(bool aa) { aa_ = aa; }
  void SetRa(bool ra) { ra_ = ra; }
  void SetTc() { tc_ = true; }
  // An Extended DNS Error (RFC 8914) for Finish to add when the caller names none; the OPT
  // must have been reserved with OptSize(true).
  void SetEde(uint16_t code) { ede_ = code; }
  // Finish lowers every TTL in the message to at most `ttl` (stale answers, RFC 8767).
  void CapTtl(uint32_t ttl) { ttl_cap_ = ttl; }

  enum Section { kAnswer, kAuthority, kAdditional };
  // A record whose owner is the question name (compressed to offset 12).
  bool AddQnameRecord(Section s, uint16_t type, uint32_t ttl, const uint8_t* rdata, uint16_t rdlen);
  // Pre-encoded records (owner pointer 0xC00C included) copied as is.
  bool AddRaw(Section s, const uint8_t* rr, size_t len, uint16_t count);
  // A record with an arbitrary owner; the owner is compressed against the question name.
  bool AddRecord(Section s, std::string_view owner_wire, uint16_t type, uint32_t ttl,
                 const uint8_t* rdata, uint16_t rdlen);
  // SOA whose names are compressed against the question; returns false if it did not fit.
  bool AddSoa(Section s, std::string_view apex_wire, std::string_view mname_wire,
              std::string_view rname_wire, uint32_t serial, uint32_t refresh, uint32_t retry,
              uint32_t expire, uint32_t minimum, uint32_t ttl);
  // Writes a name compressed against the question name; false if it does not fit.
  bool WriteName(std::string_view wire);
  // Current end of the message and rollback to it (for all-or-nothing RRsets).
  size_t Mark() const { return pos_; }
  void Rollback(size_t mark, Section s, uint16_t count);

  // Finishes the header and the OPT (when the query had EDNS). `ede_code` adds an Extended
  // DNS Error option when non-zero. Returns the message size.
  size_t Finish(const Query& q, bool edns, uint16_t ede_code = 0);

  size_t size() const { return pos_; }
  uint8_t* data() { return buf_; }
  uint16_t count(Section s) const { return counts_[s]; }

 private:
  bool Room(size_t n) const { return pos_ + n + opt_reserve_ <= limit_; }
  void Put16(uint16_t v) {
    buf_[pos_++] = static_cast<uint8_t>(v >> 8);
    buf_[pos_++] = static_cast<uint8_t>(v);
  }
  void Put32(uint32_t v) {
    Put16(static_cast<uint16_t>(v >> 16));
    Put16(static_cast<uint16_t>(v));
  }
  bool SectionOk(Section s) const { return s >= section_; }
  // Type, class IN, TTL, RDLENGTH and RDATA after an owner already written; counts the record.
  void PutRecordBody(Section s, uint16_t type, uint32_t ttl, const uint8_t* rdata, uint16_t rdlen);

  uint8_t* buf_;
  size_t cap_;
  size_t limit_ = 0;
  size_t opt_reserve_ = 0;
  size_t pos_ = 0;
  const uint8_t* qname_ = nullptr;  // the echoed question name inside buf_
  uint8_t qname_size_ = 0;
  uint16_t counts_[3] = {0, 0, 0};
  Section section_ = kAnswer;
  uint16_t rcode_ = 0;
  uint16_t ede_ = 0;
  uint32_t ttl_cap_ = UINT32_MAX;
  bool aa_ = false, ra_ = false, tc_ = false;
  void ApplyTtlCap();
};

// Size of the OPT record Finish() writes (with an EDE option when `with_ede`).
inline constexpr size_t OptSize(bool with_ede) { return 11 + (with_ede ? 6 : 0); }

inline uint16_t Read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Read32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
inline void Write16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void Write32(uint8_t* p, uint32_t v) {
  Write16(p, static_cast<uint16_t>(v >> 16));
  Write16(p + 2, static_cast<uint16_t>(v));
}

// A query id from getrandom() (RFC 5452: unpredictable ids for the queries we send).
uint16_t RandomQueryId();

// Skips a possibly compressed name at `pos`; returns the offset after it or 0 on error.
size_t SkipName(const uint8_t* msg, size_t size, size_t pos);

}  // namespace dnsd::dns
