#include "registry/service_view.h"

#include <algorithm>
#include <atomic>

#include "common/strings.h"

namespace dnsd::registry {

ServiceView::ServiceView(std::shared_ptr<const ServiceKey> key,
                         std::shared_ptr<const ServiceMeta> meta,
                         std::vector<std::shared_ptr<const Instance>> instances, uint64_t revision)
    : key_(std::move(key)),
      meta_(std::move(meta)),
      instances_(std::move(instances)),
      revision_(revision) {}

ServiceView::ServiceView(ServiceKey key, ServiceMeta meta,
                         std::vector<std::shared_ptr<const Instance>> instances, uint64_t revision)
    : ServiceView(std::make_shared<const ServiceKey>(std::move(key)),
                  std::make_shared<const ServiceMeta>(std::move(meta)), std::move(instances),
                  revision) {}

Selection ServiceView::Select(std::string_view clusters, bool healthy_only) const {
  Selection out;
  SelectInto(clusters, healthy_only, out);
  return out;
}

void ServiceView::SelectInto(std::string_view clusters, bool healthy_only, Selection& out) const {
  out.instances.clear();
  out.reach_protection_threshold = false;
  std::vector<std::string_view> wanted;
  if (!clusters.empty()) wanted = common::Split(clusters, ',');
  out.instances.reserve(instances_.size());
  for (const auto& instance : instances_) {
    if (!instance->enabled) continue;
    if (!wanted.empty() &&
        std::find(wanted.begin(), wanted.end(), instance->cluster()) == wanted.end()) {
      continue;
    }
    if (healthy_only && !instance->healthy) continue;
    out.instances.push_back(instance.get());
  }
  // Nacos 2.x only checks the threshold for services with stored metadata, and never for an
  // empty list. With healthyOnly the ratio is over the already healthy list.
  if (meta_->stored && !out.instances.empty()) {
    size_t healthy = 0;
    for (const Instance* instance : out.instances) healthy += instance->healthy ? 1 : 0;
    const double ratio = static_cast<double>(healthy) / static_cast<double>(out.instances.size());
    out.reach_protection_threshold = ratio <= meta_->protect_threshold;
  }
}

namespace {
std::atomic<int64_t> memo_budget{int64_t{32} << 20};
std::atomic<int64_t> memo_used{0};
}  // namespace

void ServiceView::SetMemoBudget(int64_t bytes) { memo_budget.store(bytes); }
int64_t ServiceView::memo_bytes() { return memo_used.load(std::memory_order_relaxed); }

ServiceView::~ServiceView() {
  if (memo_kept_) memo_used.fetch_sub(static_cast<int64_t>(memo_.capacity()));
}

const std::string* ServiceView::Memo(
    absl::FunctionRef<std::string(const ServiceView&)> encode) const {
  std::call_once(memo_once_, [&] {
    std::string encoded = encode(*this);
    const auto size = static_cast<int64_t>(encoded.size());
    if (memo_used.fetch_add(size) + size > memo_budget.load()) {
      memo_used.fetch_sub(size);  // over budget: this view is encoded per request
      return;
    }
    memo_ = std::move(encoded);
    memo_.shrink_to_fit();  // memos live as long as the view; do not keep growth slack
    memo_used.fetch_add(static_cast<int64_t>(memo_.capacity()) - size);
    memo_kept_ = true;
  });
  return memo_kept_ ? &memo_ : nullptr;
}

}  // namespace dnsd::registry
