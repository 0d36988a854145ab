// Nacos auth over HTTP: the guard every request of a connection passes before its route, and
// the auth APIs (login, users, roles, permissions, the first admin), protocol reference §4.5.
//
// The guard (auth on): reads the credentials (`Authorization: Bearer`, then an `accessToken`
// header or parameter, then `username` + `password` parameters as the 1.x SDKs send them),
// works out what the request touches (RequiredAccess) and asks the Authenticator. Refusals are
// 403 with a plain-text reason, as Nacos's filter answers, for v1 and v2 alike. Nothing a
// client sends other than those credentials counts: no User-Agent, no peer header.
// With auth off the guard lets everything through and records no principal.
//
// What needs what (RequiredAccess):
// - open: login, the first-admin bootstrap (refused once an admin exists), health probes,
//   /metrics, and the server state page;
// - naming (/nacos/v{1,2}/ns/...): read (GET) or write on
//   "<namespaceId>:<groupName>:naming/<serviceName>", the group taken from "group@@name" when
//   the service name carries it; operator pages: any user to read, a global admin to write;
// - config (/nacos/v{1,2}/cs/...): read or write on "<tenant>:<group>:config/<dataId>"; a long
//   poll reads every key it lists; history reads;
// - auth management: a global admin, except a user changing their own password;
// - everything else (namespaces, cluster, /dnsd/...): any user to read, a global admin to
//   change.
//
// Thread-safety: the guard runs on HTTP threads; handlers answer through the proposer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "auth/authenticator.h"
#include "common/metrics.h"
#include "node/proposer.h"

namespace dnsd::api {

struct AccessNeed {
  enum class Kind { kOpen, kUser, kAdmin, kSelfOrAdmin, kResources };
  Kind kind = Kind::kUser;
  std::vector<std::pair<auth::Resource, auth::Action>> resources;  // kResources
  std::string self;  // kSelfOrAdmin: the user the request is about
};

// Pure: what a request needs, from its path, method and parameters. kInvalidArgument when the
// parameters it must read (a long poll's key list) do not parse.
absl::StatusOr<AccessNeed> RequiredAccess(const HttpRequest& request);

class AuthHttpApi {
 public:
  AuthHttpApi(auth::Authenticator& authenticator, node::Proposer& proposer);

  void RegisterRoutes(HttpServer& server);
  // The server's RequestGuard.
  std::optional<HttpResponse> Guard(HttpRequest& request);

 private:
  using Req = const HttpRequest&;
  using Resp = Responder&;
  void Login(Req req, Resp resp);
  void CreateAdmin(Req req, Resp resp);
  void Users(Req req, Resp resp);
  void SearchUsers(Req req, Resp resp);
  void Roles(Req req, Resp resp);
  void SearchRoles(Req req, Resp resp);
  void Permissions(Req req, Resp resp);
  // Proposes `command` and answers {"code":200,"message":ok_message} once applied.
  void Write(const auth::AuthCommand& command, std::string ok_message, Resp resp);

  auth::Authenticator& authenticator_;
  const auth::AuthStore& store_;
  node::Proposer& proposer_;
};

}  // namespace dnsd::api
