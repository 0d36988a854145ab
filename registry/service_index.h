// ServiceIndex maps ServiceKey -> current ServiceView for lock-free readers; see
// common/cow_index.h for the reader and writer costs.
#pragma once

#include "common/cow_index.h"
#include "registry/service_view.h"

namespace dnsd::registry {

class ServiceIndex {
 public:
  std::shared_ptr<const ServiceView> Find(const ServiceKey& key) const { return index_.Find(key); }
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    index_.ForEach([&](const auto&, const std::shared_ptr<const ServiceView>& v) { fn(v); });
  }
  // Writer only.
  void Publish(std::shared_ptr<const ServiceView> view) {
    std::shared_ptr<const ServiceKey> key = view->shared_key();
    index_.Publish(key, std::move(view));
  }
  void Remove(const ServiceKey& key) { index_.Remove(key); }
  // Bulk changes seen by readers at EndBatch (common::CowIndex batches).
  void BeginBatch() { index_.BeginBatch(); }
  void EndBatch() { index_.EndBatch(); }

 private:
  // Keyed by the view's shared key (the registry's): a slot keeps 16 bytes, not a key copy.
  common::CowIndex<std::shared_ptr<const ServiceKey>, ServiceView, 256, SharedServiceKeyHash,
                   SharedServiceKeyEq>
      index_;
};

}  // namespace dnsd::registry
