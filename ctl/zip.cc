#include "ctl/zip.h"

#include <zlib.h>

#include <cstdint>

#include "common/files.h"
#include "common/strings.h"

namespace dnsd::ctl {
namespace {

constexpr uint32_t kLocalHeader = 0x04034b50;
constexpr uint32_t kCentralHeader = 0x02014b50;
constexpr uint32_t kEndOfCentral = 0x06054b50;
constexpr uint16_t kStored = 0, kDeflated = 8;
constexpr uint16_t kUtf8Names = 1 << 11;
constexpr size_t kMaxEntryBytes = 256 << 20;

void Put16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v & 0xff));
  out.push_back(static_cast<char>(v >> 8));
}
void Put32(std::string& out, uint32_t v) {
  Put16(out, static_cast<uint16_t>(v & 0xffff));
  Put16(out, static_cast<uint16_t>(v >> 16));
}
uint16_t Get16(std::string_view in, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(in[at]) | static_cast<uint8_t>(in[at + 1])
                                                                  << 8);
}
uint32_t Get32(std::string_view in, size_t at) {
  return Get16(in, at) | static_cast<uint32_t>(Get16(in, at + 2)) << 16;
}

std::string Deflate(std::string_view data) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

absl::StatusOr<std::string> Inflate(std::string_view data, size_t size) {
  if (size > kMaxEntryBytes) return absl::InvalidArgumentError("an entry is too large");
  std::string out(size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) return absl::InternalError("inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const bool whole = rc == Z_STREAM_END && z.total_out == size;
  inflateEnd(&z);
  if (!whole) return absl::InvalidArgumentError("a deflated entry does not inflate to its size");
  return out;
}

}  // namespace

std::string WriteZip(const std::vector<ZipEntry>& entries) {
  std::string out, central;
  for (const auto& e : entries) {
    const std::string packed = Deflate(e.data);
    const bool deflate = packed.size() < e.data.size();
    const std::string_view body = deflate ? std::string_view(packed) : std::string_view(e.data);
    const uint32_t offset = static_cast<uint32_t>(out.size());
    const uint32_t crc = common::Crc32(e.data);
    auto common_fields = [&](std::string& to) {
      Put16(to, kUtf8Names);
      Put16(to, deflate ? kDeflated : kStored);
      Put16(to, 0);     // time
      Put16(to, 0x21);  // date: 1980-01-01
      Put32(to, crc);
      Put32(to, static_cast<uint32_t>(body.size()));
      Put32(to, static_cast<uint32_t>(e.data.size()));
      Put16(to, static_cast<uint16_t>(e.name.size()));
      Put16(to, 0);  // extra field length
    };
    Put32(out, kLocalHeader);
    Put16(out, 20);  // version needed: 2.0
    common_fields(out);
    out += e.name;
    out += body;
    Put32(central, kCentralHeader);
    Put16(central, 20);  // made by
    Put16(central, 20);  // needed
    common_fields(central);
    Put16(central, 0);  // comment length
    Put16(central, 0);  // disk
    Put16(central, 0);  // internal attributes
    Put32(central, 0);  // external attributes
    Put32(central, offset);
    central += e.name;
  }
  const uint32_t central_offset = static_cast<uint32_t>(out.size());
  out += central;
  Put32(out, kEndOfCentral);
  Put16(out, 0);
  Put16(out, 0);
  Put16(out, static_cast<uint16_t>(entries.size()));
  Put16(out, static_cast<uint16_t>(entries.size()));
  Put32(out, static_cast<uint32_t>(central.size()));
  Put32(out, central_offset);
  Put16(out, 0);  // comment length
  return out;
}

absl::StatusOr<std::vector<ZipEntry>> ReadZip(std::string_view zip) {
  auto bad = [](std::string_view why) {
    return absl::InvalidArgumentError(common::StrCat("not a readable ZIP archive: ", why));
  };
  if (zip.size() < 22) return bad("too short");
  // The end record is within the last 64 KiB + 22 bytes (its comment is at most 64 KiB).
  size_t end = std::string_view::npos;
  for (size_t at = zip.size() - 22;; --at) {
    if (Get32(zip, at) == kEndOfCentral) {
      end = at;
      break;
    }
    if (at == 0 || zip.size() - at > 65'557) break;
  }
  if (end == std::string_view::npos) return bad("no end of central directory");
  const uint16_t count = Get16(zip, end + 10);
  const uint32_t central_size = Get32(zip, end + 12);
  size_t at = Get32(zip, end + 16);
  if (at + central_size > end) return bad("the central directory is out of bounds");
  std::vector<ZipEntry> out;
  for (uint16_t i = 0; i < count; ++i) {
    if (at + 46 > end || Get32(zip, at) != kCentralHeader)
      return bad("a damaged central directory");
    const uint16_t flags = Get16(zip, at + 8), method = Get16(zip, at + 10);
    const uint32_t crc = Get32(zip, at + 16), packed = Get32(zip, at + 20),
                   size = Get32(zip, at + 24);
    const uint16_t name_length = Get16(zip, at + 28), extra = Get16(zip, at + 30),
                   comment = Get16(zip, at + 32);
    const uint32_t local = Get32(zip, at + 42);
    if (at + 46 + name_length > end) return bad("a name is out of bounds");
    ZipEntry entry;
    entry.name = std::string(zip.substr(at + 46, name_length));
    at += 46 + name_length + extra + comment;
    if (flags & 1) return bad(common::StrCat(entry.name, " is encrypted"));
    if (packed == 0xffffffff || size == 0xffffffff) return bad("ZIP64 is not supported");
    if (local + 30 > zip.size() || Get32(zip, local) != kLocalHeader) return bad("a damaged entry");
    const size_t data_at = local + 30 + Get16(zip, local + 26) + Get16(zip, local + 28);
    if (data_at + packed > zip.size()) return bad(common::StrCat(entry.name, " is cut short"));
    const std::string_view body = zip.substr(data_at, packed);
    if (method == kStored) {
      if (packed != size) return bad(common::StrCat(entry.name, ": stored sizes differ"));
      entry.data = std::string(body);
    } else if (method == kDeflated) {
      auto inflated = Inflate(body, size);
      if (!inflated.ok())
        return bad(common::StrCat(entry.name, ": ", common::ToStd(inflated.status().message())));
      entry.data = *std::move(inflated);
    } else {
      return bad(common::StrCat(entry.name, " uses compression method ", method));
    }
    if (common::Crc32(entry.data) != crc)
      return bad(common::StrCat(entry.name, " fails its CRC-32"));
    if (entry.name.ends_with('/')) continue;  // a directory
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace dnsd::ctl
