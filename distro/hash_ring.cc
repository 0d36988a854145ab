#include "distro/hash_ring.h"

#include <algorithm>

#include "common/hash_mix.h"

namespace dnsd::distro {

uint64_t HashRing::Hash(std::string_view bytes) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a offset basis
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  // FNV alone clusters similar strings ("10.0.0.1:80" and "10.0.0.1:81"); a mixing finaliser
  // (splitmix64's) spreads them over the whole circle.
  return common::Mix64(h);
}

HashRing::HashRing(std::vector<std::string> members, int virtual_nodes) {
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  members_ = std::move(members);
  points_.reserve(members_.size() * static_cast<size_t>(virtual_nodes));
  for (uint32_t m = 0; m < members_.size(); ++m) {
    for (int v = 0; v < virtual_nodes; ++v) {
      points_.emplace_back(Hash(members_[m] + "#" + std::to_string(v)), m);
    }
  }
  std::sort(points_.begin(), points_.end());
}

const std::string& HashRing::OwnerOf(std::string_view key) const {
  static const std::string kNone;
  if (points_.empty()) return kNone;
  const uint64_t h = Hash(key);
  auto it = std::lower_bound(points_.begin(), points_.end(), std::make_pair(h, uint32_t{0}));
  if (it == points_.end()) it = points_.begin();  // past the last point: wrap around
  return members_[it->second];
}

}  // namespace dnsd::distro
