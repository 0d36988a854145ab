// CowIndex is a map from Key to an immutable Value for lock-free readers and one writer.
//
// Readers: Find() does two atomic shared_ptr loads (the key's shard, then its slot) and never
// waits for the writer; it accepts any type the map can look up heterogeneously (e.g.
// absl::string_view for std::string keys), so lookups need no allocation.
// Writer (one at a time; the caller serialises writers): replacing the value of an existing
// key is one atomic store; adding or removing a key copies only that key's shard, so building
// an index of 10,000 keys one by one stays cheap.
#pragma once

#include <array>
#include <atomic>
#include <memory>

#include "absl/container/flat_hash_map.h"

namespace dnsd::common {

template <typename Key, typename Value, size_t kShards = 256>
class CowIndex {
 public:
  CowIndex() {
    for (auto& shard : shards_) shard.store(std::make_shared<const Shard>());
  }

  template <typename Lookup>
  std::shared_ptr<const Value> Find(const Lookup& key) const {
    const auto shard = shards_[ShardOf(key)].load(std::memory_order_acquire);
    const auto it = shard->find(key);
    if (it == shard->end()) return nullptr;
    return it->second->value.load(std::memory_order_acquire);
  }

  // Visits every value; order is unspecified.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& shard_ptr : shards_) {
      const auto shard = shard_ptr.load(std::memory_order_acquire);
      for (const auto& [key, slot] : *shard) fn(key, slot->value.load(std::memory_order_acquire));
    }
  }

  // Writer only.
  void Publish(const Key& key, std::shared_ptr<const Value> value) {
    auto& shard_ptr = shards_[ShardOf(key)];
    const auto shard = shard_ptr.load(std::memory_order_acquire);
    if (const auto it = shard->find(key); it != shard->end()) {
      it->second->value.store(std::move(value), std::memory_order_release);
      return;
    }
    auto copy = std::make_shared<Shard>(*shard);
    auto slot = std::make_shared<Slot>();
    slot->value.store(std::move(value));
    copy->emplace(key, std::move(slot));
    shard_ptr.store(std::move(copy), std::memory_order_release);
  }

  void Remove(const Key& key) {
    auto& shard_ptr = shards_[ShardOf(key)];
    const auto shard = shard_ptr.load(std::memory_order_acquire);
    if (!shard->contains(key)) return;
    auto copy = std::make_shared<Shard>(*shard);
    copy->erase(key);
    shard_ptr.store(std::move(copy), std::memory_order_release);
  }

 private:
  struct Slot {
    std::atomic<std::shared_ptr<const Value>> value;
  };
  using Shard = absl::flat_hash_map<Key, std::shared_ptr<Slot>>;

  template <typename Lookup>
  size_t ShardOf(const Lookup& key) const {
    return typename Shard::hasher{}(key) % kShards;
  }

  std::array<std::atomic<std::shared_ptr<const Shard>>, kShards> shards_;
};

}  // namespace dnsd::common
