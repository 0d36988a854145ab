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
    index_.ForEach([&](const ServiceKey&, const std::shared_ptr<const ServiceView>& v) { fn(v); });
  }
  // Writer only.
  void Publish(std::shared_ptr<const ServiceView> view) {
    const ServiceKey key = view->key();
    index_.Publish(key, std::move(view));
  }
  void Remove(const ServiceKey& key) { index_.Remove(key); }
  // Bulk changes seen by readers at EndBatch (common::CowIndex batches).
  void BeginBatch() { index_.BeginBatch(); }
  void EndBatch() { index_.EndBatch(); }

 private:
  common::CowIndex<ServiceKey, ServiceView> index_;
};

}  // namespace dnsd::registry
