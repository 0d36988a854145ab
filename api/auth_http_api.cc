#include "api/auth_http_api.h"

#include <algorithm>

#include "api/api_status.h"
#include "api/config_http_api.h"
#include "api/json_writer.h"
#include "api/request_parsing.h"
#include "auth/audit.h"
#include "auth/password.h"
#include "common/crypto.h"
#include "common/strings.h"
#include "node/log_entries.h"

namespace dnsd::api {
namespace {

using auth::Action;
using auth::Resource;
using Kind = AccessNeed::Kind;

constexpr std::string_view kAuthPrefix = "/nacos/v1/auth/";
constexpr size_t kMaxNameBytes = 128;
constexpr int64_t kMaxPageSize = 1000;

bool StartsWithAny(std::string_view path, std::initializer_list<std::string_view> prefixes) {
  for (std::string_view p : prefixes) {
    if (path.starts_with(p)) return true;
  }
  return false;
}

Resource NamingResource(const Params& params) {
  return auth::NamingResource(params.Get("namespaceId"), params.Get("groupName"),
                              params.Get("serviceName"));
}

Resource ConfigResource(std::string_view tenant, std::string_view group, std::string_view data_id) {
  return auth::ConfigResource(config::NormalizeTenant(tenant), group, data_id);
}

Resource ConfigResource(const Params& params) {
  std::string tenant = params.Get("tenant");
  if (tenant.empty()) tenant = params.Get("namespaceId");
  return ConfigResource(tenant, params.Get("group"), params.Get("dataId"));
}

std::string Msg(const absl::Status& s) { return std::string(common::ToStd(s.message())); }

bool IsRead(Method m) { return m == Method::kGet || m == Method::kHead; }

HttpResponse Refusal(int status, std::string_view message) {
  return HttpResponse::Text(status, std::string(message));
}

// Nacos's RestResult: {"code","message","data":null}, the code also the HTTP status.
HttpResponse Result(int code, std::string_view message) {
  return V2Envelope(code, code, message, "null");
}

// As the other APIs, but a name taken already is a conflict (409), as Nacos's auth answers.
int AuthHttpStatus(const absl::Status& s) {
  return absl::IsAlreadyExists(s) ? 409 : HttpStatusOf(s);
}

// A user or role name: 1..128 bytes of UTF-8 without control characters, spaces or the
// resource separator.
absl::Status CheckName(std::string_view what, std::string_view name) {
  if (name.empty())
    return absl::InvalidArgumentError(common::StrCat("Parameter '", what, "' is missing"));
  if (name.size() > kMaxNameBytes || !common::IsValidUtf8(name)) {
    return absl::InvalidArgumentError(common::StrCat(what, " is too long or not UTF-8"));
  }
  for (unsigned char c : name) {
    if (c <= ' ' || c == 0x7f || c == ':') {
      return absl::InvalidArgumentError(
          common::StrCat(what, " must not contain spaces, control characters or ':'"));
    }
  }
  return absl::OkStatus();
}

struct PageRequest {
  int64_t page_no = 1;
  int64_t page_size = 100;
};

absl::StatusOr<PageRequest> ParsePage(const Params& params) {
  PageRequest p;
  auto no = IntParam(params, "pageNo", 1);
  if (!no.ok()) return no.status();
  auto size = IntParam(params, "pageSize", 100);
  if (!size.ok()) return size.status();
  if (*no < 1 || *size < 1 || *size > kMaxPageSize) {
    return absl::InvalidArgumentError("pageNo must be >= 1 and pageSize 1..1000");
  }
  p.page_no = *no;
  p.page_size = *size;
  return p;
}

// search=blur: substring; otherwise (accurate): equal, and an empty filter matches all.
bool Matches(std::string_view value, std::string_view filter, bool blur) {
  if (filter.empty()) return true;
  return blur ? value.find(filter) != std::string_view::npos : value == filter;
}

// The list APIs' answer: the request's page (pageNo, pageSize) of the items `keep(item, blur)`
// accepts, `search=blur` choosing substring over exact matches.
template <typename T, typename Keep, typename WriteItem>
HttpResponse FilteredPage(const HttpRequest& req, std::vector<T> items, Keep keep,
                          WriteItem write_item) {
  auto request = ParsePage(req.params);
  if (!request.ok()) return Result(400, Msg(request.status()));
  const bool blur = req.params.Get("search") == "blur";
  std::erase_if(items, [&](const T& item) { return !keep(item, blur); });
  config::Page<T> page;
  page.total_count = static_cast<int64_t>(items.size());
  page.page_no = static_cast<int>(request->page_no);
  page.pages_available =
      static_cast<int>((page.total_count + request->page_size - 1) / request->page_size);
  const size_t first = static_cast<size_t>((request->page_no - 1) * request->page_size);
  for (size_t i = first; i < items.size() && i < first + request->page_size; ++i) {
    page.items.push_back(std::move(items[i]));
  }
  return HttpResponse::Json(200, PageJson(page, write_item));
}

}  // namespace

absl::StatusOr<AccessNeed> RequiredAccess(const HttpRequest& request) {
  const std::string_view path = request.path;
  const bool read = IsRead(request.method);
  AccessNeed need;
  if (path == "/nacos/v1/auth/login" || path == "/nacos/v1/auth/users/login" ||
      path == "/nacos/v1/auth/users/admin" || path == "/metrics" ||
      path == "/nacos/v1/console/server/state" || path == "/" || path == "/nacos" ||
      path == "/nacos/index.html" || path.starts_with("/console/") ||
      StartsWithAny(path, {"/nacos/v1/console/health/", "/nacos/v2/console/health/"})) {
    need.kind = Kind::kOpen;
    return need;
  }
  if (path.starts_with(kAuthPrefix)) {
    if (path == "/nacos/v1/auth/users" && request.method == Method::kPut) {
      need.kind = Kind::kSelfOrAdmin;
      need.self = request.params.Get("username");
      return need;
    }
    need.kind = Kind::kAdmin;
    return need;
  }
  if (StartsWithAny(path, {"/nacos/v1/ns/", "/nacos/v2/ns/"}) || path == "/dnsd/v1/dns/names") {
    if (StartsWithAny(
            path, {"/nacos/v1/ns/operator/", "/nacos/v2/ns/operator/", "/nacos/v1/ns/ops/",
                   "/nacos/v2/ns/ops/", "/nacos/v2/ns/client", "/nacos/v1/ns/instance/statuses"})) {
      need.kind = read ? Kind::kUser : Kind::kAdmin;
      return need;
    }
    need.kind = Kind::kResources;
    need.resources.emplace_back(NamingResource(request.params),
                                read ? Action::kRead : Action::kWrite);
    return need;
  }
  if (StartsWithAny(path, {"/nacos/v1/cs/", "/nacos/v2/cs/"})) {
    need.kind = Kind::kResources;
    if (path == "/nacos/v1/cs/configs/listener") {
      // A long poll reads every config it lists (GET lists a config's listeners: a read too).
      if (const std::string* listening = request.params.Find("Listening-Configs")) {
        auto interests = ParseListeningConfigs(*listening);
        if (!interests.ok()) return interests.status();
        for (const auto& interest : *interests) {
          need.resources.emplace_back(
              ConfigResource(interest.key.tenant, interest.key.group, interest.key.data_id),
              Action::kRead);
        }
        return need;
      }
      need.resources.emplace_back(ConfigResource(request.params), Action::kRead);
      return need;
    }
    const bool history = path.find("/history") != std::string_view::npos;
    need.resources.emplace_back(ConfigResource(request.params),
                                read || history ? Action::kRead : Action::kWrite);
    return need;
  }
  need.kind = read ? Kind::kUser : Kind::kAdmin;
  return need;
}

AuthHttpApi::AuthHttpApi(auth::Authenticator& authenticator, node::Proposer& proposer)
    : authenticator_(authenticator), store_(authenticator.store()), proposer_(proposer) {}

namespace {

// A request that changes state someone decided: not reads, long polls, logins, heartbeats,
// nor ephemeral instances coming and going (SDK churn, thousands a second on a busy registry,
// which would drown the trail and cost a log line each on the registration path).
bool IsAuditedWrite(const HttpRequest& request) {
  if (IsRead(request.method)) return false;
  const std::string_view path = request.path;
  if (path.ends_with("/ns/instance") && request.params.Get("ephemeral") != "false") return false;
  return !path.ends_with("/instance/beat") && path != "/nacos/v1/cs/configs/listener" &&
         path != "/nacos/v1/auth/login" && path != "/nacos/v1/auth/users/login";
}

// What an audit line says the request was about.
std::string AuditTarget(const HttpRequest& request, const AccessNeed* need) {
  if (need != nullptr && !need->resources.empty()) return JoinResource(need->resources[0].first);
  std::string target;
  for (const char* name :
       {"username", "role", "resource", "namespaceId", "customNamespaceId", "entry"}) {
    if (const std::string* v = request.params.Find(name)) {
      target += common::StrCat(target.empty() ? "" : " ", name, "=", *v);
    }
  }
  return target;
}

std::string AuditWhat(const HttpRequest& request) {
  return common::StrCat(MethodName(request.method), " ", request.path);
}

}  // namespace

std::optional<HttpResponse> AuthHttpApi::Guard(HttpRequest& request) {
  const bool audited = IsAuditedWrite(request);
  if (!authenticator_.enabled()) {
    if (audited)
      auth::AuditWrite("", request.remote_ip, AuditWhat(request), AuditTarget(request, nullptr));
    return std::nullopt;
  }
  auto need = RequiredAccess(request);
  if (!need.ok()) return Refusal(400, Msg(need.status()));
  if (need->kind == Kind::kOpen) {
    if (audited)
      auth::AuditWrite("", request.remote_ip, AuditWhat(request), AuditTarget(request, nullptr));
    return std::nullopt;
  }
  std::string_view token;
  if (std::string_view bearer = request.Header("authorization"); bearer.starts_with("Bearer ")) {
    token = bearer.substr(7);
  }
  if (token.empty()) token = request.Header("accesstoken");
  if (token.empty()) {
    if (const std::string* t = request.params.Find("accessToken")) token = *t;
  }
  // The auth APIs take user names and passwords as their subject (a user to create), never as
  // credentials: those need a token.
  const bool auth_api = request.path.starts_with(kAuthPrefix);
  auto who = authenticator_.Authenticate(token, auth_api ? "" : request.params.Get("username"),
                                         auth_api ? "" : request.params.Get("password"));
  if (!who.ok()) {
    auth::AuditRefusal("", request.remote_ip, AuditWhat(request), Msg(who.status()));
    return Refusal(403, Msg(who.status()));
  }
  absl::Status allowed;
  switch (need->kind) {
    case Kind::kOpen:
    case Kind::kUser:
      break;
    case Kind::kAdmin:
      allowed = authenticator_.RequireAdmin(*who);
      break;
    case Kind::kSelfOrAdmin:
      if (need->self != who->username) allowed = authenticator_.RequireAdmin(*who);
      break;
    case Kind::kResources:
      for (const auto& [resource, action] : need->resources) {
        allowed = authenticator_.Authorize(*who, resource, action);
        if (!allowed.ok()) break;
      }
      break;
  }
  if (!allowed.ok()) {
    auth::AuditRefusal(who->username, request.remote_ip, AuditWhat(request), Msg(allowed));
    return Refusal(403, Msg(allowed));
  }
  if (audited) {
    auth::AuditWrite(who->username, request.remote_ip, AuditWhat(request),
                     AuditTarget(request, &*need));
  }
  request.principal = who->username;
  return std::nullopt;
}

void AuthHttpApi::RegisterRoutes(HttpServer& server) {
  auto bind = [this](void (AuthHttpApi::*fn)(Req, Resp)) {
    return [this, fn](Req req, Resp resp) { (this->*fn)(req, resp); };
  };
  server.Route("/nacos/v1/auth/login", bind(&AuthHttpApi::Login), kPostMethod);
  server.Route("/nacos/v1/auth/users/login", bind(&AuthHttpApi::Login), kPostMethod);
  server.Route("/nacos/v1/auth/users/admin", bind(&AuthHttpApi::CreateAdmin), kPostMethod);
  server.Route("/nacos/v1/auth/users", bind(&AuthHttpApi::Users),
               kGetMethod | kPostMethod | kPutMethod | kDeleteMethod);
  server.Route("/nacos/v1/auth/users/search", bind(&AuthHttpApi::SearchUsers), kGetMethod);
  server.Route("/nacos/v1/auth/roles", bind(&AuthHttpApi::Roles),
               kGetMethod | kPostMethod | kDeleteMethod);
  server.Route("/nacos/v1/auth/roles/search", bind(&AuthHttpApi::SearchRoles), kGetMethod);
  server.Route("/nacos/v1/auth/permissions", bind(&AuthHttpApi::Permissions),
               kGetMethod | kPostMethod | kDeleteMethod);
  // What a console or SDK asks before it shows a login page (Nacos's ServerStateController).
  server.Route(
      "/nacos/v1/console/server/state",
      [this](Req, Resp resp) {
        JsonWriter w;
        w.BeginObject()
            .Key("auth_enabled")
            .String(authenticator_.enabled() ? "true" : "false")
            .Key("login_page_enabled")
            .String(authenticator_.enabled() ? "true" : "false")
            .Key("auth_system_type")
            .String("nacos")
            .Key("auth_admin_request")
            .String(authenticator_.enabled() && !store_.HasAdmin() ? "true" : "false")
            .EndObject();
        resp.Send(HttpResponse::Json(200, w.Take()));
      },
      kGetMethod);
}

void AuthHttpApi::Write(const auth::AuthCommand& command, std::string ok_message, Resp resp) {
  DeferredReply reply = resp.Defer();
  proposer_.Propose(node::AuthLogEntry(command),
                    [reply, ok = std::move(ok_message)](absl::Status status) {
                      if (status.ok()) {
                        reply.Send(Result(200, ok));
                      } else {
                        reply.Send(Result(AuthHttpStatus(status), Msg(status)));
                      }
                    });
}

void AuthHttpApi::Login(Req req, Resp resp) {
  if (!authenticator_.enabled()) {
    resp.Send(Refusal(400, "auth is not enabled on this server: requests need no token"));
    return;
  }
  auto result = authenticator_.Login(req.params.Get("username"), req.params.Get("password"));
  if (!result.ok()) {
    auth::AuditRefusal(req.params.Get("username"), req.remote_ip, "login", Msg(result.status()));
    resp.Send(Refusal(403, Msg(result.status())));
    return;
  }
  JsonWriter w;
  w.BeginObject()
      .Key("accessToken")
      .String(result->token)
      .Key("tokenTtl")
      .Int(result->ttl_s)
      .Key("globalAdmin")
      .Bool(result->global_admin)
      .Key("username")
      .String(req.params.Get("username"))
      .EndObject();
  HttpResponse response = HttpResponse::Json(200, w.Take());
  response.headers.emplace_back("Authorization", "Bearer " + result->token);
  resp.Send(std::move(response));
}

void AuthHttpApi::CreateAdmin(Req req, Resp resp) {
  if (store_.HasAdmin()) {
    resp.Send(Result(409, "have admin user cannot use it"));
    return;
  }
  std::string username = req.params.Get("username", "nacos");
  std::string password = req.params.Get("password");
  if (auto s = CheckName("username", username); !s.ok()) {
    resp.Send(Result(400, Msg(s)));
    return;
  }
  // No password given: a random one, shown once in the answer (as Nacos 2.4 does).
  if (password.empty()) password = common::Base64UrlEncode(common::RandomBytes(12));
  auto hash = auth::HashPassword(password);
  if (!hash.ok()) {
    resp.Send(Result(400, Msg(hash.status())));
    return;
  }
  auth::AuthCommand c;
  c.op = auth::AuthOp::kCreateAdmin;
  c.username = username;
  c.password_hash = *hash;
  DeferredReply reply = resp.Defer();
  proposer_.Propose(node::AuthLogEntry(c), [reply, username, password](absl::Status status) {
    if (!status.ok()) {
      reply.Send(Result(AuthHttpStatus(status), Msg(status)));
      return;
    }
    JsonWriter w;
    w.BeginObject().Key("username").String(username).Key("password").String(password);
    w.EndObject();
    reply.Send(HttpResponse::Json(200, w.Take()));
  });
}

void AuthHttpApi::Users(Req req, Resp resp) {
  const std::string username = req.params.Get("username");
  switch (req.method) {
    case Method::kGet:
    case Method::kHead: {
      // Password hashes are not handed out (Nacos lists them; nobody needs them).
      return resp.Send(FilteredPage(
          req, store_.Usernames(),
          [&](const std::string& name, bool blur) { return Matches(name, username, blur); },
          [](JsonWriter& w, const std::string& name) {
            w.BeginObject().Key("username").String(name).EndObject();
          }));
    }
    case Method::kPost:
    case Method::kPut: {
      const bool create = req.method == Method::kPost;
      const std::string password = req.params.Get(create ? "password" : "newPassword");
      if (auto s = CheckName("username", username); !s.ok()) return resp.Send(Result(400, Msg(s)));
      if (password.empty()) {
        return resp.Send(Result(
            400,
            common::StrCat("Parameter '", create ? "password" : "newPassword", "' is missing")));
      }
      auto hash = auth::HashPassword(password);
      if (!hash.ok()) return resp.Send(Result(400, Msg(hash.status())));
      auth::AuthCommand c;
      c.op = create ? auth::AuthOp::kCreateUser : auth::AuthOp::kSetPassword;
      c.username = username;
      c.password_hash = *hash;
      return Write(c, create ? "create user ok!" : "update user ok!", resp);
    }
    case Method::kDelete: {
      if (auto s = CheckName("username", username); !s.ok()) return resp.Send(Result(400, Msg(s)));
      auth::AuthCommand c;
      c.op = auth::AuthOp::kDeleteUser;
      c.username = username;
      return Write(c, "delete user ok!", resp);
    }
    default:
      return resp.Send(Result(405, "method not allowed"));
  }
}

void AuthHttpApi::SearchUsers(Req req, Resp resp) {
  const std::string filter = req.params.Get("username");
  JsonWriter w;
  w.BeginArray();
  for (const auto& name : store_.Usernames()) {
    if (Matches(name, filter, /*blur=*/true)) w.String(name);
  }
  w.EndArray();
  resp.Send(HttpResponse::Json(200, w.Take()));
}

void AuthHttpApi::Roles(Req req, Resp resp) {
  const std::string role = req.params.Get("role");
  const std::string username = req.params.Get("username");
  switch (req.method) {
    case Method::kGet:
    case Method::kHead: {
      return resp.Send(FilteredPage(
          req, store_.Bindings(),
          [&](const auth::RoleBinding& b, bool blur) {
            return Matches(b.role, role, blur) && Matches(b.username, username, blur);
          },
          [](JsonWriter& w, const auth::RoleBinding& b) {
            w.BeginObject().Key("role").String(b.role).Key("username").String(b.username);
            w.EndObject();
          }));
    }
    case Method::kPost:
    case Method::kDelete: {
      if (auto s = CheckName("role", role); !s.ok()) return resp.Send(Result(400, Msg(s)));
      const bool bind = req.method == Method::kPost;
      if (bind) {
        if (auto s = CheckName("username", username); !s.ok())
          return resp.Send(Result(400, Msg(s)));
      }
      auth::AuthCommand c;
      c.op = bind ? auth::AuthOp::kBindRole : auth::AuthOp::kUnbindRole;
      c.role = role;
      c.username = username;
      return Write(c, bind ? "add role ok!" : "delete role of user " + username + " ok!", resp);
    }
    default:
      return resp.Send(Result(405, "method not allowed"));
  }
}

void AuthHttpApi::SearchRoles(Req req, Resp resp) {
  const std::string filter = req.params.Get("role");
  std::vector<std::string> roles;
  for (const auto& b : store_.Bindings()) {
    if (Matches(b.role, filter, /*blur=*/true) && (roles.empty() || roles.back() != b.role)) {
      roles.push_back(b.role);  // bindings are sorted by role
    }
  }
  JsonWriter w;
  w.BeginArray();
  for (const auto& r : roles) w.String(r);
  w.EndArray();
  resp.Send(HttpResponse::Json(200, w.Take()));
}

void AuthHttpApi::Permissions(Req req, Resp resp) {
  const std::string role = req.params.Get("role");
  switch (req.method) {
    case Method::kGet:
    case Method::kHead: {
      return resp.Send(FilteredPage(
          req, store_.Permissions(),
          [&](const auth::Permission& p, bool blur) { return Matches(p.role, role, blur); },
          [](JsonWriter& w, const auth::Permission& p) {
            w.BeginObject().Key("role").String(p.role).Key("resource").String(p.resource);
            w.Key("action").String(p.action).EndObject();
          }));
    }
    case Method::kPost:
    case Method::kDelete: {
      const std::string resource = req.params.Get("resource");
      const std::string action = req.params.Get("action");
      if (auto s = CheckName("role", role); !s.ok()) return resp.Send(Result(400, Msg(s)));
      if (resource.empty() || resource.size() > 512 || !common::IsValidUtf8(resource)) {
        return resp.Send(Result(400, "Parameter 'resource' is missing or longer than 512 bytes"));
      }
      if (!auth::IsValidActionName(action)) {
        return resp.Send(Result(400, "Parameter 'action' must be r, w or rw"));
      }
      auth::AuthCommand c;
      c.op = req.method == Method::kPost ? auth::AuthOp::kGrant : auth::AuthOp::kRevoke;
      c.role = role;
      c.resource = resource;
      c.action = action;
      return Write(c, req.method == Method::kPost ? "add permission ok!" : "delete permission ok!",
                   resp);
    }
    default:
      return resp.Send(Result(405, "method not allowed"));
  }
}

}  // namespace dnsd::api
