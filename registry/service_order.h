// ServiceOrder keeps every service key in (namespace, group, name) order with ranks, so that a
// page of a service list costs O(log n + page) however many services there are: a count is
// the difference of two ranks, a page starts at a rank. (The lists used to collect and sort
// every view of the registry per request: 260-300 ms a page at 100,000 services.)
//
// Layout: sorted chunks of at most kMaxChunk keys, and the number of keys before each chunk.
// A rank lookup is a binary search over the chunks' last keys and then within one chunk; an
// insert or erase moves at most one chunk's keys and updates the counts after it: O(B + n/B),
// a few microseconds at a million services, paid only when a service appears or goes away.
// Keys are shared with the registry's own (shared_ptr), so the index costs 16 bytes a service
// plus its chunk slack.
//
// Thread-safety: writers (the registry, under its writer lock) take the lock exclusively;
// readers share it for the few microseconds a page takes.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "registry/naming_model.h"

namespace dnsd::registry {

class ServiceOrder {
 public:
  static constexpr size_t kMaxChunk = 512;

  // The key must not be present (Insert) or must be (Erase); checked in debug builds.
  void Insert(std::shared_ptr<const ServiceKey> key);
  void Erase(const ServiceKey& key);

  struct Page {
    size_t total = 0;                                     // keys of the namespace (and group)
    std::vector<std::shared_ptr<const ServiceKey>> keys;  // ranks [offset, offset + limit)
  };
  // The keys of `namespace_id` (of `group` too, when given), in order.
  Page Range(std::string_view namespace_id, std::optional<std::string_view> group, size_t offset,
             size_t limit) const;
  // Up to `limit` keys after `after` (from the first when null), in order: a scan in batches
  // that tolerates inserts and erases between batches.
  std::vector<std::shared_ptr<const ServiceKey>> After(const ServiceKey* after, size_t limit) const;
  size_t size() const;

 private:
  using Chunk = std::vector<std::shared_ptr<const ServiceKey>>;
  // The number of keys for which `before(key)` holds, given that those keys come first in the
  // order (a prefix): the rank of a boundary.
  template <typename Before>
  size_t CountPrefixLocked(Before before) const;
  // The chunk holding rank `rank` (< size_) and the position in it.
  std::pair<size_t, size_t> LocateLocked(size_t rank) const;
  void RecountLocked(size_t from_chunk);

  mutable absl::Mutex mu_;
  std::vector<Chunk> chunks_;
  std::vector<size_t> before_;  // before_[i]: keys in chunks [0, i)
  size_t size_ = 0;
};

}  // namespace dnsd::registry
