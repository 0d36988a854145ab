#include "dnsd/daemon_config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace dnsd {
namespace {

TEST(DaemonConfigTest, ReadsKnownKeys) {
  DaemonConfig c;
  DaemonConfig cluster;
  EXPECT_EQ(*LoadClusterKey(cluster), "");
  cluster.cluster_key = "c2hvcnQ=";  // "short"
  EXPECT_FALSE(LoadClusterKey(cluster).ok());
  cluster.cluster_key = std::string(44, 'A');  // 33 zero bytes
  EXPECT_EQ(LoadClusterKey(cluster)->size(), 33u);
  ASSERT_TRUE(ApplyConfigToml(R"(
[server]
data_dir = "/var/lib/dnsd"
[http]
port = 9000
threads = 4
[naming]
heartbeat_timeout_ms = 20000
)",
                              "t.toml", c)
                  .ok());
  EXPECT_EQ(c.data_dir, "/var/lib/dnsd");
  EXPECT_EQ(c.http_port, 9000);
  EXPECT_EQ(c.http_threads, 4);
  EXPECT_EQ(c.heartbeat_timeout_ms, 20000);
  EXPECT_EQ(c.ip_delete_timeout_ms, 30000);
}

TEST(DaemonConfigTest, UnknownKeyIsNamed) {
  DaemonConfig c;
  auto s = ApplyConfigToml("[http]\nprot = 1\n", "t.toml", c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("http.prot"), std::string::npos) << s;
  s = ApplyConfigToml("[htp]\nport = 1\n", "t.toml", c);
  EXPECT_NE(std::string(s.message()).find("[htp]"), std::string::npos) << s;
}

TEST(DaemonConfigTest, BadValuesAreNamed) {
  DaemonConfig c;
  auto s = ApplyConfigToml("[http]\nport = 70000\n", "t.toml", c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("http.port"), std::string::npos) << s;
  s = ApplyConfigToml("[http]\nport = \"80\"\n", "t.toml", c);
  EXPECT_NE(std::string(s.message()).find("http.port must be an integer"), std::string::npos) << s;
  s = ApplyConfigToml("[http\nport = 1\n", "t.toml", c);
  EXPECT_NE(std::string(s.message()).find("t.toml:"), std::string::npos) << s;
}

TEST(DaemonConfigTest, CrossFieldValidation) {
  DaemonConfig c;
  c.heartbeat_interval_ms = 20000;
  EXPECT_FALSE(ValidateConfig(c).ok());
}

TEST(DaemonConfigTest, ExampleFileIsValid) {
  DaemonConfig c;
  auto s = LoadConfigFile(DNSD_SOURCE_DIR "/dnsd.example.toml", c);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_TRUE(ValidateConfig(c).ok());
}

TEST(DaemonConfigTest, TokenSecretIsBase64InlineOrFromAFile) {
  DaemonConfig c;
  EXPECT_EQ(*LoadTokenSecret(c), "");
  c.auth_token_secret = "c2VjcmV0";  // "secret"
  EXPECT_EQ(*LoadTokenSecret(c), "secret");
  c.auth_token_secret = "not base64!";
  EXPECT_FALSE(LoadTokenSecret(c).ok());
  c.auth_token_secret_file = "/nonexistent/secret";
  EXPECT_FALSE(LoadTokenSecret(c).ok());
  ASSERT_TRUE(ApplyConfigToml("[auth]\nenabled = true\ntoken_ttl_s = 30\n", "t", c).code() ==
              absl::StatusCode::kInvalidArgument)
      << "a lifetime under a minute is refused";
}

TEST(DaemonConfigTest, ListenAddressDefaultsToLoopbackAndNeedsInsecureOtherwise) {
  DaemonConfig single;
  ASSERT_TRUE(ResolveListenAddress(single, /*clustered=*/false).ok());
  EXPECT_EQ(single.http_address, "127.0.0.1");
  DaemonConfig member;
  member.advertise_ip = "127.0.0.2";
  ASSERT_TRUE(ResolveListenAddress(member, /*clustered=*/true).ok());
  EXPECT_EQ(member.http_address, "127.0.0.2");
  for (const char* open : {"0.0.0.0", "::", "10.0.0.4", "128.0.0.1"}) {
    DaemonConfig c;
    c.http_address = open;
    EXPECT_EQ(ResolveListenAddress(c, false).code(), absl::StatusCode::kFailedPrecondition) << open;
    c.insecure = true;
    EXPECT_TRUE(ResolveListenAddress(c, false).ok()) << open;
  }
  DaemonConfig far_member;
  far_member.advertise_ip = "10.0.0.4";
  EXPECT_FALSE(ResolveListenAddress(far_member, /*clustered=*/true).ok());
  // Auth on opens other addresses to a single node; a cluster member also needs the cluster
  // key that its peers check.
  DaemonConfig guarded;
  guarded.http_address = "10.0.0.4";
  guarded.auth_enabled = true;
  EXPECT_TRUE(ResolveListenAddress(guarded, /*clustered=*/false).ok());
  far_member.auth_enabled = true;
  EXPECT_FALSE(ResolveListenAddress(far_member, /*clustered=*/true).ok());
  far_member.cluster_key = "a2V5";
  EXPECT_TRUE(ResolveListenAddress(far_member, /*clustered=*/true).ok());
  for (const char* loopback : {"127.0.0.1", "127.255.0.9", "::1", "localhost"}) {
    EXPECT_TRUE(IsLoopbackAddress(loopback)) << loopback;
  }
}

}  // namespace
}  // namespace dnsd
