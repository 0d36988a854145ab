#include "dnsd/dns_wire.h"

#include <sys/random.h>

#include <algorithm>
#include <chrono>

namespace dnsd::dns {
namespace {

inline uint8_t Lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c + 32) : c; }

// Reads an uncompressed name; false on pointers, bad lengths or overflow.
bool ReadPlainName(const uint8_t* msg, size_t size, size_t& pos, WireName& out) {
  out.size = 0;
  for (;;) {
    if (pos >= size) return false;
    const uint8_t len = msg[pos];
    if (len & 0xC0) return false;  // pointers and extended label types are not valid here
    if (pos + 1 + len > size || out.size + 1u + len > kMaxName) return false;
    std::memcpy(out.data + out.size, msg + pos, 1 + len);
    out.size = static_cast<uint8_t>(out.size + 1 + len);
    pos += 1 + len;
    if (len == 0) return true;
  }
}

// Skips one resource record; returns the offset of its RDATA and sets type/rdlen, or 0.
size_t SkipRecordHeader(const uint8_t* msg, size_t size, size_t pos, uint16_t& type,
                        uint16_t& rclass, uint32_t& ttl, uint16_t& rdlen, size_t& owner_pos) {
  owner_pos = pos;
  pos = SkipName(msg, size, pos);
  if (pos == 0 || pos + 10 > size) return 0;
  type = Read16(msg + pos);
  rclass = Read16(msg + pos + 2);
  ttl = Read32(msg + pos + 4);
  rdlen = Read16(msg + pos + 8);
  pos += 10;
  if (pos + rdlen > size) return 0;
  return pos;
}

}  // namespace

int WireName::LabelCount() const {
  int n = 0;
  for (size_t i = 0; i < size && data[i] != 0; i += 1 + data[i]) ++n;
  return n;
}

bool NameFromText(std::string_view text, WireName& out) {
  out.size = 0;
  if (text == "." || text.empty()) {
    out.data[0] = 0;
    out.size = 1;
    return true;
  }
  if (text.back() == '.') text.remove_suffix(1);
  size_t start = 0;
  while (start <= text.size()) {
    size_t dot = text.find('.', start);
    if (dot == std::string_view::npos) dot = text.size();
    const size_t len = dot - start;
    if (len == 0 || len > 63 || out.size + 1 + len + 1 > kMaxName) return false;
    out.data[out.size++] = static_cast<uint8_t>(len);
    std::memcpy(out.data + out.size, text.data() + start, len);
    out.size = static_cast<uint8_t>(out.size + len);
    start = dot + 1;
    if (dot == text.size()) break;
  }
  out.data[out.size++] = 0;
  return true;
}

std::string NameToText(std::string_view wire) {
  std::string out;
  size_t i = 0;
  while (i < wire.size()) {
    const uint8_t len = static_cast<uint8_t>(wire[i]);
    if (len == 0) break;
    out.append(wire.substr(i + 1, len));
    out.push_back('.');
    i += 1 + len;
  }
  return out.empty() ? "." : out;
}

void ToLowerName(const WireName& in, WireName& out) {
  out.size = in.size;
  size_t i = 0;
  while (i < in.size) {
    const uint8_t len = in.data[i];
    out.data[i] = len;
    for (size_t k = 1; k <= len; ++k) out.data[i + k] = Lower(in.data[i + k]);
    i += 1 + len;
    if (len == 0) break;
  }
}

size_t SkipName(const uint8_t* msg, size_t size, size_t pos) {
  for (int hops = 0; hops < 128; ++hops) {
    if (pos >= size) return 0;
    const uint8_t len = msg[pos];
    if ((len & 0xC0) == 0xC0) return pos + 2 <= size ? pos + 2 : 0;
    if (len & 0xC0) return 0;
    if (len == 0) return pos + 1;
    pos += 1 + len;
  }
  return 0;
}

