// String helpers that work with std::string_view. Debian's abseil is built with its own
// absl::string_view (not std::string_view), so absl::StrCat and friends do not accept
// std::string_view; dnsd uses these instead and keeps abseil for Status and containers.
// All functions are pure and thread-safe.
#pragma once

#include <charconv>
#include <concepts>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/string_view.h"

namespace dnsd::common {

namespace strings_internal {
inline void AppendPiece(std::string& out, std::string_view s) { out.append(s); }
inline void AppendPiece(std::string& out, const char* s) { out.append(s); }
inline void AppendPiece(std::string& out, const std::string& s) { out.append(s); }
inline void AppendPiece(std::string& out, char c) { out.push_back(c); }
inline void AppendPiece(std::string& out, bool b) { out.append(b ? "true" : "false"); }
// Types that stand for a string and show it through str() (common::Atom).
template <typename T>
requires requires(const T& t) {
  { t.str() } -> std::convertible_to<const std::string&>;
}
inline void AppendPiece(std::string& out, const T& v) { out.append(v.str()); }
template <typename T>
requires(std::is_same_v<T, absl::string_view> &&
         !std::is_same_v<T, std::string_view>) inline void AppendPiece(std::string& out, T s) {
  out.append(s.data(), s.size());
}
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool> &&
         !std::is_same_v<T, char>) inline void AppendPiece(std::string& out, T v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}
template <typename T>
requires std::is_floating_point_v<T>
inline void AppendPiece(std::string& out, T v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, end);
}
}  // namespace strings_internal

template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::AppendPiece(out, args), ...);
  return out;
}

template <typename... Args>
void StrAppend(std::string* out, const Args&... args) {
  (strings_internal::AppendPiece(*out, args), ...);
}

inline std::string_view ToStd(absl::string_view s) { return std::string_view(s.data(), s.size()); }

std::string_view Trim(std::string_view s);
std::vector<std::string_view> Split(std::string_view s, char sep, bool skip_empty = true);
std::string ToLower(std::string_view s);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);
bool ParseInt64(std::string_view s, int64_t& out);
// The value of a hexadecimal digit, or -1.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool ParseDouble(std::string_view s, double& out);
bool IsAlnum(char c);
// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);
// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 if there is none.
size_t Utf8SequenceLength(std::string_view s);
bool IsDigit(char c);

}  // namespace dnsd::common
