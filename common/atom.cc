#include "common/atom.h"

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace dnsd::common {
namespace {

// The table of interned texts. Leaked on purpose: Atoms in static objects may be dropped
// after it would have been destroyed.
struct Table {
  absl::Mutex mu;
  // Keys view the Rep's own text.
  absl::flat_hash_map<std::string_view, void*> reps ABSL_GUARDED_BY(mu);
};
Table& table() {
  static Table* t = new Table;
  return *t;
}

// Built-in texts: never in the table, never counted, never freed.
template <typename Rep>
Rep* BuiltIn(std::string_view text) {
  auto* rep = new Rep;
  rep->text = std::string(text);
  rep->built_in = true;
  return rep;
}
}  // namespace

Atom::Atom() noexcept {
  static Rep* const empty = BuiltIn<Rep>("");
  rep_ = empty;
}

Atom::Atom(std::string_view text) {
  static Rep* const empty = Atom().rep_;
  static Rep* const default_cluster = BuiltIn<Rep>("DEFAULT");
  if (text.empty()) {
    rep_ = empty;
    return;
  }
  if (text == default_cluster->text) {
    rep_ = default_cluster;
    return;
  }
  Table& t = table();
  absl::MutexLock lock(&t.mu);
  auto it = t.reps.find(text);
  if (it != t.reps.end()) {
    rep_ = static_cast<Rep*>(it->second);
    // Under the table's lock: a count that reached zero and waits for this lock to erase the
    // text sees it raised again and keeps it (Unref).
    rep_->refs.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  rep_ = new Rep;
  rep_->text = std::string(text);
  t.reps.emplace(rep_->text, rep_);
}

Atom::Atom(Atom&& other) noexcept : rep_(other.rep_) { other.rep_ = Atom().rep_; }

Atom& Atom::operator=(const Atom& other) noexcept {
  Ref(other.rep_);
  Unref(rep_);
  rep_ = other.rep_;
  return *this;
}

Atom& Atom::operator=(Atom&& other) noexcept {
  if (this != &other) {
    Unref(rep_);
    rep_ = other.rep_;
    other.rep_ = Atom().rep_;
  }
  return *this;
}

void Atom::Unref(Rep* rep) {
  if (rep->built_in) return;
  // Counts above one drop without the lock. The last reference drops under the table's lock,
  // where nobody can find the text and raise the count in between.
  uint32_t refs = rep->refs.load(std::memory_order_relaxed);
  while (refs > 1) {
    if (rep->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_acq_rel)) return;
  }
  Table& t = table();
  absl::MutexLock lock(&t.mu);
  if (rep->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  t.reps.erase(std::string_view(rep->text));
  delete rep;
}

size_t Atom::InternedCount() {
  Table& t = table();
  absl::MutexLock lock(&t.mu);
  return t.reps.size();
}

}  // namespace dnsd::common
