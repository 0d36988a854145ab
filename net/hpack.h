// HPACK (RFC 7541) for dnsd's HTTP/2 server: a full decoder (static and dynamic tables,
// Huffman strings, table size updates) and a minimal encoder that never indexes, so the
// server keeps no encoder state per connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace dnsd::net {

struct HeaderField {
  std::string name;
  std::string value;
};

class HpackDecoder {
 public:
  // `max_table_size` is the SETTINGS_HEADER_TABLE_SIZE this side announced.
  explicit HpackDecoder(size_t max_table_size = 4096)
      : settings_max_(max_table_size), max_size_(max_table_size) {}

  // Decodes one complete header block into `out` (appended). A header list larger than
  // `max_list_size` (RFC 7540 size: name + value + 32 per field) is an error. Any error
  // leaves the table unusable: the caller must end the connection (COMPRESSION_ERROR).
  absl::Status Decode(std::string_view block, std::vector<HeaderField>& out, size_t max_list_size);

  size_t table_size() const { return size_; }
  size_t table_entries() const { return dynamic_.size(); }

 private:
  absl::Status Lookup(uint64_t index, const HeaderField** field) const;
  void Insert(HeaderField field);
  void EvictTo(size_t limit);

  const size_t settings_max_;
  size_t max_size_;
  size_t size_ = 0;
  std::deque<HeaderField> dynamic_;  // newest first (index 62)
};

// Decodes a Huffman-coded string (RFC 7541 5.2 and Appendix B).
absl::Status HuffmanDecode(std::string_view in, std::string& out);

// Encoder pieces (no dynamic table): an indexed static entry, and a literal field
// without indexing whose name is a static index (0 = literal name).
void HpackAppendIndexed(std::string& out, uint32_t static_index);
void HpackAppendLiteral(std::string& out, uint32_t name_index, std::string_view name,
                        std::string_view value);

}  // namespace dnsd::net
