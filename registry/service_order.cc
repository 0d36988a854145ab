#include "registry/service_order.h"

#include <algorithm>
#include <cassert>

namespace dnsd::registry {
namespace {

// Whether `key` sorts before the end (or, with `inclusive`, after the last key) of the range
// (ns, group); without a group, of the namespace.
bool Before(const ServiceKey& key, std::string_view ns, std::optional<std::string_view> group,
            bool inclusive) {
  const int by_ns = std::string_view(key.namespace_id).compare(ns);
  if (by_ns != 0 || !group) return inclusive ? by_ns <= 0 : by_ns < 0;
  const int by_group = std::string_view(key.group).compare(*group);
  return inclusive ? by_group <= 0 : by_group < 0;
}

bool KeyLess(const std::shared_ptr<const ServiceKey>& a,
             const std::shared_ptr<const ServiceKey>& b) {
  return *a < *b;
}

}  // namespace

template <typename Before>
size_t ServiceOrder::CountPrefixLocked(Before before) const {
  // The first chunk whose last key is not before the boundary holds the boundary.
  const auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                          [&](const Chunk& c) { return before(*c.back()); });
  if (chunk == chunks_.end()) return size_;
  const auto inside =
      std::partition_point(chunk->begin(), chunk->end(),
                           [&](const std::shared_ptr<const ServiceKey>& k) { return before(*k); });
  const auto index = static_cast<size_t>(chunk - chunks_.begin());
  return before_[index] + static_cast<size_t>(inside - chunk->begin());
}

std::pair<size_t, size_t> ServiceOrder::LocateLocked(size_t rank) const {
  // The last chunk that starts at or before `rank`.
  const auto it = std::upper_bound(before_.begin(), before_.end(), rank);
  const auto index = static_cast<size_t>(it - before_.begin()) - 1;
  return {index, rank - before_[index]};
}

void ServiceOrder::RecountLocked(size_t from_chunk) {
  before_.resize(chunks_.size());
  for (size_t i = from_chunk; i < chunks_.size(); ++i) {
    before_[i] = i == 0 ? 0 : before_[i - 1] + chunks_[i - 1].size();
  }
}

void ServiceOrder::Insert(std::shared_ptr<const ServiceKey> key) {
  absl::MutexLock lock(&mu_);
  if (chunks_.empty()) {
    chunks_.emplace_back().push_back(std::move(key));
    RecountLocked(0);
    ++size_;
    return;
  }
  // The first chunk whose last key is not below the new key, or the last chunk.
  auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                    [&](const Chunk& c) { return *c.back() < *key; });
  if (chunk == chunks_.end()) --chunk;
  auto at = std::lower_bound(chunk->begin(), chunk->end(), key, KeyLess);
  assert(at == chunk->end() || !(**at == *key));
  chunk->insert(at, std::move(key));
  ++size_;
  size_t index = static_cast<size_t>(chunk - chunks_.begin());
  if (chunk->size() > kMaxChunk) {
    // Split in halves: both stay at least a quarter full.
    Chunk upper(std::make_move_iterator(chunk->begin() + kMaxChunk / 2),
                std::make_move_iterator(chunk->end()));
    chunk->resize(kMaxChunk / 2);
    chunks_.insert(chunks_.begin() + static_cast<std::ptrdiff_t>(index) + 1, std::move(upper));
  }
  RecountLocked(index);
}

void ServiceOrder::Erase(const ServiceKey& key) {
  absl::MutexLock lock(&mu_);
  auto chunk = std::partition_point(chunks_.begin(), chunks_.end(),
                                    [&](const Chunk& c) { return *c.back() < key; });
  if (chunk == chunks_.end()) return;
  auto at = std::lower_bound(
      chunk->begin(), chunk->end(), key,
      [](const std::shared_ptr<const ServiceKey>& k, const ServiceKey& v) { return *k < v; });
  if (at == chunk->end() || !(**at == key)) return;
  chunk->erase(at);
  --size_;
  size_t index = static_cast<size_t>(chunk - chunks_.begin());
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
  RecountLocked(index == 0 ? 0 : index - 1);
}

ServiceOrder::Page ServiceOrder::Range(std::string_view namespace_id,
                                       std::optional<std::string_view> group, size_t offset,
                                       size_t limit) const {
  absl::ReaderMutexLock lock(&mu_);
  const size_t first = CountPrefixLocked(
      [&](const ServiceKey& k) { return Before(k, namespace_id, group, /*inclusive=*/false); });
  const size_t end = CountPrefixLocked(
      [&](const ServiceKey& k) { return Before(k, namespace_id, group, /*inclusive=*/true); });
  Page page;
  page.total = end - first;
  if (offset >= page.total || limit == 0) return page;
  const size_t count = std::min(limit, page.total - offset);
  page.keys.reserve(count);
  auto [chunk, at] = LocateLocked(first + offset);
  while (page.keys.size() < count) {
    page.keys.push_back(chunks_[chunk][at]);
    if (++at == chunks_[chunk].size()) {
      ++chunk;
      at = 0;
    }
  }
  return page;
}

std::vector<std::shared_ptr<const ServiceKey>> ServiceOrder::After(const ServiceKey* after,
                                                                   size_t limit) const {
  absl::ReaderMutexLock lock(&mu_);
  const size_t first =
      after == nullptr ? 0 : CountPrefixLocked([&](const ServiceKey& k) { return !(*after < k); });
  std::vector<std::shared_ptr<const ServiceKey>> out;
  if (first >= size_) return out;
  out.reserve(std::min(limit, size_ - first));
  auto [chunk, at] = LocateLocked(first);
  while (out.size() < limit && chunk < chunks_.size()) {
    out.push_back(chunks_[chunk][at]);
    if (++at == chunks_[chunk].size()) {
      ++chunk;
      at = 0;
    }
  }
  return out;
}

size_t ServiceOrder::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return size_;
}

}  // namespace dnsd::registry
