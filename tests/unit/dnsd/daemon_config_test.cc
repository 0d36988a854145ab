#include "dnsd/daemon_config.h"

#include <gtest/gtest.h>

#include <fstream>

namespace dnsd {
namespace {

TEST(DaemonConfigTest, ReadsKnownKeys) {
  DaemonConfig c;
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
  for (const char* loopback : {"127.0.0.1", "127.255.0.9", "::1", "localhost"}) {
    EXPECT_TRUE(IsLoopbackAddress(loopback)) << loopback;
  }
}

}  // namespace
}  // namespace dnsd
