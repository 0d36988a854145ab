// Credentials to identities: logins, tokens over time, passwords sent with every request, and
// what each kind of request needs (the HTTP and gRPC tables).
#include "auth/authenticator.h"

#include <gtest/gtest.h>

#include "api/auth_http_api.h"
#include "api/grpc_auth.h"
#include "auth/password.h"

namespace dnsd::auth {
namespace {

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() : authenticator_(Options(), store_, clock_, metrics_) {
    Apply(AuthOp::kCreateAdmin, "nacos", "admin-pw");
    Apply(AuthOp::kCreateUser, "bob", "bob-pw");
  }
  static AuthOptions Options() {
    AuthOptions o;
    o.enabled = true;
    o.token_secret = std::string(32, 's');
    o.token_ttl_s = 100;
    return o;
  }
  void Apply(AuthOp op, std::string user, std::string password) {
    AuthCommand c;
    c.op = op;
    c.username = std::move(user);
    c.password_hash = *HashPassword(password, 4);
    ASSERT_TRUE(store_.Apply(c).ok());
  }

  AuthStore store_;
  common::FakeClock clock_;
  common::MetricsRegistry metrics_;
  Authenticator authenticator_;
};

TEST_F(AuthenticatorTest, LoginAndToken) {
  auto login = authenticator_.Login("nacos", "admin-pw");
  ASSERT_TRUE(login.ok()) << login.status();
  EXPECT_TRUE(login->global_admin);
  EXPECT_EQ(login->ttl_s, 100);
  auto who = authenticator_.Authenticate(login->token, "", "");
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(who->username, "nacos");

  // Wrong user and wrong password look the same.
  EXPECT_EQ(authenticator_.Login("nacos", "nope").status().message(), "unknown user!");
  EXPECT_EQ(authenticator_.Login("ghost", "admin-pw").status().message(), "unknown user!");

  clock_.AdvanceMs(101'000);
  EXPECT_EQ(authenticator_.Authenticate(login->token, "", "").status().message(), "token expired!");
}

TEST_F(AuthenticatorTest, DeletedUsersTokenStopsAtOnce) {
  auto login = authenticator_.Login("bob", "bob-pw");
  ASSERT_TRUE(login.ok());
  AuthCommand del;
  del.op = AuthOp::kDeleteUser;
  del.username = "bob";
  ASSERT_TRUE(store_.Apply(del).ok());
  EXPECT_FALSE(authenticator_.Authenticate(login->token, "", "").ok());
}

TEST_F(AuthenticatorTest, PasswordPerRequestIsRememberedUntilItChanges) {
  EXPECT_TRUE(authenticator_.Authenticate("", "bob", "bob-pw").ok());
  EXPECT_TRUE(authenticator_.Authenticate("", "bob", "bob-pw").ok());  // remembered
  EXPECT_FALSE(authenticator_.Authenticate("", "bob", "bob-pwx").ok());
  Apply(AuthOp::kSetPassword, "bob", "new-pw");
  EXPECT_FALSE(authenticator_.Authenticate("", "bob", "bob-pw").ok())
      << "the remembered password went with the change";
  EXPECT_TRUE(authenticator_.Authenticate("", "bob", "new-pw").ok());
  EXPECT_FALSE(authenticator_.Authenticate("", "", "").ok());
  // A token, when given, decides alone.
  EXPECT_FALSE(authenticator_.Authenticate("garbage", "bob", "new-pw").ok());
}

TEST_F(AuthenticatorTest, Authorize) {
  const Identity bob{"bob"};
  const Resource a{"", "DEFAULT_GROUP", "naming", "a"};
  EXPECT_EQ(authenticator_.Authorize(bob, a, Action::kRead).code(),
            absl::StatusCode::kPermissionDenied);
  AuthCommand bind;
  bind.op = AuthOp::kBindRole;
  bind.role = "dev";
  bind.username = "bob";
  ASSERT_TRUE(store_.Apply(bind).ok());
  AuthCommand grant;
  grant.op = AuthOp::kGrant;
  grant.role = "dev";
  grant.resource = "public:*:naming/*";
  grant.action = "r";
  ASSERT_TRUE(store_.Apply(grant).ok());
  EXPECT_TRUE(authenticator_.Authorize(bob, a, Action::kRead).ok());
  EXPECT_FALSE(authenticator_.Authorize(bob, a, Action::kWrite).ok());
  EXPECT_FALSE(authenticator_.RequireAdmin(bob).ok());
  EXPECT_TRUE(authenticator_.RequireAdmin(Identity{"nacos"}).ok());
  EXPECT_TRUE(authenticator_.Authorize(Identity{"nacos"}, a, Action::kWrite).ok()) << "an admin";
}

TEST(AuthOptionsTest, SecretRequiredWhenOn) {
  AuthOptions o;
  EXPECT_TRUE(ValidateAuthOptions(o).ok());
  o.enabled = true;
  EXPECT_FALSE(ValidateAuthOptions(o).ok());
  o.token_secret = std::string(31, 'x');
  EXPECT_FALSE(ValidateAuthOptions(o).ok());
  o.token_secret = std::string(32, 'x');
  EXPECT_TRUE(ValidateAuthOptions(o).ok());
}

api::HttpRequest Request(api::Method method, std::string path,
                         std::vector<std::pair<std::string, std::string>> params) {
  api::HttpRequest r;
  r.method = method;
  r.path = std::move(path);
  for (auto& [k, v] : params) r.params.Add(k, v);
  return r;
}

std::string Only(const api::AccessNeed& need) {
  EXPECT_EQ(need.kind, api::AccessNeed::Kind::kResources);
  EXPECT_EQ(need.resources.size(), 1u);
  if (need.resources.size() != 1) return "";
  return JoinResource(need.resources[0].first) +
         (need.resources[0].second == Action::kRead ? " r" : " w");
}

TEST(RequiredAccessTest, HttpRoutes) {
  using api::Method;
  using Kind = api::AccessNeed::Kind;
  EXPECT_EQ(Only(*api::RequiredAccess(
                Request(Method::kPost, "/nacos/v1/ns/instance", {{"serviceName", "g1@@svc"}}))),
            "public:g1:naming/svc w");
  EXPECT_EQ(Only(*api::RequiredAccess(Request(Method::kGet, "/nacos/v2/ns/instance/list",
                                              {{"namespaceId", "dev"}, {"serviceName", "svc"}}))),
            "dev:DEFAULT_GROUP:naming/svc r");
  EXPECT_EQ(Only(*api::RequiredAccess(Request(Method::kGet, "/nacos/v1/ns/service/list", {}))),
            "public:*:naming/* r");
  EXPECT_EQ(Only(*api::RequiredAccess(Request(Method::kPost, "/nacos/v1/cs/configs",
                                              {{"dataId", "d"}, {"tenant", "public"}}))),
            "public:DEFAULT_GROUP:config/d w");
  EXPECT_EQ(
      Only(*api::RequiredAccess(Request(Method::kDelete, "/nacos/v2/cs/config",
                                        {{"dataId", "d"}, {"group", "g"}, {"namespaceId", "x"}}))),
      "x:g:config/d w");
  auto poll = api::RequiredAccess(Request(Method::kPost, "/nacos/v1/cs/configs/listener",
                                          {{"Listening-Configs",
                                            "a\x02g\x02md5\x01"
                                            "b\x02h\x02md5\x02ns\x01"}}));
  ASSERT_TRUE(poll.ok());
  ASSERT_EQ(poll->resources.size(), 2u) << "a long poll reads every key it lists";
  EXPECT_EQ(JoinResource(poll->resources[1].first), "ns:h:config/b");
  EXPECT_EQ(poll->resources[1].second, Action::kRead);
  EXPECT_FALSE(api::RequiredAccess(Request(Method::kPost, "/nacos/v1/cs/configs/listener",
                                           {{"Listening-Configs", "only-one-field\x01"}}))
                   .ok());
  EXPECT_EQ(api::RequiredAccess(Request(Method::kPost, "/nacos/v1/auth/users/login", {}))->kind,
            Kind::kOpen);
  EXPECT_EQ(api::RequiredAccess(Request(Method::kPost, "/nacos/v1/auth/users", {}))->kind,
            Kind::kAdmin);
  auto own =
      api::RequiredAccess(Request(Method::kPut, "/nacos/v1/auth/users", {{"username", "bob"}}));
  EXPECT_EQ(own->kind, Kind::kSelfOrAdmin);
  EXPECT_EQ(own->self, "bob");
  EXPECT_EQ(api::RequiredAccess(Request(Method::kPut, "/nacos/v1/ns/operator/switches", {}))->kind,
            Kind::kAdmin);
  EXPECT_EQ(api::RequiredAccess(Request(Method::kGet, "/nacos/v1/core/cluster/nodes", {}))->kind,
            Kind::kUser);
  EXPECT_EQ(api::RequiredAccess(Request(Method::kDelete, "/nacos/v1/console/namespaces", {}))->kind,
            Kind::kAdmin);
  EXPECT_EQ(api::RequiredAccess(Request(Method::kPost, "/somewhere/unknown", {}))->kind,
            Kind::kAdmin);
}

TEST(RequiredAccessTest, GrpcTypes) {
  Json::Value body(Json::objectValue);
  body["namespace"] = "dev";
  body["serviceName"] = "svc";
  body["groupName"] = "g";
  EXPECT_EQ(Only(api::RequiredGrpcAccess("InstanceRequest", body)), "dev:g:naming/svc w");
  EXPECT_EQ(Only(api::RequiredGrpcAccess("SubscribeServiceRequest", body)), "dev:g:naming/svc r");
  Json::Value listen(Json::objectValue);
  Json::Value context(Json::objectValue);
  context["dataId"] = "d";
  context["group"] = "g";
  context["tenant"] = "";
  listen["configListenContexts"].append(context);
  EXPECT_EQ(Only(api::RequiredGrpcAccess("ConfigBatchListenRequest", listen)),
            "public:g:config/d r");
  EXPECT_EQ(api::RequiredGrpcAccess("HealthCheckRequest", body).kind, api::AccessNeed::Kind::kOpen);
}

}  // namespace
}  // namespace dnsd::auth
