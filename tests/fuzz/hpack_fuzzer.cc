// libFuzzer target for the HPACK decoder, the part of the gRPC transport that parses the most
// attacker-shaped bytes. Each input is split into header blocks decoded on one connection's
// decoder (so the dynamic table carries state between blocks); checks that the decoder never
// lets its table exceed the announced size and never crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "net/hpack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kTableLimit = 4096;
  dnsd::net::HpackDecoder decoder(kTableLimit);
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // The first byte picks the block length, so blocks split at varied places.
  const size_t block = size > 0 ? 1 + data[0] % 64 : 1;
  while (!input.empty()) {
    const std::string_view piece = input.substr(0, block);
    input.remove_prefix(piece.size());
    std::vector<dnsd::net::HeaderField> fields;
    if (!decoder.Decode(piece, fields, 16 * 1024).ok()) break;  // a connection error ends it
    if (decoder.table_size() > kTableLimit) std::abort();
  }
  std::string out;
  (void)dnsd::net::HuffmanDecode(std::string_view(reinterpret_cast<const char*>(data), size), out);
  return 0;
}
