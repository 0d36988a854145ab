// CowIndex is a map from Key to an immutable Value for lock-free readers and one writer.
//
// Readers: Find() does two atomic shared_ptr loads (the key's shard, then its slot) and never
// waits for the writer. Hot readers (DNS workers) pass a ReaderCache they own and get a plain
// pointer: shards and slots carry versions (unique across the index), and while they are
// unchanged the reader reuses the shard and value it cached. A cache remembers recently
// found keys in a direct-mapped table indexed by the key's hash, so a repeated lookup is the
// hash, one table entry, two version loads and one comparison with the key the slot keeps
// (on its version's cache line), with no map probe and no atomic read-modify-write. Table
// entries hold no key of their own, which keeps the table small enough to stay in cache
// (halving the lookup's share of DNS CPU in profiles). A returned pointer stays valid for at least
// the next kRetiredValues lookups through the same cache (a table entry that is overwritten keeps
// its old value alive that long), which covers the few lookups one query makes. Lookups accept any
// type the map can look up heterogeneously (e.g. absl::string_view for std::string keys), so they
// need no allocation.
//
// Writer (one at a time; the caller serialises writers): replacing the value of an existing
// key is one atomic store; adding or removing a key stages a change of its shard (below) and,
// outside a batch, publishes it at once. It copies only the key's bucket (at most
// kMaxBucket entries) and its shard's bucket directory (at most kMaxBuckets pointers), so a key
// costs the same to add at a million keys as at a thousand. A shard starts as one bucket and
// doubles its buckets when one outgrows kMaxBucket (every entry of the shard moves once per
// doubling: amortised constant). Copying a whole shard per new key instead made the millionth
// service cost ~4,000 entry copies, and a restart with 100,000 services spend most of its time
// (and much of its heap, in freed copies) there.
//
// Batches (BeginBatch/EndBatch, writer only) are for bulk loads before readers care, such as a
// restart's snapshot: keys added or removed inside one are staged and readers see them at
// EndBatch, and each shard directory and bucket is copied once per batch, not once per key.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"

namespace dnsd::common {

// Hash and Eq default to the ones absl::flat_hash_map uses for Key; a Key that is a handle
// (e.g. a shared_ptr to a key the caller keeps anyway) passes its own transparent pair so that
// lookups by the pointed-to key work and the slot stores only the handle.
template <typename Key, typename Value, size_t kShards = 256,
          typename Hash = typename absl::flat_hash_map<Key, int>::hasher,
          typename Eq = typename absl::flat_hash_map<Key, int>::key_equal>
class CowIndex {
  struct Slot {
    explicit Slot(const Key& k) : key(k) {}
    std::atomic<std::shared_ptr<const Value>> value;
    std::atomic<uint64_t> version{0};  // bumped after every store of `value`
    // A copy of the map key, on the same cache line as `version`, so that a reader's recent-key
    // table needs no key of its own: a hit reads this line once for both checks.
    const Key key;
  };
  // The hash and equality for Key (transparent for strings: absl::string_view lookups),
  // applied to the key a slot keeps, so that a bucket holds only slot pointers: the key is
  // stored once per entry, not once more in the bucket.
  using KeyHash = Hash;
  using KeyEq = Eq;
  static const Key& KeyOf(const std::shared_ptr<Slot>& slot) { return slot->key; }
  template <typename Lookup>
  static const Lookup& KeyOf(const Lookup& key) {
    return key;
  }
  struct SlotHash {
    using is_transparent = void;
    template <typename K>
    size_t operator()(const K& k) const {
      return KeyHash{}(KeyOf(k));
    }
  };
  struct SlotEq {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      return KeyEq{}(KeyOf(a), KeyOf(b));
    }
  };
  using Bucket = absl::flat_hash_set<std::shared_ptr<Slot>, SlotHash, SlotEq>;
  // Immutable once published. buckets.size() is a power of two.
  struct Shard {
    std::vector<std::shared_ptr<const Bucket>> buckets;
    size_t size = 0;  // keys in all buckets
    const Bucket& BucketOf(size_t hash) const {
      return *buckets[BucketOfHash(hash, buckets.size())];
    }
  };

 public:
  // One per reader thread; must not outlive the index.
  static constexpr size_t kRecentKeys = 4096;  // direct-mapped; a power of two
  static constexpr size_t kRetiredValues = 16;
  static constexpr size_t kMaxBucket = 48;
  static constexpr size_t kMaxBuckets = 1024;  // per shard; past kShards * this * kMaxBucket
                                               // keys, buckets grow past kMaxBucket

