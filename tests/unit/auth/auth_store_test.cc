// The auth state machine: Nacos's rules decided at apply time, permission matching, snapshots.
#include "auth/auth_store.h"

#include <gtest/gtest.h>

#include "auth/password.h"

namespace dnsd::auth {
namespace {

// bcrypt at the lowest cost keeps the tests fast; the store only checks the hash's shape.
const std::string& Hash() {
  static const std::string hash = *HashPassword("pw", 4);
  return hash;
}

AuthCommand Cmd(AuthOp op, std::string username = "", std::string role = "",
                std::string resource = "", std::string action = "") {
  AuthCommand c;
  c.op = op;
  c.username = std::move(username);
  c.password_hash = Hash();
  c.role = std::move(role);
  c.resource = std::move(resource);
  c.action = std::move(action);
  return c;
}

TEST(PasswordTest, HashAndVerify) {
  auto hash = HashPassword("correct horse", 4);
  ASSERT_TRUE(hash.ok()) << hash.status();
  EXPECT_TRUE(IsBcryptHash(*hash));
  EXPECT_TRUE(VerifyPassword("correct horse", *hash));
  EXPECT_FALSE(VerifyPassword("correct horsf", *hash));
  EXPECT_NE(*hash, *HashPassword("correct horse", 4)) << "salted";
  // Nacos's published hash of its old default password "nacos" ($2a$, cost 10).
  EXPECT_TRUE(
      VerifyPassword("nacos", "$2a$10$EuWPZHzz32dJN7jexM34MOeYirDdFAZm2kuWj7VEOJhhZkDrxfvUu"));
  EXPECT_FALSE(VerifyPassword("nacos", "nacos"));
  EXPECT_FALSE(HashPassword(std::string(73, 'a'), 4).ok()) << "bcrypt would cut it short";
  EXPECT_FALSE(HashPassword(std::string("a\0b", 3), 4).ok());
  EXPECT_FALSE(HashPassword("", 4).ok());
}

TEST(ResourceTest, JoinAndMatch) {
  EXPECT_EQ(JoinResource({"", "", "naming", ""}), "public:*:naming/*");
  EXPECT_EQ(JoinResource({"dev", "g", "config", "app.yaml"}), "dev:g:config/app.yaml");
  EXPECT_TRUE(PatternMatches("public:*:*", "public:DEFAULT_GROUP:naming/a"));
  EXPECT_TRUE(PatternMatches("*", "x:y:config/z"));
  EXPECT_TRUE(PatternMatches("dev:*:config/app.*", "dev:g:config/app.yaml"));
  EXPECT_FALSE(PatternMatches("dev:*:config/app.*", "dev:g:config/appXyaml"))
      << "a dot is a dot, not a regex";
  EXPECT_FALSE(PatternMatches("public:*:*", "prod:DEFAULT_GROUP:naming/a"));
  EXPECT_FALSE(PatternMatches("public:g:naming/a", "public:g:naming/ab")) << "a full match";
  EXPECT_TRUE(PatternMatches("**a*b*", "xxaxxbxx"));
  EXPECT_TRUE(ActionAllows("rw", Action::kRead));
  EXPECT_TRUE(ActionAllows("rw", Action::kWrite));
  EXPECT_FALSE(ActionAllows("r", Action::kWrite));
  EXPECT_FALSE(ActionAllows("x", Action::kRead));
}

TEST(AuthStoreTest, NacosRules) {
  AuthStore store;
  EXPECT_FALSE(store.HasAdmin());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kCreateAdmin, "nacos")).ok());
  EXPECT_TRUE(store.HasAdmin());
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kCreateAdmin, "other")).code(),
            absl::StatusCode::kAlreadyExists)
      << "the first admin is set once";
  EXPECT_FALSE(store.UserExists("other"));
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kDeleteUser, "nacos")).code(),
            absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kCreateUser, "bob")).ok());
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kCreateUser, "bob")).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kBindRole, "bob", "ROLE_ADMIN")).code(),
            absl::StatusCode::kInvalidArgument)
      << "no one becomes admin through the roles API";
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kBindRole, "nobody", "dev")).code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kGrant, "", "dev", "public:*:*", "r")).code(),
            absl::StatusCode::kNotFound)
      << "a permission needs an existing role";
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kBindRole, "bob", "dev")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kGrant, "", "dev", "public:*:naming/*", "r")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kGrant, "", "dev", "public:g:config/*", "rw")).ok());
  EXPECT_EQ(store.Apply(Cmd(AuthOp::kGrant, "", "dev", "public:*:*", "x")).code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_TRUE(store.Allows("bob", "public:DEFAULT_GROUP:naming/a", Action::kRead));
  EXPECT_FALSE(store.Allows("bob", "public:DEFAULT_GROUP:naming/a", Action::kWrite));
  EXPECT_TRUE(store.Allows("bob", "public:g:config/c", Action::kWrite));
  EXPECT_FALSE(store.Allows("bob", "prod:g:config/c", Action::kRead));
  EXPECT_TRUE(store.Allows("nacos", "prod:g:config/c", Action::kWrite)) << "global admin";
  EXPECT_FALSE(store.Allows("ghost", "public:g:config/c", Action::kRead));

  // Dropping the whole role takes its permissions with it.
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kUnbindRole, "", "dev")).ok());
  EXPECT_TRUE(store.Permissions().empty());
  EXPECT_FALSE(store.Allows("bob", "public:DEFAULT_GROUP:naming/a", Action::kRead));
  // Deleting a user drops its bindings: a new user of that name starts with nothing.
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kBindRole, "bob", "ops")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kDeleteUser, "bob")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kCreateUser, "bob")).ok());
  EXPECT_TRUE(store.RolesOf("bob").empty());
}

