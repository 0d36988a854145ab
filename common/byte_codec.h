// Little-endian, length-prefixed binary encoding for commands that go into durable logs.
// Writers append; readers fail with a Status (never assert) on truncated or corrupt input,
// because log bytes are untrusted after a crash. Not thread-safe; one codec per use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace dnsd::common {

class ByteWriter {
 public:
  void PutU8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void PutU32(uint32_t v);
  void PutU64(uint64_t v);
  void PutI64(int64_t v) { PutU64(static_cast<uint64_t>(v)); }
  void PutBool(bool v) { PutU8(v ? 1 : 0); }
  void PutDouble(double v);
  void PutString(std::string_view s);
  // A string written in place, for parts too large to build apart and copy in (a snapshot's
  // registry part): BeginString() writes a zero length and returns where it is;
  // EndString(position) sets that length to the bytes written since.
  size_t BeginString();
  void EndString(size_t position);
  void Reserve(size_t bytes) { out_.reserve(bytes); }
  size_t size() const { return out_.size(); }
  std::string Take() { return std::move(out_); }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  absl::Status GetU8(uint8_t& v);
  absl::Status GetU32(uint32_t& v);
  absl::Status GetU64(uint64_t& v);
  absl::Status GetI64(int64_t& v);
  absl::Status GetBool(bool& v);
  absl::Status GetDouble(double& v);
  absl::Status GetString(std::string& s);
  // The same without a copy: a view into the reader's input, valid while that input is.
  absl::Status GetStringView(std::string_view& s);
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  absl::Status Need(size_t n) const;
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace dnsd::common
