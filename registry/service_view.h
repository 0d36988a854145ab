// ServiceView is an immutable picture of one service (its definition and instances) at one
// revision. The registry writer builds a new view on every change and publishes it; readers on
// any thread hold a shared_ptr<const ServiceView> and never see it change.
//
// Select() applies Nacos's query rules (§3.2 and §3.5 of the protocol reference):
// enabled only, cluster filter, healthyOnly, then the protect threshold.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "registry/naming_model.h"

namespace dnsd::registry {

struct Selection {
  std::vector<const Instance*> instances;
  // True when the protect threshold fired: every instance is returned and reported healthy.
  bool reach_protection_threshold = false;
};

class ServiceView {
 public:
  // The key and the meta are shared with the registry's state of the service (and the meta
  // with every view until it changes): a view costs its instance list, not another copy of
  // what rarely changes.
  ServiceView(std::shared_ptr<const ServiceKey> key, std::shared_ptr<const ServiceMeta> meta,
              std::vector<std::shared_ptr<const Instance>> instances, uint64_t revision);
  ServiceView(ServiceKey key, ServiceMeta meta,
              std::vector<std::shared_ptr<const Instance>> instances, uint64_t revision);

  const ServiceKey& key() const { return *key_; }
  const std::shared_ptr<const ServiceKey>& shared_key() const { return key_; }
  const ServiceMeta& meta() const { return *meta_; }
  // Sorted by (cluster, ip, port).
  const std::vector<std::shared_ptr<const Instance>>& instances() const { return instances_; }
  uint64_t revision() const { return revision_; }

  // `clusters` is a comma-separated filter, empty for all.
  Selection Select(std::string_view clusters, bool healthy_only) const;
  // The same into `out`, reusing its capacity (for callers that keep one per thread).
  void SelectInto(std::string_view clusters, bool healthy_only, Selection& out) const;

  // A per-view memo for an encoding of the unfiltered selection (e.g. the JSON host list), so
  // hot read paths encode once per revision instead of once per request. `encode` must be a
  // pure function of the view; the first caller computes it. Memos of all live views share a
  // process-wide byte budget: past it this returns nullptr and the caller encodes itself.
  const std::string* Memo(absl::FunctionRef<std::string(const ServiceView&)> encode) const;
  static void SetMemoBudget(int64_t bytes);
  static int64_t memo_bytes();
  ~ServiceView();

 private:
  std::shared_ptr<const ServiceKey> key_;
  std::shared_ptr<const ServiceMeta> meta_;
  std::vector<std::shared_ptr<const Instance>> instances_;
  uint64_t revision_;
  // Null until the first Memo() call; then the encoding (owned) or kOverBudget. One pointer
  // rather than a once_flag and an inline string: a view exists per service (and per revision
  // while readers hold old ones), and most are never asked for a memo.
  mutable std::atomic<const std::string*> memo_{nullptr};
};

}  // namespace dnsd::registry
