// ServiceIndex maps ServiceKey -> current ServiceView for lock-free readers.
//
// Readers: Find() does two atomic shared_ptr loads (shard, then the service's slot) and never
// blocks on the writer. Writer (one at a time, the registry's writer lock): replacing the view
// of an existing service is one atomic store; adding or removing a service copies only its
// shard (1/256 of the index), so start-up with 10,000 services stays cheap.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "registry/service_view.h"

namespace dnsd::registry {

class ServiceIndex {
 public:
  ServiceIndex();

  std::shared_ptr<const ServiceView> Find(const ServiceKey& key) const;
  // Visits every published view; order is unspecified.
  void ForEach(const std::function<void(const std::shared_ptr<const ServiceView>&)>& fn) const;

  // Writer only.
  void Publish(std::shared_ptr<const ServiceView> view);
  void Remove(const ServiceKey& key);

 private:
  static constexpr size_t kShards = 256;
  struct Slot {
    std::atomic<std::shared_ptr<const ServiceView>> view;
  };
  using Shard = absl::flat_hash_map<ServiceKey, std::shared_ptr<Slot>>;

  size_t ShardOf(const ServiceKey& key) const { return absl::HashOf(key) % kShards; }

  std::array<std::atomic<std::shared_ptr<const Shard>>, kShards> shards_;
};

}  // namespace dnsd::registry
