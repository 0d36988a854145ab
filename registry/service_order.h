// ServiceOrder keeps every service key in (namespace, group, name) order with ranks
// (common/ranked_list.h), so that a page of a service list costs O(log n + page) however many
// services there are: a count is the difference of two ranks, a page starts at a rank. Keys
// are shared with the registry's own (shared_ptr), so the index costs 16 bytes a service plus
// its chunk slack.
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
#include "common/ranked_list.h"
#include "registry/naming_model.h"

namespace dnsd::registry {

class ServiceOrder {
 public:
  // The key must not be present (Insert) or must be (Erase).
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
  struct KeyLess {
    static const ServiceKey& Of(const ServiceKey& k) { return k; }
    static const ServiceKey& Of(const std::shared_ptr<const ServiceKey>& k) { return *k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return Of(a) < Of(b);
    }
  };
  mutable absl::Mutex mu_;
  common::RankedList<std::shared_ptr<const ServiceKey>, KeyLess> keys_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dnsd::registry