TEST(AuthStoreTest, SnapshotRoundTripAndCommandCodec) {
  AuthStore store;
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kCreateAdmin, "nacos")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kCreateUser, "bob")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kBindRole, "bob", "dev")).ok());
  ASSERT_TRUE(store.Apply(Cmd(AuthOp::kGrant, "", "dev", "public:*:*", "rw")).ok());
  const std::string snapshot = store.Snapshot();

  AuthStore copy;
  ASSERT_TRUE(copy.Restore(snapshot).ok());
  EXPECT_EQ(copy.Snapshot(), snapshot);
  EXPECT_TRUE(copy.IsGlobalAdmin("nacos"));
  EXPECT_TRUE(copy.Allows("bob", "public:g:naming/x", Action::kWrite));
  // Damaged bytes change nothing; an empty part (a snapshot from before auth) empties it.
  for (size_t cut : {size_t{3}, size_t{12}, snapshot.size() - 1}) {
    EXPECT_EQ(copy.Restore(snapshot.substr(0, cut)).code(), absl::StatusCode::kDataLoss);
    EXPECT_TRUE(copy.IsGlobalAdmin("nacos"));
  }
  ASSERT_TRUE(copy.Restore("").ok());
  EXPECT_FALSE(copy.HasAdmin());

  const AuthCommand c = Cmd(AuthOp::kGrant, "u", "r", "public:*:*", "rw");
  auto decoded = DecodeAuthCommand(EncodeAuthCommand(c));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->resource, "public:*:*");
  EXPECT_EQ(decoded->password_hash, c.password_hash);
  const std::string bytes = EncodeAuthCommand(c);
  EXPECT_FALSE(DecodeAuthCommand(bytes.substr(0, bytes.size() - 1)).ok());
  EXPECT_FALSE(DecodeAuthCommand(bytes + "x").ok());
  std::string unknown_op = bytes;
  unknown_op[1] = 99;
  EXPECT_FALSE(DecodeAuthCommand(unknown_op).ok());
}

}  // namespace
}  // namespace dnsd::auth
