// HashRing assigns keys (Distro client ids) to members by consistent hashing: each member owns
// `virtual_nodes` points on a 64-bit circle and a key belongs to the member of the first point
// at or after the key's hash. Adding or removing one of N members moves about 1/N of the keys
// (Nacos's `hash % N` moves nearly all of them); many points per member keep the load even.
//
// The hash is fixed (FNV-1a with a 64-bit finaliser) so that every node, whatever its build,
// computes the same owner from the same member list.
//
// Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dnsd::distro {

class HashRing {
 public:
  static constexpr int kDefaultVirtualNodes = 200;

  HashRing() = default;
  // Duplicates are ignored; order does not matter.
  explicit HashRing(std::vector<std::string> members, int virtual_nodes = kDefaultVirtualNodes);

  // The owner of `key`; "" when the ring has no members.
  const std::string& OwnerOf(std::string_view key) const;
  const std::vector<std::string>& members() const { return members_; }  // sorted
  bool empty() const { return members_.empty(); }

  static uint64_t Hash(std::string_view bytes);

 private:
  std::vector<std::string> members_;
  std::vector<std::pair<uint64_t, uint32_t>> points_;  // (position, member index), sorted
};

}  // namespace dnsd::distro
