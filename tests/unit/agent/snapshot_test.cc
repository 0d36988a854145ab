// The agent's snapshot file: a round trip keeps every field; a damaged, truncated, extended or
// foreign file is refused whole with a message naming the problem; a write replaces the old
// file whole (no temporary left behind).
#include "agent/snapshot.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace dnsd::agent {
namespace {

Snapshot Sample() {
  Snapshot snapshot;
  snapshot.namespace_id = "dev";
  snapshot.written_ms = 1'790'000'000'123;
  registry::Instance a;
  a.address = {"10.0.0.1", 8080, "east"};
  a.weight = 2.5;
  a.healthy = false;
  a.enabled = true;
  a.instance_id = "i-1";
  a.metadata = {{"zone", "a"}, {"version", "1.2"}};
  registry::Instance b;
  b.address = {"fd00::2", 9090, "DEFAULT"};
  b.enabled = false;
  snapshot.services.push_back({{"dev", "g1", "orders"}, ToHostList({a, b}), 42, 1'789'999'999'000});
  snapshot.services.push_back({{"dev", "DEFAULT_GROUP", "empty"}, {}, 7, 1'789'999'000'000});
  return snapshot;
}

std::string TempDir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("dnsd-snapshot-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

TEST(AgentSnapshotTest, RoundTripKeepsEveryField) {
  const Snapshot in = Sample();
  auto out = DecodeSnapshot(EncodeSnapshot(in));
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->namespace_id, "dev");
  EXPECT_EQ(out->written_ms, in.written_ms);
  ASSERT_EQ(out->services.size(), 2u);
  const SavedService& orders = out->services[0];
  EXPECT_EQ(orders.key, (registry::ServiceKey{"dev", "g1", "orders"}));
  EXPECT_EQ(orders.revision, 42);
  EXPECT_EQ(orders.confirmed_ms, 1'789'999'999'000);
  ASSERT_EQ(orders.hosts.size(), 2u);
  EXPECT_EQ(orders.hosts[0]->address, (registry::InstanceAddress{"10.0.0.1", 8080, "east"}));
  EXPECT_EQ(orders.hosts[0]->weight, 2.5);
  EXPECT_FALSE(orders.hosts[0]->healthy);
  EXPECT_EQ(orders.hosts[0]->instance_id, "i-1");
  EXPECT_EQ(orders.hosts[0]->metadata, in.services[0].hosts[0]->metadata);
  EXPECT_FALSE(orders.hosts[1]->enabled);
  EXPECT_EQ(orders.hosts[1]->ip(), "fd00::2");
  EXPECT_TRUE(out->services[1].hosts.empty());
}

TEST(AgentSnapshotTest, DamageIsRefusedWithTheReason) {
  const std::string good = EncodeSnapshot(Sample());
  auto expect_refused = [](const std::string& bytes, std::string_view why) {
    auto out = DecodeSnapshot(bytes);
    ASSERT_FALSE(out.ok()) << why;
    EXPECT_EQ(out.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_NE(std::string(out.status().message()).find(why), std::string::npos) << out.status();
  };
  // Every single flipped byte of the body is caught by the checksum.
  const size_t body = good.find('\n') + 1;
  for (size_t i = body; i < good.size(); i += 7) {
    std::string bad = good;
    bad[i] ^= 0x20;
    expect_refused(bad, "checksum");
  }
  expect_refused(good.substr(0, good.size() - 1), "truncated");
  expect_refused(good + "{}", "truncated or extended");
  expect_refused("", "no header");
  expect_refused("hello world 1 2\n{}", "not a dnsd agent snapshot");
  std::string other_format = good;
  other_format.replace(other_format.find(" 1 "), 3, " 9 ");
  expect_refused(other_format, "unknown format 9");
}

TEST(AgentSnapshotTest, ACorrectChecksumOverWrongContentIsRefused) {
  // Another tool's file, or a bug: the framing holds but the content is not a snapshot's.
  auto framed = [](const std::string& body) {
    const auto crc =
        crc32(0L, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    char header[80];
    std::snprintf(header, sizeof(header), "dnsd-agent-snapshot 1 %08lx %zu\n", crc, body.size());
    return std::string(header) + body;
  };
  auto why = [&](const std::string& body) {
    auto out = DecodeSnapshot(framed(body));
    EXPECT_FALSE(out.ok()) << body;
    return std::string(out.status().message());
  };
  EXPECT_NE(why("[1,2]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(why(R"({"namespace":1})").find("missing"), std::string::npos);
  EXPECT_NE(
      why(R"({"namespace":"p","written_ms":1,"services":[{"revision":1}]})").find("confirmed_ms"),
      std::string::npos);
  EXPECT_NE(why(R"({"namespace":"p","written_ms":1,"services":[{"revision":1,"confirmed_ms":1,)"
                R"("serviceInfo":{"name":"a","hosts":[{"ip":"1.2.3.4","port":70000}]}}]})")
                .find("port"),
            std::string::npos);
  // The same framing over a proper body is accepted (the helper is right).
  const std::string good = EncodeSnapshot(Sample());
  EXPECT_TRUE(DecodeSnapshot(framed(good.substr(good.find('\n') + 1))).ok());
}

TEST(AgentSnapshotTest, WriteReplacesTheFileWhole) {
  const std::string dir = TempDir();
  const std::string path = dir + "/agent-snapshot";
  EXPECT_EQ(ReadSnapshot(path).status().code(), absl::StatusCode::kNotFound);
  Snapshot first = Sample();
  ASSERT_TRUE(WriteSnapshot(path, first).ok());
  Snapshot second = Sample();
  second.services.pop_back();
  second.written_ms += 1000;
  ASSERT_TRUE(WriteSnapshot(path, second).ok());
  auto read = ReadSnapshot(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->services.size(), 1u);
  EXPECT_EQ(read->written_ms, second.written_ms);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  // A damaged file on disk names the path.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-3, std::ios::end);
    f.put('#');
  }
  auto damaged = ReadSnapshot(path);
  ASSERT_FALSE(damaged.ok());
  EXPECT_NE(std::string(damaged.status().message()).find(path), std::string::npos);
  // A directory that cannot be written: an error, not a crash, and the old file stays.
  EXPECT_FALSE(WriteSnapshot(dir + "/missing/agent-snapshot", first).ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dnsd::agent
