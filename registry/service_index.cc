#include "registry/service_index.h"

namespace dnsd::registry {

ServiceIndex::ServiceIndex() {
  for (auto& shard : shards_) shard.store(std::make_shared<const Shard>());
}

std::shared_ptr<const ServiceView> ServiceIndex::Find(const ServiceKey& key) const {
  const auto shard = shards_[ShardOf(key)].load(std::memory_order_acquire);
  const auto it = shard->find(key);
  if (it == shard->end()) return nullptr;
  return it->second->view.load(std::memory_order_acquire);
}

void ServiceIndex::ForEach(
    const std::function<void(const std::shared_ptr<const ServiceView>&)>& fn) const {
  for (const auto& shard_ptr : shards_) {
    const auto shard = shard_ptr.load(std::memory_order_acquire);
    for (const auto& [key, slot] : *shard) fn(slot->view.load(std::memory_order_acquire));
  }
}

void ServiceIndex::Publish(std::shared_ptr<const ServiceView> view) {
  auto& shard_ptr = shards_[ShardOf(view->key())];
  const auto shard = shard_ptr.load(std::memory_order_acquire);
  if (const auto it = shard->find(view->key()); it != shard->end()) {
    it->second->view.store(std::move(view), std::memory_order_release);
    return;
  }
  auto copy = std::make_shared<Shard>(*shard);
  auto slot = std::make_shared<Slot>();
  const ServiceKey key = view->key();
  slot->view.store(std::move(view));
  copy->emplace(key, std::move(slot));
  shard_ptr.store(std::move(copy), std::memory_order_release);
}

void ServiceIndex::Remove(const ServiceKey& key) {
  auto& shard_ptr = shards_[ShardOf(key)];
  const auto shard = shard_ptr.load(std::memory_order_acquire);
  if (!shard->contains(key)) return;
  auto copy = std::make_shared<Shard>(*shard);
  copy->erase(key);
  shard_ptr.store(std::move(copy), std::memory_order_release);
}

}  // namespace dnsd::registry
