// CowIndex is a map from Key to an immutable Value for lock-free readers and one writer.
//
// Readers: Find() does two atomic shared_ptr loads (the key's shard, then its slot) and never
// waits for the writer. Hot readers (DNS workers) pass a ReaderCache they own and get a plain
// pointer: shards and slots carry versions (unique across the index), and while they are
// unchanged the reader reuses the shard and value it cached, so a lookup is two plain loads
// and hash probes, with no atomic read-modify-write. A cache keeps the values it has seen
// alive until it sees a newer version of the same slot (bounded by the names it looks up).
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
    std::atomic<uint64_t> version{0};  // bumped after every store of `value`
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
    struct Seen {
      uint64_t version = 0;
      std::shared_ptr<const Value> value;
    };
    std::array<Entry, kShards> entries;
    absl::flat_hash_map<const Slot*, Seen> seen;
  };

  CowIndex() {
    for (auto& shard : shards_) shard.store(std::make_shared<const Shard>());
  }

  template <typename Lookup>
  std::shared_ptr<const Value> Find(const Lookup& key) const {
    const size_t hash = HashOf(key);
    const auto shard = shards_[ShardOfHash(hash)].load(std::memory_order_acquire);
    const auto it = shard->find(key, hash);
    if (it == shard->end()) return nullptr;
    return it->second->value.load(std::memory_order_acquire);
  }

  // The returned pointer stays valid until this cache sees a newer value for the same key.
  template <typename Lookup>
  const Value* Find(const Lookup& key, ReaderCache& cache) const {
    const size_t hash = HashOf(key);
    const size_t index = ShardOfHash(hash);
    auto& entry = cache.entries[index];
    const uint64_t version = versions_[index].load(std::memory_order_acquire);
    if (entry.version != version) {
      // Version first, then the shard: a shard newer than the version only causes one more
      // refresh on a later lookup, never a stale answer.
      entry.shard = shards_[index].load(std::memory_order_acquire);
      entry.version = version;
    }
    const auto it = entry.shard->find(key, hash);
    if (it == entry.shard->end()) return nullptr;
    const Slot* slot = it->second.get();
    const uint64_t slot_version = slot->version.load(std::memory_order_acquire);
    if (cache.seen.size() > kMaxSeen) cache.seen.clear();  // forget slots of removed names
    auto& seen = cache.seen[slot];
    if (seen.version != slot_version || !seen.value) {
      seen.value = slot->value.load(std::memory_order_acquire);
      seen.version = slot_version;
    }
    return seen.value.get();
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
      // Same shard map, new value: cached readers keep their shard and notice the slot version.
      it->second->value.store(std::move(value), std::memory_order_release);
      it->second->version.store(++next_version_, std::memory_order_release);
      return;
    }
    auto copy = std::make_shared<Shard>(*shard);
    auto slot = std::make_shared<Slot>();
    slot->value.store(std::move(value));
    slot->version.store(++next_version_);
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
  static size_t HashOf(const Lookup& key) {
    return typename Shard::hasher{}(key);
  }
  // Shards take the high bits: the map inside a shard uses the low 7 bits as its control byte,
  // and keys sharing them would turn every probe into a key comparison.
  static size_t ShardOfHash(size_t hash) { return (hash >> 40) % kShards; }
  template <typename Lookup>
  static size_t ShardOf(const Lookup& key) {
    return ShardOfHash(HashOf(key));
  }

  static constexpr size_t kMaxSeen = 1 << 16;
  std::array<std::atomic<std::shared_ptr<const Shard>>, kShards> shards_;
  std::array<std::atomic<uint64_t>, kShards> versions_{};
  uint64_t next_version_ = 0;  // writer only; slot versions are unique across the index
};

}  // namespace dnsd::common
