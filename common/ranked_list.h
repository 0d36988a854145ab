// RankedList keeps values in order with ranks, so that a page of a listing costs
// O(log n + page) however long the list is: a count is the difference of two ranks (each a
// binary search), a page starts at a rank. Listings that collected and sorted (or scanned)
// everything per request cost 260-300 ms a page at 100,000 services.
//
// Layout: sorted chunks of at most kMaxChunk values, and the number of values before each
// chunk. Finding a rank is a binary search over the chunks' last values and then within one
// chunk; an insert or erase moves at most one chunk's values and updates the counts after it:
// O(B + n/B), a few microseconds at a million values.
//
// `Less` orders values; it must also compare a value with any probe type given to Erase (in
// both argument orders), e.g. a shared_ptr<const Key> with a Key.
//
// Not thread-safe: the owner guards it (the service order and the config store share a
// reader-writer lock with their readers).
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace dnsd::common {

template <typename T, typename Less>
class RankedList {
 public:
  static constexpr size_t kMaxChunk = 512;

  // Inserts `value`, which must not be present.
  void Insert(T value) {
    ++size_;
    if (chunks_.empty()) {
      chunks_.emplace_back().push_back(std::move(value));
      Recount(0);
      return;
    }
    // The first chunk whose last value is not below the new one, or the last chunk.
    auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                      [&](const Chunk& c) { return less_(c.back(), value); });
    if (chunk == chunks_.end()) --chunk;
    auto at = std::lower_bound(chunk->begin(), chunk->end(), value, less_);
    chunk->insert(at, std::move(value));
    const auto index = static_cast<size_t>(chunk - chunks_.begin());
    if (chunk->size() > kMaxChunk) {
      // Split in halves: both stay at least a quarter full.
      Chunk upper(std::make_move_iterator(chunk->begin() + kMaxChunk / 2),
                  std::make_move_iterator(chunk->end()));
      chunk->resize(kMaxChunk / 2);
      chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(upper));
    }
    Recount(index);
  }

  // Erases the value equal to `probe`; false when there is none.
  template <typename Probe>
  bool Erase(const Probe& probe) {
    auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                      [&](const Chunk& c) { return less_(c.back(), probe); });
    if (chunk == chunks_.end()) return false;
    auto at = std::lower_bound(chunk->begin(), chunk->end(), probe,
                               [&](const T& v, const Probe& p) { return less_(v, p); });
    if (at == chunk->end() || less_(probe, *at)) return false;
    chunk->erase(at);
    --size_;
    const auto index = static_cast<size_t>(chunk - chunks_.begin());
    if (chunk->empty()) {
      chunks_.erase(chunk);
    } else if (index + 1 < chunks_.size() &&
               chunk->size() + chunks_[index + 1].size() <= kMaxChunk / 2) {
      // Merge small neighbours, so that mass deletions do not leave a long tail of tiny chunks.
      Chunk& next = chunks_[index + 1];
      chunk->insert(chunk->end(), std::make_move_iterator(next.begin()),
                    std::make_move_iterator(next.end()));
      chunks_.erase(chunks_.begin() + static_cast<std::ptrdiff_t>(index) + 1);
    }
    Recount(index == 0 ? 0 : index - 1);
    return true;
  }

  // The number of values for which `before(value)` holds, given that those values come first
  // in the order (a prefix): the rank of a boundary.
  template <typename Before>
  size_t CountPrefix(Before before) const {
    // The first chunk whose last value is not before the boundary holds the boundary.
    const auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                            [&](const Chunk& c) { return before(c.back()); });
    if (chunk == chunks_.end()) return size_;
    const auto inside = std::partition_point(chunk->begin(), chunk->end(), before);
    const auto index = static_cast<size_t>(chunk - chunks_.begin());
    return before_[index] + static_cast<size_t>(inside - chunk->begin());
  }

  // Up to `limit` values from rank `first` on, in order.
  std::vector<T> Slice(size_t first, size_t limit) const {
    std::vector<T> out;
    if (first >= size_ || limit == 0) return out;
    out.reserve(std::min(limit, size_ - first));
    // The last chunk that starts at or before `first`.
    const auto it = std::upper_bound(before_.begin(), before_.end(), first);
    size_t chunk = static_cast<size_t>(it - before_.begin()) - 1;
    size_t at = first - before_[chunk];
    while (out.size() < limit && chunk < chunks_.size()) {
      out.push_back(chunks_[chunk][at]);
      if (++at == chunks_[chunk].size()) {
        ++chunk;
        at = 0;
      }
    }
    return out;
  }

  size_t size() const { return size_; }
  void Clear() {
    chunks_.clear();
    before_.clear();
    size_ = 0;
  }

 private:
  using Chunk = std::vector<T>;
  void Recount(size_t from_chunk) {
    before_.resize(chunks_.size());
    for (size_t i = from_chunk; i < chunks_.size(); ++i) {
      before_[i] = i == 0 ? 0 : before_[i - 1] + chunks_[i - 1].size();
    }
  }

  [[no_unique_address]] Less less_;
  std::vector<Chunk> chunks_;
  std::vector<size_t> before_;  // before_[i]: values in chunks [0, i)
  size_t size_ = 0;
};

}  // namespace dnsd::common
