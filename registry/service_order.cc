#include "registry/service_order.h"

#include <algorithm>

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

}  // namespace

void ServiceOrder::Insert(std::shared_ptr<const ServiceKey> key) {
  absl::MutexLock lock(&mu_);
  keys_.Insert(std::move(key));
}

void ServiceOrder::Erase(const ServiceKey& key) {
  absl::MutexLock lock(&mu_);
  keys_.Erase(key);
}

ServiceOrder::Page ServiceOrder::Range(std::string_view namespace_id,
                                       std::optional<std::string_view> group, size_t offset,
                                       size_t limit) const {
  absl::ReaderMutexLock lock(&mu_);
  const size_t first = keys_.CountPrefix([&](const std::shared_ptr<const ServiceKey>& k) {
    return Before(*k, namespace_id, group, /*inclusive=*/false);
  });
  const size_t end = keys_.CountPrefix([&](const std::shared_ptr<const ServiceKey>& k) {
    return Before(*k, namespace_id, group, /*inclusive=*/true);
  });
  Page page;
  page.total = end - first;
  if (offset >= page.total) return page;
  page.keys = keys_.Slice(first + offset, std::min(limit, page.total - offset));
  return page;
}

std::vector<std::shared_ptr<const ServiceKey>> ServiceOrder::After(const ServiceKey* after,
                                                                   size_t limit) const {
  absl::ReaderMutexLock lock(&mu_);
  const size_t first =
      after == nullptr ? 0 : keys_.CountPrefix([&](const std::shared_ptr<const ServiceKey>& k) {
        return !(*after < *k);
      });
  return keys_.Slice(first, limit);
}

size_t ServiceOrder::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return keys_.size();
}

}  // namespace dnsd::registry
