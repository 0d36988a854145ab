// A small streaming JSON writer for response bodies on hot paths, where building a jsoncpp
// tree per request would cost more than the request itself. Produces compact JSON; commas
// are inserted automatically. Not thread-safe; one writer per response.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/strings.h"

namespace dnsd::api {

class JsonWriter {
 public:
  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }

  // Keys written as string literals in our code need no escaping scan.
  template <size_t N>
  JsonWriter& Key(const char (&literal)[N]) {
    Separate();
    out_.push_back('"');
    out_.append(literal, N - 1);
    out_.append("\":", 2);
    after_key_ = true;
    return *this;
  }
  JsonWriter& Key(std::string_view key) {
    Separate();
    AppendQuoted(out_, key);
    out_.push_back(':');
    after_key_ = true;
    return *this;
  }
  JsonWriter& String(std::string_view v) {
    Separate();
    AppendQuoted(out_, v);
    return *this;
  }
  JsonWriter& Int(int64_t v) {
    Separate();
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    out_.append(buf, end);
    return *this;
  }
  // Java-style doubles: 1.0, 0.5, 100.0.
  JsonWriter& Double(double v) {
    Separate();
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
    std::string_view text(buf, static_cast<size_t>(end - buf));
    out_.append(text);
    if (text.find_first_of(".eEn") == std::string_view::npos) out_.append(".0");
    return *this;
  }
  JsonWriter& Bool(bool v) {
    Separate();
    out_.append(v ? "true" : "false");
    return *this;
  }
  JsonWriter& Null() {
    Separate();
    out_.append("null");
    return *this;
  }
  // Inserts already-encoded JSON as one value.
  JsonWriter& Raw(std::string_view json) {
    Separate();
    out_.append(json);
    return *this;
  }

  std::string& str() { return out_; }
  std::string Take() { return std::move(out_); }

  static void AppendQuoted(std::string& out, std::string_view s) {
    static constexpr char kHex[] = "0123456789abcdef";
    out.push_back('"');
    // Copy runs of plain characters at once; only escapes go byte by byte.
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') continue;
      if (c >= 0x80) {
        // Well-formed UTF-8 is copied; anything else becomes U+FFFD, so the document stays
        // valid JSON whatever bytes a stored value holds.
        const size_t n = common::Utf8SequenceLength(s.substr(i));
        if (n > 0) {
          i += n - 1;
          continue;
        }
        out.append(s.data() + run, i - run);
        run = i + 1;
        out.append("\xEF\xBF\xBD");
        continue;
      }
      out.append(s.data() + run, i - run);
      run = i + 1;
      switch (c) {
        case '"':
          out.append("\\\"");
          break;
        case '\\':
          out.append("\\\\");
          break;
        case '\n':
          out.append("\\n");
          break;
        case '\r':
          out.append("\\r");
          break;
        case '\t':
          out.append("\\t");
          break;
        case '\b':
          out.append("\\b");
          break;
        case '\f':
          out.append("\\f");
          break;
        default:
          out.append("\\u00");
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
      }
    }
    out.append(s.data() + run, s.size() - run);
    out.push_back('"');
  }

 private:
  JsonWriter& Open(char c) {
    Separate();
    out_.push_back(c);
    first_.push_back(true);
    return *this;
  }
  JsonWriter& Close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return *this;
  }
  void Separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (!first_.empty()) {
      if (!first_.back()) out_.push_back(',');
      first_.back() = false;
    }
  }

  std::string out_;
  std::vector<bool> first_;
  bool after_key_ = false;
};

// Nacos's Page object, {"totalCount","pageNumber","pagesAvailable","pageItems":[...]}, from any
// page with those fields (config::Page) and a writer for one item.
template <typename Page, typename Fn>
std::string PageJson(const Page& page, Fn write_item) {
  JsonWriter w;
  w.BeginObject()
      .Key("totalCount")
      .Int(page.total_count)
      .Key("pageNumber")
      .Int(page.page_no)
      .Key("pagesAvailable")
      .Int(page.pages_available)
      .Key("pageItems")
      .BeginArray();
  for (const auto& item : page.items) write_item(w, item);
  w.EndArray().EndObject();
  return w.Take();
}

}  // namespace dnsd::api
