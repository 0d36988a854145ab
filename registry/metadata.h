// Metadata: string keys to string values, kept sorted by key (as Nacos shows them), for
// instances, services and clusters. There is one per instance and most are empty or hold a
// few entries, so it is one pointer to a sorted array: 8 bytes when empty and ~70 bytes per
// entry, where a std::map costs 48 bytes empty and ~100 per entry. The interface is the part
// of std::map's that the server uses; iterators are invalidated by any change.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dnsd::registry {

class Metadata {
 public:
  using value_type = std::pair<std::string, std::string>;
  using iterator = value_type*;
  using const_iterator = const value_type*;

  Metadata() = default;
  Metadata(std::initializer_list<value_type> entries) { insert(entries.begin(), entries.end()); }
  template <typename It>
  Metadata(It first, It last) {
    insert(first, last);
  }
  Metadata(const Metadata& other)
      : items_(other.empty() ? nullptr : std::make_unique<std::vector<value_type>>(*other.items_)) {
  }
  Metadata(Metadata&&) noexcept = default;
  Metadata& operator=(const Metadata& other) {
    if (this != &other) *this = Metadata(other);
    return *this;
  }
  Metadata& operator=(Metadata&&) noexcept = default;

  bool empty() const { return !items_ || items_->empty(); }
  size_t size() const { return items_ ? items_->size() : 0; }
  const_iterator begin() const { return items_ ? items_->data() : nullptr; }
  const_iterator end() const { return items_ ? items_->data() + items_->size() : nullptr; }
  iterator begin() { return items_ ? items_->data() : nullptr; }
  iterator end() { return items_ ? items_->data() + items_->size() : nullptr; }

  const_iterator find(std::string_view key) const {
    const_iterator it = LowerBound(key);
    return it != end() && it->first == key ? it : end();
  }
  iterator find(std::string_view key) {
    return const_cast<iterator>(std::as_const(*this).find(key));
  }
  // The value of `key`; throws std::out_of_range when absent (as std::map's at).
  const std::string& at(std::string_view key) const {
    const_iterator it = find(key);
    if (it == end()) throw std::out_of_range("metadata key not found");
    return it->second;
  }
  bool contains(std::string_view key) const { return find(key) != end(); }
  size_t count(std::string_view key) const { return contains(key) ? 1 : 0; }

  // The value of `key`, inserted empty when absent.
  std::string& operator[](std::string_view key) {
    return emplace(key, std::string()).first->second;
  }
  // Inserts when `key` is absent; an existing value stays (as std::map's emplace).
  std::pair<iterator, bool> emplace(std::string_view key, std::string value) {
    iterator it = const_cast<iterator>(LowerBound(key));
    if (it != end() && it->first == key) return {it, false};
    if (!items_) items_ = std::make_unique<std::vector<value_type>>();
    auto at =
        items_->insert(items_->begin() + (it - begin()), {std::string(key), std::move(value)});
    return {&*at, true};
  }
  std::pair<iterator, bool> insert(const value_type& entry) {
    return emplace(entry.first, entry.second);
  }
  template <typename It>
  void insert(It first, It last) {
    for (; first != last; ++first) emplace(first->first, std::string(first->second));
  }
  void insert_or_assign(std::string_view key, std::string value) {
    (*this)[key] = std::move(value);
  }
  size_t erase(std::string_view key) {
    iterator it = find(key);
    if (it == end()) return 0;
    items_->erase(items_->begin() + (it - begin()));
    if (items_->empty()) items_.reset();
    return 1;
  }
  void clear() { items_.reset(); }

  friend bool operator==(const Metadata& a, const Metadata& b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }

 private:
  const_iterator LowerBound(std::string_view key) const {
    return std::lower_bound(begin(), end(), key, [](const value_type& entry, std::string_view k) {
      return std::string_view(entry.first) < k;
    });
  }
  std::unique_ptr<std::vector<value_type>> items_;  // null when empty
};

}  // namespace dnsd::registry