ParseStatus ParseQuery(const uint8_t* p, size_t size, Query& q, bool& has_question) {
  has_question = false;
  if (size < kHeaderSize) return ParseStatus::kDrop;
  q.id = Read16(p);
  q.flags = Read16(p + 2);
  if (q.flags & 0x8000) return ParseStatus::kDrop;  // a response, not a query
  q.opcode = static_cast<uint8_t>((q.flags >> 11) & 0xF);
  q.rd = q.flags & 0x0100;
  q.cd = q.flags & 0x0010;
  q.qdcount = Read16(p + 4);
  const uint16_t ancount = Read16(p + 6);
  const uint16_t nscount = Read16(p + 8);
  const uint16_t arcount = Read16(p + 10);
  q.edns = EdnsInfo{};

  size_t pos = kHeaderSize;
  if (q.qdcount == 1) {
    if (!ReadPlainName(p, size, pos, q.qname) || pos + 4 > size) return ParseStatus::kFormErr;
    q.qtype = Read16(p + pos);
    q.qclass = Read16(p + pos + 2);
    pos += 4;
    ToLowerName(q.qname, q.qname_lower);
    has_question = true;
  }
  if (q.opcode != 0) return ParseStatus::kNotImp;
  if (q.qdcount != 1) return ParseStatus::kFormErr;

  uint16_t type, rclass, rdlen;
  uint32_t ttl;
  size_t owner;
  for (uint32_t i = 0; i < static_cast<uint32_t>(ancount) + nscount; ++i) {
    const size_t rdata = SkipRecordHeader(p, size, pos, type, rclass, ttl, rdlen, owner);
    if (rdata == 0) return ParseStatus::kFormErr;
    pos = rdata + rdlen;
  }
  for (uint16_t i = 0; i < arcount; ++i) {
    const size_t rdata = SkipRecordHeader(p, size, pos, type, rclass, ttl, rdlen, owner);
    if (rdata == 0) return ParseStatus::kFormErr;
    pos = rdata + rdlen;
    if (type != kTypeOPT) continue;
    if (q.edns.present) return ParseStatus::kFormErr;  // more than one OPT (RFC 6891 §6.1.1)
    q.edns.present = true;
    q.edns.udp_size = std::max<uint16_t>(rclass, 512);
    q.edns.version = static_cast<uint8_t>(ttl >> 16);
    q.edns.do_bit = ttl & 0x8000;
    if (p[owner] != 0) return ParseStatus::kFormErrEdns;  // OPT owner must be the root
    for (size_t o = rdata; o < rdata + rdlen;) {          // options must tile the RDATA
      if (o + 4 > rdata + rdlen) return ParseStatus::kFormErrEdns;
      const uint16_t opt_code = Read16(p + o);
      const uint16_t opt_len = Read16(p + o + 2);
      if (o + 4 + opt_len > rdata + rdlen) return ParseStatus::kFormErrEdns;
      if (opt_code == kOptionCookie) {
        // A client cookie alone (8), or with a server cookie of 8 to 32 bytes (RFC 7873 §4);
        // anything else, or a second COOKIE, is malformed (§5.2.2: FORMERR).
        if (q.edns.has_cookie || (opt_len != 8 && (opt_len < 16 || opt_len > 40))) {
          return ParseStatus::kFormErrEdns;
        }
        q.edns.has_cookie = true;
        std::memcpy(q.edns.cookie, p + o + 4, opt_len);
        q.edns.server_cookie_size = static_cast<uint8_t>(opt_len - 8);
      }
      o += 4 + opt_len;
    }
  }
  return ParseStatus::kOk;
}

