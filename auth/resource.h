// What a request touches, in Nacos's terms, and the permission patterns that grant it.
// A resource is "<namespace>:<group>:<type>/<name>" (type naming or config; "*" for a group or
// name the request does not narrow down), as Nacos joins it; the empty namespace id is
// spelled "public". A permission names a role, a pattern over that string and an action:
// "r", "w" or "rw". In a pattern "*" matches any run of characters (Nacos turns it into the
// regex ".*"); every other character matches itself (Nacos's other regex syntax is not
// honoured, so "." in a namespace id means a dot).
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace dnsd::auth {

enum class Action { kRead, kWrite };

struct Resource {
  std::string namespace_id;  // "" is "public"
  std::string group;         // "" is "*"
  std::string type;          // "naming" or "config"
  std::string name;          // "" is "*"
};

// A naming request's resource as Nacos parses it: the group from `group`, else from a
// "group@@name" service name, else DEFAULT_GROUP when a service is named.
Resource NamingResource(std::string_view namespace_id, std::string_view group,
                        std::string_view service);
// A config request's resource: DEFAULT_GROUP when a dataId is named without a group.
Resource ConfigResource(std::string_view namespace_id, std::string_view group,
                        std::string_view data_id);

std::string JoinResource(const Resource& resource);
// Full match of `pattern` against `resource` with "*" as the only wildcard.
bool PatternMatches(std::string_view pattern, std::string_view resource);
// "r", "w" or "rw" (Nacos's letters); true when `action` is among them.
bool ActionAllows(std::string_view granted, Action action);
bool IsValidActionName(std::string_view action);

}  // namespace dnsd::auth
