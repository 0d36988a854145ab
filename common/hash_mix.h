// Mix64: splitmix64's finaliser, a bijective 64-bit mix that spreads nearby inputs (similar
// strings' FNV hashes, adjacent address prefixes) over the whole range.
#pragma once

#include <cstdint>

namespace dnsd::common {

inline uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace dnsd::common
