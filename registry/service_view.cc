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
// Marks a view whose memo did not fit the budget (its readers encode per request).
const std::string kOverBudget;
}  // namespace

void ServiceView::SetMemoBudget(int64_t bytes) { memo_budget.store(bytes); }
int64_t ServiceView::memo_bytes() { return memo_used.load(std::memory_order_relaxed); }

ServiceView::~ServiceView() {
  const std::string* memo = memo_.load(std::memory_order_acquire);
  if (memo != nullptr && memo != &kOverBudget) {
    memo_used.fetch_sub(static_cast<int64_t>(memo->capacity()));
    delete memo;
  }
}

const std::string* ServiceView::Memo(
    absl::FunctionRef<std::string(const ServiceView&)> encode) const {
  const std::string* memo = memo_.load(std::memory_order_acquire);
  if (memo == nullptr) {
    // Readers racing on a fresh view may each encode; the first to install wins and the others
    // drop theirs (an encoding is a pure function of the view, so all are equal).
    std::string encoded = encode(*this);
    const auto size = static_cast<int64_t>(encoded.size());
    const std::string* mine = &kOverBudget;  // over budget: this view is encoded per request
    if (memo_used.fetch_add(size) + size > memo_budget.load()) {
      memo_used.fetch_sub(size);
    } else {
      encoded.shrink_to_fit();  // memos live as long as the view; do not keep growth slack
      memo_used.fetch_add(static_cast<int64_t>(encoded.capacity()) - size);
      mine = new std::string(std::move(encoded));
    }
    if (memo_.compare_exchange_strong(memo, mine, std::memory_order_acq_rel)) {
      memo = mine;
    } else if (mine != &kOverBudget) {
      memo_used.fetch_sub(static_cast<int64_t>(mine->capacity()));
      delete mine;
    }
  }
  return memo == &kOverBudget ? nullptr : memo;
}

}  // namespace dnsd::registry
