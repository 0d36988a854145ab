// Atom: an immutable string interned process-wide, 8 bytes, for values repeated across many
// records (an instance's cluster name, the client that owns it). Copies share one
// reference-counted text; equal texts are one text, so equality is a pointer comparison. The
// empty string and Nacos's "DEFAULT" cluster are built in and never counted or locked; other
// texts are found in a table under a mutex when an Atom is made from a string, and leave it
// when their last Atom goes. Safe to make, copy and drop on any thread.
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace dnsd::common {

class Atom {
 public:
  Atom() noexcept;              // the empty string
  Atom(std::string_view text);  // NOLINT(google-explicit-constructor): a string's stand-in
  Atom(const std::string& text) : Atom(std::string_view(text)) {}  // NOLINT
  Atom(const char* text) : Atom(std::string_view(text)) {}         // NOLINT
  Atom(const Atom& other) noexcept : rep_(other.rep_) { Ref(rep_); }
  Atom(Atom&& other) noexcept;
  Atom& operator=(const Atom& other) noexcept;
  Atom& operator=(Atom&& other) noexcept;
  ~Atom() { Unref(rep_); }

  const std::string& str() const { return rep_->text; }
  operator const std::string&() const { return rep_->text; }  // NOLINT
  operator std::string_view() const { return rep_->text; }    // NOLINT
  bool empty() const { return rep_->text.empty(); }
  size_t size() const { return rep_->text.size(); }
  const char* data() const { return rep_->text.data(); }
  const char* c_str() const { return rep_->text.c_str(); }
  void clear() { *this = Atom(); }

  friend bool operator==(const Atom& a, const Atom& b) { return a.rep_ == b.rep_; }
  friend std::strong_ordering operator<=>(const Atom& a, const Atom& b) {
    if (a.rep_ == b.rep_) return std::strong_ordering::equal;
    return a.str() <=> b.str();
  }
  friend bool operator==(const Atom& a, std::string_view b) { return a.str() == b; }
  friend bool operator==(const Atom& a, const std::string& b) { return a.str() == b; }
  friend bool operator==(const Atom& a, const char* b) { return a.str() == b; }
  friend std::strong_ordering operator<=>(const Atom& a, std::string_view b) {
    return std::string_view(a.str()) <=> b;
  }
  template <typename H>
  friend H AbslHashValue(H h, const Atom& a) {
    return H::combine(std::move(h), std::string_view(a.str()));
  }

  // Texts in the table now (not counting the built-in ones); for tests.
  static size_t InternedCount();

 private:
  struct Rep {
    std::string text;
    std::atomic<uint32_t> refs{1};
    bool built_in = false;
  };
  static void Ref(Rep* rep) {
    if (!rep->built_in) rep->refs.fetch_add(1, std::memory_order_relaxed);
  }
  static void Unref(Rep* rep);
  Rep* rep_;
};

}  // namespace dnsd::common