  class ReaderCache {
   private:
    friend class CowIndex;
    struct Entry {
      uint64_t version = ~uint64_t{0};
      std::shared_ptr<const Shard> shard;
    };
    struct Recent {
      size_t hash = 0;
      uint64_t shard_version = ~uint64_t{0};
      uint64_t slot_version = 0;
      const Slot* slot = nullptr;  // alive while entries[shard] holds shard_version's map
      std::shared_ptr<const Value> value;
    };
    void Retire(std::shared_ptr<const Value> value) {
      retired[next_retired++ % kRetiredValues] = std::move(value);
    }
    std::array<Entry, kShards> entries;
    std::array<Recent, kRecentKeys> recent;
    std::array<std::shared_ptr<const Value>, kRetiredValues> retired;
    size_t next_retired = 0;
  };

  CowIndex() {
    // Every shard starts as the same empty one-bucket shard (copied on its first key).
    auto empty = std::make_shared<Shard>();
    empty->buckets.push_back(std::make_shared<const Bucket>());
    for (auto& shard : shards_) shard.store(empty);
  }

  template <typename Lookup>
  std::shared_ptr<const Value> Find(const Lookup& key) const {
    const size_t hash = HashOf(key);
    const auto shard = shards_[ShardOfHash(hash)].load(std::memory_order_acquire);
    const Bucket& bucket = shard->BucketOf(hash);
    const auto it = bucket.find(key, hash);
    if (it == bucket.end()) return nullptr;
    return (*it)->value.load(std::memory_order_acquire);
  }

  // The returned pointer stays valid for at least kRetiredValues further lookups with `cache`.
  template <typename Lookup>
  const Value* Find(const Lookup& key, ReaderCache& cache) const {
    const size_t hash = HashOf(key);
    const size_t index = ShardOfHash(hash);
    const uint64_t version = versions_[index].load(std::memory_order_acquire);
    auto& recent = cache.recent[hash & (kRecentKeys - 1)];
    if (recent.hash == hash && recent.shard_version == version && recent.slot != nullptr &&
        KeyEq{}(recent.slot->key, key)) {
      // The shard has not changed since this entry was filled, so its slot is still in it.
      const uint64_t slot_version = recent.slot->version.load(std::memory_order_acquire);
      if (slot_version != recent.slot_version) {
        cache.Retire(std::move(recent.value));
        recent.value = recent.slot->value.load(std::memory_order_acquire);
        recent.slot_version = slot_version;
      }
      return recent.value.get();
    }
    auto& entry = cache.entries[index];
    if (entry.version != version) {
      // Version first, then the shard: a shard newer than the version only causes one more
      // refresh on a later lookup, never a stale answer.
      entry.shard = shards_[index].load(std::memory_order_acquire);
      entry.version = version;
    }
    const Bucket& bucket = entry.shard->BucketOf(hash);
    const auto it = bucket.find(key, hash);
    if (it == bucket.end()) return nullptr;
    const Slot* slot = it->get();
    // Version before value: a value newer than the version only causes one more reload later.
    const uint64_t slot_version = slot->version.load(std::memory_order_acquire);
    cache.Retire(std::move(recent.value));
    recent.value = slot->value.load(std::memory_order_acquire);
    recent.hash = hash;
    recent.shard_version = entry.version;
    recent.slot_version = slot_version;
    recent.slot = slot;
    return recent.value.get();
  }