void ResponseWriter::Begin(const Query& q, bool has_question, size_t limit, size_t opt_reserve) {
  limit_ = std::min(limit, cap_);
  // Room for the COOKIE option too, when the OPT carries one.
  opt_reserve_ = opt_reserve + (opt_reserve > 0 && q.cookie_out ? 4 + sizeof(q.cookie_reply) : 0);
  std::memset(buf_, 0, kHeaderSize);
  Write16(buf_, q.id);
  pos_ = kHeaderSize;
  counts_[0] = counts_[1] = counts_[2] = 0;
  section_ = kAnswer;
  ede_ = 0;
  ttl_cap_ = UINT32_MAX;
  qname_ = nullptr;
  qname_size_ = 0;
  if (has_question) {
    qname_ = buf_ + pos_;
    qname_size_ = q.qname.size;
    if (pos_ + kMaxName + 1 <= cap_) {
      // Whole 16-byte blocks (the source array is kMaxName long, the destination has room):
      // a copy of known size per block beats a variable-length memcpy, which the compiler
      // turns into `rep movs` with its start-up cost, for the 20-60 byte names of most queries.
      size_t i = 0;
      for (; i < qname_size_ && i + 16 <= kMaxName; i += 16) {
        std::memcpy(buf_ + pos_ + i, q.qname.data + i, 16);
      }
      if (i < qname_size_) {
        std::memcpy(buf_ + pos_ + qname_size_ - 16, q.qname.data + qname_size_ - 16, 16);
      }
    } else {
      std::memcpy(buf_ + pos_, q.qname.data, q.qname.size);
    }
    pos_ += q.qname.size;
    Put16(q.qtype);
    Put16(q.qclass);
    Write16(buf_ + 4, 1);
  }
}

bool ResponseWriter::WriteName(std::string_view wire) {
  const auto* name = reinterpret_cast<const uint8_t*>(wire.data());
  const size_t size = wire.size();
  if (!Room(size)) return false;
  // Find the longest suffix of `name` (at a label boundary, not just the root) that equals
  // a suffix of the echoed question name, and point at it.
  if (qname_ != nullptr) {
    for (size_t off = 0; off < size && name[off] != 0; off += 1 + name[off]) {
      const size_t suffix_len = size - off;
      if (suffix_len > qname_size_) continue;
      // The question's label boundaries: walk them to find one at the same distance from the end.
      size_t qoff = 0;
      while (qoff < qname_size_ && qname_size_ - qoff > suffix_len) qoff += 1 + qname_[qoff];
      if (qname_size_ - qoff != suffix_len) continue;
      bool same = true;
      for (size_t k = 0; k < suffix_len && same; ++k)
        same = Lower(qname_[qoff + k]) == Lower(name[off + k]);
      if (!same) continue;
      std::memcpy(buf_ + pos_, name, off);
      pos_ += off;
      Put16(static_cast<uint16_t>(0xC000 | (kHeaderSize + qoff)));
      return true;
    }
  }
  std::memcpy(buf_ + pos_, name, size);
  pos_ += size;
  return true;
}

bool ResponseWriter::AddQnameRecord(Section s, uint16_t type, uint32_t ttl, const uint8_t* rdata,
                                    uint16_t rdlen) {
  if (!SectionOk(s) || !Room(12u + rdlen)) return false;
  Put16(0xC00C);
  PutRecordBody(s, type, ttl, rdata, rdlen);
  return true;
}

void ResponseWriter::PutRecordBody(Section s, uint16_t type, uint32_t ttl, const uint8_t* rdata,
                                   uint16_t rdlen) {
  section_ = s;
  Put16(type);
  Put16(kClassIN);
  Put32(ttl);
  Put16(rdlen);
  std::memcpy(buf_ + pos_, rdata, rdlen);
  pos_ += rdlen;
  ++counts_[s];
}

bool ResponseWriter::AddRaw(Section s, const uint8_t* rr, size_t len, uint16_t count) {
  if (!SectionOk(s) || !Room(len)) return false;
  section_ = s;
  std::memcpy(buf_ + pos_, rr, len);
  pos_ += len;
  counts_[s] = static_cast<uint16_t>(counts_[s] + count);
  return true;
}

bool ResponseWriter::AddRecord(Section s, std::string_view owner_wire, uint16_t type, uint32_t ttl,
                               const uint8_t* rdata, uint16_t rdlen) {
  if (!SectionOk(s) || !Room(owner_wire.size() + 10u + rdlen)) return false;
  WriteName(owner_wire);
  PutRecordBody(s, type, ttl, rdata, rdlen);
  return true;
}

