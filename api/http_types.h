// Request and response values exchanged between the HTTP server and the API handlers.
// A request is only valid during the handler call (it borrows the connection's buffers).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dnsd::api {

// Parameters from the query string and a form body, merged: the first occurrence of a name
// wins, so the query string takes precedence over the body (as in Spring).
class Params {
 public:
  void Add(std::string name, std::string value) {
    entries_.emplace_back(std::move(name), std::move(value));
  }
  const std::string* Find(std::string_view name) const {
    for (const auto& [n, v] : entries_) {
      if (n == name) return &v;
    }
    return nullptr;
  }
  std::string Get(std::string_view name, std::string_view fallback = {}) const {
    const std::string* v = Find(name);
    return v ? *v : std::string(fallback);
  }
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  size_t size() const { return entries_.size(); }
  const std::pair<std::string, std::string>& At(size_t i) const { return entries_[i]; }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
};

enum class Method { kGet, kPost, kPut, kDelete, kPatch, kHead, kOptions, kOther };

// The methods by their names on the wire, in the order an Allow header lists them.
inline constexpr std::pair<Method, std::string_view> kMethodNames[] = {
    {Method::kGet, "GET"},        {Method::kHead, "HEAD"},     {Method::kPost, "POST"},
    {Method::kPut, "PUT"},        {Method::kDelete, "DELETE"}, {Method::kPatch, "PATCH"},
    {Method::kOptions, "OPTIONS"}};
inline Method MethodFromName(std::string_view name) {
  for (const auto& [method, text] : kMethodNames) {
    if (text == name) return method;
  }
  return Method::kOther;
}
// "" for kOther.
inline std::string_view MethodName(Method method) {
  for (const auto& [m, text] : kMethodNames) {
    if (m == method) return text;
  }
  return {};
}

struct HttpRequest {
  Method method = Method::kGet;
  std::string path;
  Params params;
  std::string_view body;
  std::string remote_ip;
  // Who made the request, set by the server's guard once it has checked their credentials:
  // a user name, or "" when auth is off (then the client's address identifies them).
  std::string principal;
  // Names lowercased, in arrival order.
  const std::vector<std::pair<std::string, std::string>>* headers = nullptr;

  // The first value of header `name` (any case), or "".
  std::string_view Header(std::string_view name) const {
    if (headers == nullptr) return {};
    for (const auto& [n, v] : *headers) {
      if (n.size() != name.size()) continue;
      bool same = true;
      for (size_t i = 0; i < n.size() && same; ++i) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        same = n[i] == c;
      }
      if (same) return v;
    }
    return {};
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain;charset=UTF-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse Text(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
  static HttpResponse Json(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.content_type = "application/json;charset=UTF-8";
    r.body = std::move(body);
    return r;
  }
};

// A request that owns its bytes, for serving it after the connection's buffers are gone (a
// request forwarded to, or from, another member). Not copyable: `request` points into it.
struct OwnedHttpRequest {
  explicit OwnedHttpRequest(const HttpRequest& r) : request(r) {
    if (r.headers) headers = *r.headers;
    body = std::string(r.body);
    request.headers = &headers;
    request.body = body;
  }
  OwnedHttpRequest(const OwnedHttpRequest&) = delete;
  OwnedHttpRequest& operator=(const OwnedHttpRequest&) = delete;
  HttpRequest request;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Percent-decodes `in` ('+' means space). Invalid escapes are kept literally, because some
// clients (nacos-sdk-go's PUT bodies) send values that are not encoded at all.
std::string UrlDecode(std::string_view in);
std::string UrlEncode(std::string_view in);
void ParseFormInto(std::string_view encoded, Params& out);

}  // namespace dnsd::api
