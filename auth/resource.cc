#include "auth/resource.h"

#include "common/strings.h"

namespace dnsd::auth {

Resource NamingResource(std::string_view namespace_id, std::string_view group,
                        std::string_view service) {
  Resource r;
  r.type = "naming";
  r.namespace_id = std::string(namespace_id);
  if (const size_t at = service.find("@@"); at != std::string_view::npos) {
    if (group.empty()) group = service.substr(0, at);
    service = service.substr(at + 2);
  }
  r.group = group.empty() && !service.empty() ? "DEFAULT_GROUP" : std::string(group);
  r.name = std::string(service);
  return r;
}

Resource ConfigResource(std::string_view namespace_id, std::string_view group,
                        std::string_view data_id) {
  Resource r;
  r.type = "config";
  r.namespace_id = std::string(namespace_id);
  r.group = group.empty() && !data_id.empty() ? "DEFAULT_GROUP" : std::string(group);
  r.name = std::string(data_id);
  return r;
}

std::string JoinResource(const Resource& r) {
  return common::StrCat(r.namespace_id.empty() ? "public" : r.namespace_id, ":",
                        r.group.empty() ? "*" : r.group, ":", r.type, "/",
                        r.name.empty() ? "*" : r.name);
}

bool PatternMatches(std::string_view pattern, std::string_view resource) {
  // Greedy matching with backtracking to the last star: linear in practice, and at worst
  // pattern × resource steps (both are short), never exponential as a regex could be.
  size_t p = 0, r = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (r < resource.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = r;
    } else if (p < pattern.size() && pattern[p] == resource[r]) {
      ++p;
      ++r;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      r = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool IsValidActionName(std::string_view action) {
  return action == "r" || action == "w" || action == "rw";
}

bool ActionAllows(std::string_view granted, Action action) {
  if (!IsValidActionName(granted)) return false;
  return granted.find(action == Action::kRead ? 'r' : 'w') != std::string_view::npos;
}

}  // namespace dnsd::auth