bool ResponseWriter::AddSoa(Section s, std::string_view apex, std::string_view mname,
                            std::string_view rname, uint32_t serial, uint32_t refresh,
                            uint32_t retry, uint32_t expire, uint32_t minimum, uint32_t ttl) {
  if (!SectionOk(s) || !Room(apex.size() + 10 + mname.size() + rname.size() + 20)) return false;
  section_ = s;
  WriteName(apex);
  Put16(kTypeSOA);
  Put16(kClassIN);
  Put32(ttl);
  const size_t rdlen_pos = pos_;
  Put16(0);
  WriteName(mname);
  WriteName(rname);
  Put32(serial);
  Put32(refresh);
  Put32(retry);
  Put32(expire);
  Put32(minimum);
  Write16(buf_ + rdlen_pos, static_cast<uint16_t>(pos_ - rdlen_pos - 2));
  ++counts_[s];
  return true;
}

void ResponseWriter::Rollback(size_t mark, Section s, uint16_t count) {
  pos_ = mark;
  counts_[s] = count;
}

void ResponseWriter::ApplyTtlCap() {
  // Walks the records this writer wrote: owners are label sequences or end in a pointer.
  size_t p = kHeaderSize;
  if (qname_ != nullptr) p += qname_size_ + 4u;
  const int records = counts_[kAnswer] + counts_[kAuthority] + counts_[kAdditional];
  for (int i = 0; i < records && p < pos_; ++i) {
    while (p < pos_) {
      const uint8_t len = buf_[p];
      if (len == 0) {
        ++p;
        break;
      }
      if ((len & 0xC0) == 0xC0) {
        p += 2;
        break;
      }
      p += 1u + len;
    }
    if (p + 10 > pos_) return;
    if (Read32(buf_ + p + 4) > ttl_cap_) Write32(buf_ + p + 4, ttl_cap_);
    p += 10u + Read16(buf_ + p + 8);
  }
}

size_t ResponseWriter::Finish(const Query& q, bool edns, uint16_t ede_code) {
  if (ttl_cap_ != UINT32_MAX) ApplyTtlCap();
  if (ede_code == 0) ede_code = ede_;
  uint16_t flags = 0x8000;                                 // QR
  flags |= static_cast<uint16_t>((q.opcode & 0xF) << 11);  // OPCODE
  if (aa_) flags |= 0x0400;
  if (tc_) flags |= 0x0200;
  if (q.rd) flags |= 0x0100;
  if (ra_) flags |= 0x0080;
  if (q.cd) flags |= 0x0010;
  flags |= rcode_ & 0xF;
  Write16(buf_ + 2, flags);
  Write16(buf_ + 6, counts_[kAnswer]);
  Write16(buf_ + 8, counts_[kAuthority]);
  uint16_t arcount = counts_[kAdditional];
  if (edns) {
    buf_[pos_++] = 0;  // root owner
    Put16(kTypeOPT);
    Put16(kOurUdpSize);
    const uint32_t ttl =
        static_cast<uint32_t>((rcode_ >> 4) & 0xFF) << 24 | (q.edns.do_bit ? 0x8000u : 0u);
    Put32(ttl);
    const uint16_t cookie_len = q.cookie_out ? sizeof(q.cookie_reply) : 0;
    Put16(static_cast<uint16_t>((ede_code != 0 ? 6 : 0) + (cookie_len ? 4 + cookie_len : 0)));
    if (ede_code != 0) {
      Put16(15);  // EDE option code
      Put16(2);
      Put16(ede_code);
    }
    if (cookie_len != 0) {
      Put16(kOptionCookie);
      Put16(cookie_len);
      std::memcpy(buf_ + pos_, q.cookie_reply, cookie_len);
      pos_ += cookie_len;
    }
    ++arcount;
  }
  Write16(buf_ + 10, arcount);
  return pos_;
}

uint16_t RandomQueryId() {
  uint16_t id = 0;
  if (getrandom(&id, sizeof(id), 0) != sizeof(id)) {
    id = static_cast<uint16_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  return id;
}

}  // namespace dnsd::dns