  // Visits every value; order is unspecified.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const auto& shard_ptr : shards_) {
      const auto shard = shard_ptr.load(std::memory_order_acquire);
      for (const auto& bucket : shard->buckets) {
        for (const auto& slot : *bucket) {
          fn(slot->key, slot->value.load(std::memory_order_acquire));
        }
      }
    }
  }

  // Writer only.
  void Publish(const Key& key, std::shared_ptr<const Value> value) {
    const size_t hash = HashOf(key);
    const size_t index = ShardOfHash(hash);
    std::shared_ptr<const Shard> published;
    const Bucket& bucket = CurrentShard(index, published).BucketOf(hash);
    if (const auto it = bucket.find(key, hash); it != bucket.end()) {
      // Same shard, new value: cached readers keep their shard and notice the slot version.
      (*it)->value.store(std::move(value), std::memory_order_release);
      (*it)->version.store(++next_version_, std::memory_order_release);
      return;
    }
    auto slot = std::make_shared<Slot>(key);
    slot->value.store(std::move(value));
    slot->version.store(++next_version_);
    Staged& staged = StagedShard(index);
    const size_t bucket_count = staged.shard->buckets.size();
    const size_t b = BucketOfHash(hash, bucket_count);
    if (staged.shard->buckets[b]->size() >= kMaxBucket && bucket_count < kMaxBuckets) {
      staged.shard = Split(*staged.shard, std::move(slot));
      staged.owned.assign(staged.shard->buckets.size(), true);  // all new
    } else {
      OwnedBucket(staged, b).insert(std::move(slot));
      ++staged.shard->size;
    }
    if (!batch_) Commit(index);
  }

  template <typename Lookup>
  void Remove(const Lookup& key) {
    const size_t hash = HashOf(key);
    const size_t index = ShardOfHash(hash);
    std::shared_ptr<const Shard> published;
    if (!CurrentShard(index, published).BucketOf(hash).contains(key)) return;
    Staged& staged = StagedShard(index);
    OwnedBucket(staged, BucketOfHash(hash, staged.shard->buckets.size())).erase(key);
    --staged.shard->size;
    if (!batch_) Commit(index);
  }

  // Writer only. Between the two, added and removed keys are staged: readers see them at
  // EndBatch (a new value for an existing key shows at once, as outside a batch).
  void BeginBatch() { batch_ = true; }
  void EndBatch() {
    batch_ = false;
    for (size_t i = 0; i < kShards; ++i) {
      if (staged_[i].shard) Commit(i);
    }
  }

  // Writer only: keys and buckets of the shard `key` falls in (for tests of the layout).
  std::pair<size_t, size_t> ShardShapeOf(const Key& key) const {
    const auto shard = shards_[ShardOf(key)].load(std::memory_order_acquire);
    return {shard->size, shard->buckets.size()};
  }

 private:
  template <typename Lookup>
  static size_t HashOf(const Lookup& key) {
    return KeyHash{}(key);
  }
  // Shards take the high bits and buckets the bits below them: the map inside a bucket uses the
  // low 7 bits as its control byte, and keys sharing them would turn every probe into a key
  // comparison.
  static size_t ShardOfHash(size_t hash) { return (hash >> 40) % kShards; }
  static size_t BucketOfHash(size_t hash, size_t bucket_count) {
    return (hash >> 20) & (bucket_count - 1);
  }
  // A shard being changed inside a batch: a private copy of the directory, and which of its
  // buckets are private copies already (those are changed in place).
  struct Staged {
    std::shared_ptr<Shard> shard;
    std::vector<bool> owned;
  };
  Staged& StagedShard(size_t index) {
    Staged& staged = staged_[index];
    if (!staged.shard) {
      staged.shard = std::make_shared<Shard>(*shards_[index].load(std::memory_order_acquire));
      staged.owned.assign(staged.shard->buckets.size(), false);
    }
    return staged;
  }
  static Bucket& OwnedBucket(Staged& staged, size_t b) {
    if (!staged.owned[b]) {
      staged.shard->buckets[b] = std::make_shared<Bucket>(*staged.shard->buckets[b]);
      staged.owned[b] = true;
    }
    // Created non-const just above (or by Split) and not yet seen by any reader.
    return const_cast<Bucket&>(*staged.shard->buckets[b]);
  }
  // The shard as the writer sees it: the staged copy, else the published one (kept alive
  // through `published`).
  const Shard& CurrentShard(size_t index, std::shared_ptr<const Shard>& published) const {
    if (staged_[index].shard) return *staged_[index].shard;
    published = shards_[index].load(std::memory_order_acquire);
    return *published;
  }
  void Commit(size_t index) {
    shards_[index].store(std::move(staged_[index].shard), std::memory_order_release);
    versions_[index].fetch_add(1, std::memory_order_release);
    staged_[index] = Staged{};
  }
  // A copy of `shard` with twice the buckets (or more, until none is over kMaxBucket) and
  // `slot` added.
  static std::shared_ptr<Shard> Split(const Shard& shard, std::shared_ptr<Slot> slot) {
    size_t count = shard.buckets.size() * 2;
    std::vector<const std::shared_ptr<Slot>*> entries;
    entries.reserve(shard.size + 1);
    for (const auto& bucket : shard.buckets) {
      for (const auto& s : *bucket) entries.push_back(&s);
    }
    entries.push_back(&slot);
    std::vector<std::shared_ptr<Bucket>> buckets;
    while (true) {
      buckets.assign(count, nullptr);
      for (auto& b : buckets) b = std::make_shared<Bucket>();
      size_t largest = 0;
      for (const auto* s : entries) {
        auto& b = *buckets[BucketOfHash(HashOf((*s)->key), count)];
        b.insert(*s);
        largest = std::max(largest, b.size());
      }
      if (largest <= kMaxBucket || count >= kMaxBuckets) break;
      count *= 2;
    }
    auto next = std::make_shared<Shard>();
    next->buckets.assign(buckets.begin(), buckets.end());
    next->size = entries.size();
    return next;
  }
  template <typename Lookup>
  static size_t ShardOf(const Lookup& key) {
    return ShardOfHash(HashOf(key));
  }

  std::array<std::atomic<std::shared_ptr<const Shard>>, kShards> shards_;
  std::array<std::atomic<uint64_t>, kShards> versions_{};
  bool batch_ = false;                    // writer only
  std::array<Staged, kShards> staged_{};  // writer only: a batch's changes, or one change
  uint64_t next_version_ = 0;             // writer only; slot versions are unique across the index
};

}  // namespace dnsd::common
