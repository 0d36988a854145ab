#include "agent/nacos_payload.h"

#include <cstdint>

namespace dnsd::agent {
namespace {

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

void PutVarint(std::string& out, uint64_t value) {
  while (value >= 0x80) {
    out.push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out.push_back(static_cast<char>(value));
}

void PutBytes(std::string& out, uint32_t field, std::string_view bytes) {
  PutVarint(out, (field << 3) | kLengthDelimited);
  PutVarint(out, bytes.size());
  out.append(bytes);
}

// Reads protobuf fields from a buffer; every read checks the bounds.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool done() const { return at_ == in_.size(); }

  bool Varint(uint64_t& value) {
    value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ == in_.size()) return false;
      const auto byte = static_cast<uint8_t>(in_[at_++]);
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;  // more than ten bytes
  }
  // The next field's number, wire type and (for length-delimited fields) its bytes; other
  // wire types are consumed.
  absl::Status Next(uint32_t& field, uint32_t& wire, std::string_view& bytes) {
    uint64_t tag = 0;
    if (!Varint(tag)) return absl::InvalidArgumentError("a truncated field tag");
    field = static_cast<uint32_t>(tag >> 3);
    wire = static_cast<uint32_t>(tag & 7);
    if (field == 0 || (tag >> 3) > 0x1fffffff) return absl::InvalidArgumentError("field number 0");
    uint64_t value = 0;
    switch (wire) {
      case kVarint:
        if (!Varint(value)) return absl::InvalidArgumentError("a truncated varint");
        return absl::OkStatus();
      case kFixed64:
        return Skip(8);
      case kFixed32:
        return Skip(4);
      case kLengthDelimited:
        if (!Varint(value) || value > in_.size() - at_) {
          return absl::InvalidArgumentError("a length beyond the message");
        }
        bytes = in_.substr(at_, value);
        at_ += value;
        return absl::OkStatus();
      default:  // groups (3, 4) are gone from proto3; 6 and 7 do not exist
        return absl::InvalidArgumentError("an unsupported wire type");
    }
  }

 private:
  absl::Status Skip(size_t n) {
    if (n > in_.size() - at_) return absl::InvalidArgumentError("a truncated fixed field");
    at_ += n;
    return absl::OkStatus();
  }
  std::string_view in_;
  size_t at_ = 0;
};

// Calls `on_field(field, bytes)` for each length-delimited field; other fields are skipped,
// and a known field with another wire type is refused.
template <typename OnField>
absl::Status ForEachField(std::string_view message, OnField&& on_field) {
  Reader reader(message);
  while (!reader.done()) {
    uint32_t field = 0, wire = 0;
    std::string_view bytes;
    if (auto s = reader.Next(field, wire, bytes); !s.ok()) return s;
    if (auto s = on_field(field, wire, bytes); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WrongType(std::string_view what) {
  return absl::InvalidArgumentError(std::string(what) + " is not length-delimited");
}

absl::Status DecodeMetadata(std::string_view bytes, NacosPayload& out) {
  return ForEachField(bytes, [&](uint32_t field, uint32_t wire, std::string_view value) {
    if (field != 3 && field != 7 && field != 8) return absl::OkStatus();
    if (wire != kLengthDelimited) return WrongType("a metadata field");
    if (field == 3) {
      out.type = std::string(value);
    } else if (field == 8) {
      out.client_ip = std::string(value);
    } else {
      std::string key, entry_value;
      auto s = ForEachField(value, [&](uint32_t f, uint32_t w, std::string_view v) {
        if (f != 1 && f != 2) return absl::OkStatus();
        if (w != kLengthDelimited) return WrongType("a header");
        (f == 1 ? key : entry_value) = std::string(v);
        return absl::OkStatus();
      });
      if (!s.ok()) return s;
      // A map keeps the last value of a key.
      for (auto& [k, v] : out.headers) {
        if (k == key) {
          v = std::move(entry_value);
          return absl::OkStatus();
        }
      }
      out.headers.emplace_back(std::move(key), std::move(entry_value));
    }
    return absl::OkStatus();
  });
}

}  // namespace

std::string EncodePayload(const NacosPayload& payload) {
  std::string metadata;
  if (!payload.type.empty()) PutBytes(metadata, 3, payload.type);
  for (const auto& [name, value] : payload.headers) {
    std::string entry;
    PutBytes(entry, 1, name);
    PutBytes(entry, 2, value);
    PutBytes(metadata, 7, entry);
  }
  if (!payload.client_ip.empty()) PutBytes(metadata, 8, payload.client_ip);
  std::string body;
  if (!payload.body.empty()) PutBytes(body, 2, payload.body);
  std::string out;
  PutBytes(out, 2, metadata);
  PutBytes(out, 3, body);
  return out;
}

absl::StatusOr<NacosPayload> DecodePayload(std::string_view bytes) {
  NacosPayload out;
  auto s = ForEachField(bytes, [&](uint32_t field, uint32_t wire, std::string_view value) {
    if (field != 2 && field != 3) return absl::OkStatus();
    if (wire != kLengthDelimited) return WrongType("a payload field");
    if (field == 2) return DecodeMetadata(value, out);
    return ForEachField(value, [&](uint32_t f, uint32_t w, std::string_view v) {
      if (f != 2) return absl::OkStatus();  // type_url (1) is not used
      if (w != kLengthDelimited) return WrongType("the body's value");
      out.body = std::string(v);
      return absl::OkStatus();
    });
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace dnsd::agent
