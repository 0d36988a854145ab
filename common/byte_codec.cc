#include "common/byte_codec.h"

#include <cstring>

namespace dnsd::common {

void ByteWriter::PutU32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ByteWriter::PutU64(uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void ByteWriter::PutDouble(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  PutU64(bits);
}

void ByteWriter::PutString(std::string_view s) {
  PutU32(static_cast<uint32_t>(s.size()));
  out_.append(s);
}

size_t ByteWriter::BeginString() {
  const size_t position = out_.size();
  PutU32(0);
  return position;
}

void ByteWriter::EndString(size_t position) {
  const auto length = static_cast<uint32_t>(out_.size() - position - 4);
  for (int i = 0; i < 4; ++i) out_[position + i] = static_cast<char>((length >> (8 * i)) & 0xff);
}

absl::Status ByteReader::Need(size_t n) const {
  if (in_.size() - pos_ < n) return absl::DataLossError("truncated record");
  return absl::OkStatus();
}

absl::Status ByteReader::GetU8(uint8_t& v) {
  if (auto s = Need(1); !s.ok()) return s;
  v = static_cast<uint8_t>(in_[pos_++]);
  return absl::OkStatus();
}

absl::Status ByteReader::GetU32(uint32_t& v) {
  if (auto s = Need(4); !s.ok()) return s;
  v = 0;
  for (int i = 0; i < 4; ++i)
    v |= static_cast<uint32_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
  return absl::OkStatus();
}

absl::Status ByteReader::GetU64(uint64_t& v) {
  if (auto s = Need(8); !s.ok()) return s;
  v = 0;
  for (int i = 0; i < 8; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(in_[pos_++])) << (8 * i);
  return absl::OkStatus();
}

absl::Status ByteReader::GetI64(int64_t& v) {
  uint64_t u;
  if (auto s = GetU64(u); !s.ok()) return s;
  v = static_cast<int64_t>(u);
  return absl::OkStatus();
}

absl::Status ByteReader::GetBool(bool& v) {
  uint8_t b;
  if (auto s = GetU8(b); !s.ok()) return s;
  if (b > 1) return absl::DataLossError("bad boolean");
  v = b == 1;
  return absl::OkStatus();
}

absl::Status ByteReader::GetDouble(double& v) {
  uint64_t bits;
  if (auto s = GetU64(bits); !s.ok()) return s;
  std::memcpy(&v, &bits, sizeof(v));
  return absl::OkStatus();
}

absl::Status ByteReader::GetString(std::string& out) {
  std::string_view view;
  if (auto s = GetStringView(view); !s.ok()) return s;
  out.assign(view);
  return absl::OkStatus();
}

absl::Status ByteReader::GetStringView(std::string_view& out) {
  uint32_t n;
  if (auto s = GetU32(n); !s.ok()) return s;
  if (auto s = Need(n); !s.ok()) return s;
  out = in_.substr(pos_, n);
  pos_ += n;
  return absl::OkStatus();
}

}  // namespace dnsd::common
