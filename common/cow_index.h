// CowIndex is a map from Key to an immutable Value for lock-free readers and one writer.
//
// Readers: Find() does two atomic shared_ptr loads (the key's shard, then its slot) and never
// waits for the writer. Hot readers (DNS workers) pass a ReaderCache they own: each shard
// carries a version number that changes when keys are added or removed, and while it is
// unchanged the reader reuses its cached shard, so only the value is loaded atomically.
// Lookups accept any type the map can look up heterogeneously (e.g. absl::string_view for
// std::string keys), so they need no allocation.
//
// Writer (one at a time; the caller serialises writers): replacing the value of an existing
// key is one atomic store; adding or removing a key copies only that key's shard, so building
// an index of 10,000 keys one by one stays cheap.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/container/flat_hash_map.h"

namespace dnsd::common {

template <typename Key, typename Value, size_t kShards = 256>
class CowIndex {
  struct Slot {
    std::atomic<std::shared_ptr<const Value>> value;
  };
  using Shard = absl::flat_hash_map<Key, std::shared_ptr<Slot>>;

 public:
  // One per reader thread; must not outlive the index.
  class ReaderCache {
   private:
    friend class CowIndex;
    struct Entry {
      uint64_t version = ~uint64_t{0};
      std::shared_ptr<const Shard> shard;
    };
    std::array<Entry, kShards> entries;
  };

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

  template <typename Lookup>
  std::shared_ptr<const Value> Find(const Lookup& key, ReaderCache& cache) const {
    const size_t index = ShardOf(key);
    auto& entry = cache.entries[index];
    const uint64_t version = versions_[index].load(std::memory_order_acquire);
    if (entry.version != version) {
      // Version first, then the shard: a shard newer than the version only causes one more
      // refresh on a later lookup, never a stale answer.
      entry.shard = shards_[index].load(std::memory_order_acquire);
      entry.version = version;
    }
    const auto it = entry.shard->find(key);
    if (it == entry.shard->end()) return nullptr;
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
    const size_t index = ShardOf(key);
    auto& shard_ptr = shards_[index];
    const auto shard = shard_ptr.load(std::memory_order_acquire);
    if (const auto it = shard->find(key); it != shard->end()) {
      // Same shard map, new value: cached readers keep their shard (no version bump).
      it->second->value.store(std::move(value), std::memory_order_release);
      return;
    }
    auto copy = std::make_shared<Shard>(*shard);
    auto slot = std::make_shared<Slot>();
    slot->value.store(std::move(value));
    copy->emplace(key, std::move(slot));
    shard_ptr.store(std::move(copy), std::memory_order_release);
    versions_[index].fetch_add(1, std::memory_order_release);
  }

  void Remove(const Key& key) {
    const size_t index = ShardOf(key);
    auto& shard_ptr = shards_[index];
    const auto shard = shard_ptr.load(std::memory_order_acquire);
    if (!shard->contains(key)) return;
    auto copy = std::make_shared<Shard>(*shard);
    copy->erase(key);
    shard_ptr.store(std::move(copy), std::memory_order_release);
    versions_[index].fetch_add(1, std::memory_order_release);
  }

 private:
  template <typename Lookup>
  size_t ShardOf(const Lookup& key) const {
    return typename Shard::hasher{}(key) % kShards;
  }

  std::array<std::atomic<std::shared_ptr<const Shard>>, kShards> shards_;
  std::array<std::atomic<uint64_t>, kShards> versions_{};
};

}  // namespace dnsd::common
