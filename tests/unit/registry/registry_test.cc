#include "registry/registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/byte_codec.h"
#include "common/clock.h"

namespace dnsd::registry {
namespace {

ServiceKey Key(std::string name, std::string group = "DEFAULT_GROUP", std::string ns = "public") {
  return ServiceKey{std::move(ns), std::move(group), std::move(name)};
}

Instance MakeInstance(std::string ip, int port, std::string cluster = "DEFAULT") {
  Instance i;
  i.address = {std::move(ip), port, std::move(cluster)};
  return i;
}

class RegistryTest : public ::testing::Test {
 protected:
  RegistryTest() : registry_(RegistryOptions{}) {
    registry_.AddListener(
        [this](const ServiceKey& key, const std::shared_ptr<const ServiceView>& view) {
          events_.push_back({key, view});
        });
  }
  absl::Status Register(const ServiceKey& key, Instance i) {
    return registry_.RegisterEphemeral(key, std::move(i), "", true, clock_.NowMs());
  }
  Command CreateService(const ServiceKey& key, double threshold) {
    Command c;
    c.type = CommandType::kCreateService;
    c.service = key;
    c.meta.protect_threshold = threshold;
    c.meta.ephemeral = true;
    c.timestamp_ms = clock_.NowMs();
    return c;
  }

  common::FakeClock clock_;
  Registry registry_;
  std::vector<std::pair<ServiceKey, std::shared_ptr<const ServiceView>>> events_;
};

TEST_F(RegistryTest, RegisterPublishesViewAndEvent) {
  Instance i = MakeInstance("10.0.0.1", 8080);
  i.weight = 3;
  i.metadata["zone"] = "a";
  ASSERT_TRUE(Register(Key("orders"), i).ok());
  auto view = registry_.Find(Key("orders"));
  ASSERT_NE(view, nullptr);
  ASSERT_EQ(view->instances().size(), 1u);
  EXPECT_EQ(InstanceIdOf(*view->instances()[0], Key("orders")),
            "10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@orders");
  EXPECT_EQ(view->instances()[0]->weight, 3);
  EXPECT_EQ(view->instances()[0]->metadata.at("zone"), "a");
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0].second, view);
  EXPECT_EQ(registry_.instance_count(), 1);
  EXPECT_EQ(registry_.service_count(), 1);
}

TEST_F(RegistryTest, ViewsAreImmutableSnapshots) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  auto before = registry_.Find(Key("s"));
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.2", 1)).ok());
  EXPECT_EQ(before->instances().size(), 1u);
  EXPECT_EQ(registry_.Find(Key("s"))->instances().size(), 2u);
  EXPECT_GT(registry_.Find(Key("s"))->revision(), before->revision());
}

TEST_F(RegistryTest, ReRegisterOverwritesInsteadOfDuplicating) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  Instance again = MakeInstance("10.0.0.1", 1);
  again.weight = 5;
  ASSERT_TRUE(Register(Key("s"), again).ok());
  auto view = registry_.Find(Key("s"));
  ASSERT_EQ(view->instances().size(), 1u);
  EXPECT_EQ(view->instances()[0]->weight, 5);
  EXPECT_EQ(registry_.instance_count(), 1);
}

TEST_F(RegistryTest, IdenticalReRegistrationOnlyRefreshesLiveness) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  const auto view = registry_.Find(Key("s"));
  clock_.AdvanceMs(10'000);
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  EXPECT_EQ(registry_.Find(Key("s")), view) << "no new snapshot for a no-op";
  EXPECT_EQ(events_.size(), 1u);
  clock_.AdvanceMs(10'000);  // 20 s after the first registration, 10 s after the second
  registry_.Tick(clock_.NowMs());
  EXPECT_TRUE(registry_.Find(Key("s"))->instances()[0]->healthy) << "the repeat counted as a beat";
}

TEST_F(RegistryTest, GroupsAndNamespacesAreSeparate) {
  ASSERT_TRUE(Register(Key("s", "G1"), MakeInstance("10.0.0.1", 1)).ok());
  ASSERT_TRUE(Register(Key("s", "DEFAULT_GROUP", "dev"), MakeInstance("10.0.0.2", 1)).ok());
  EXPECT_EQ(registry_.Find(Key("s")), nullptr);
  EXPECT_EQ(registry_.Find(Key("s", "G1"))->instances()[0]->ip(), "10.0.0.1");
  EXPECT_EQ(registry_.Find(Key("s", "DEFAULT_GROUP", "dev"))->instances()[0]->ip(), "10.0.0.2");
  EXPECT_EQ(registry_.List("public", std::nullopt).size(), 1u);
  EXPECT_EQ(registry_.List("dev", std::nullopt).size(), 1u);
}

TEST_F(RegistryTest, InvalidInstancesAreRejectedAndLeaveNoTrace) {
  Instance bad_weight = MakeInstance("10.0.0.1", 1);
  bad_weight.weight = 10001;
  EXPECT_FALSE(Register(Key("s"), bad_weight).ok());
  EXPECT_FALSE(Register(Key("s"), MakeInstance("300.1.1.1", 1)).ok());
  EXPECT_FALSE(Register(Key("s"), MakeInstance("10.0.0.1", 0)).ok());
  EXPECT_FALSE(Register(Key("s"), MakeInstance("10.0.0.1", 70000)).ok());
  EXPECT_FALSE(Register(Key("s"), MakeInstance("10.0.0.1", 1, "bad_cluster!")).ok());
  Instance bad_beat = MakeInstance("10.0.0.1", 1);
  bad_beat.metadata[std::string(kMetaBeatInterval)] = "20000";  // longer than the timeout
  EXPECT_FALSE(Register(Key("s"), bad_beat).ok());
  EXPECT_EQ(registry_.Find(Key("s")), nullptr);
  EXPECT_TRUE(events_.empty());
}

TEST_F(RegistryTest, HostNamesAndIpv6AreAccepted) {
  EXPECT_TRUE(Register(Key("s"), MakeInstance("::1", 1)).ok());
  EXPECT_TRUE(Register(Key("s"), MakeInstance("db-1.example.com", 1)).ok());
  EXPECT_EQ(registry_.Find(Key("s"))->instances().size(), 2u);
}

TEST_F(RegistryTest, HeartbeatExpiryMarksUnhealthyThenRemoves) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.2", 1)).ok());
  clock_.AdvanceMs(10'000);
  registry_.Beat(Key("s"), {"10.0.0.2", 1, "DEFAULT"}, nullptr, clock_.NowMs());
  clock_.AdvanceMs(5'001);  // 10.0.0.1 silent for 15.001 s
  registry_.Tick(clock_.NowMs());
  auto view = registry_.Find(Key("s"));
  ASSERT_EQ(view->instances().size(), 2u);
  EXPECT_FALSE(view->instances()[0]->healthy);
  EXPECT_TRUE(view->instances()[1]->healthy);
  clock_.AdvanceMs(15'000);  // 30.001 s silent: removed; 10.0.0.2 only 20 s: unhealthy
  registry_.Tick(clock_.NowMs());
  view = registry_.Find(Key("s"));
  ASSERT_EQ(view->instances().size(), 1u);
  EXPECT_EQ(view->instances()[0]->ip(), "10.0.0.2");
  EXPECT_FALSE(view->instances()[0]->healthy);
}

// Tick works in batches of services (the writer lock is taken for at most 256 services looked
// at and 16 changed); every service is still seen in one call, and the ordered index follows
// removals.
TEST_F(RegistryTest, ExpiryReachesEveryServiceAcrossBatches) {
  for (int i = 0; i < 1000; ++i) {
    ASSERT_TRUE(Register(Key("s" + std::to_string(i)), MakeInstance("10.0.0.1", 1)).ok());
  }
  ASSERT_EQ(registry_.ListPage("public", std::nullopt, 0, 0).total, 1000u);
  clock_.AdvanceMs(16'000);
  registry_.Tick(clock_.NowMs());
  for (int i = 0; i < 1000; ++i) {
    ASSERT_FALSE(registry_.Find(Key("s" + std::to_string(i)))->instances()[0]->healthy) << i;
  }
  clock_.AdvanceMs(15'000);
  registry_.Tick(clock_.NowMs());
  EXPECT_EQ(registry_.instance_count(), 0);
  clock_.AdvanceMs(60'000);  // empty implicit services go after empty_service_ttl_ms
  registry_.Tick(clock_.NowMs());
  EXPECT_EQ(registry_.service_count(), 0);
  EXPECT_EQ(registry_.ListPage("public", std::nullopt, 0, 10).total, 0u);
}

// Writers that arrive while Tick expires thousands of services take the lock between its
// batches: none is lost, none waits for the whole scan to end (Tick steps aside while one
// waits), and what they write after the time Tick was given is not expired by it.
TEST_F(RegistryTest, WritesDuringAMassExpiryAllLand) {
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(Register(Key("old-" + std::to_string(i)), MakeInstance("10.0.0.1", 1)).ok());
  }
  clock_.AdvanceMs(31'000);
  const int64_t now = clock_.NowMs();
  std::atomic<bool> writer_started{false};
  std::thread writer([&] {
    writer_started = true;
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(registry_
                      .RegisterEphemeral(Key("new-" + std::to_string(i)),
                                         MakeInstance("10.0.1.1", 1), "", true, now)
                      .ok());
    }
  });
  while (!writer_started) std::this_thread::yield();
  registry_.Tick(now);
  writer.join();
  EXPECT_EQ(registry_.instance_count(), 500);
  for (int i = 0; i < 500; ++i) {
    const auto view = registry_.Find(Key("new-" + std::to_string(i)));
    ASSERT_NE(view, nullptr) << i;
    ASSERT_EQ(view->instances().size(), 1u) << i;
    EXPECT_TRUE(view->instances()[0]->healthy) << i;
  }
  for (int i = 0; i < 5000; i += 499) {
    EXPECT_TRUE(registry_.Find(Key("old-" + std::to_string(i)))->instances().empty()) << i;
  }
}

TEST_F(RegistryTest, BeatRevivesUnhealthyInstance) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  clock_.AdvanceMs(16'000);
  registry_.Tick(clock_.NowMs());
  ASSERT_FALSE(registry_.Find(Key("s"))->instances()[0]->healthy);
  const BeatResult r =
      registry_.Beat(Key("s"), {"10.0.0.1", 1, "DEFAULT"}, nullptr, clock_.NowMs());
  EXPECT_TRUE(r.found);
  EXPECT_TRUE(registry_.Find(Key("s"))->instances()[0]->healthy);
}

TEST_F(RegistryTest, PreservedMetadataOverridesTimeouts) {
  Instance i = MakeInstance("10.0.0.1", 1);
  i.metadata[std::string(kMetaBeatInterval)] = "1000";
  i.metadata[std::string(kMetaBeatTimeout)] = "3000";
  i.metadata[std::string(kMetaDeleteTimeout)] = "6000";
  ASSERT_TRUE(Register(Key("s"), i).ok());
  EXPECT_EQ(registry_.Beat(Key("s"), i.address, nullptr, clock_.NowMs()).interval_ms, 1000);
  const Instance plain = MakeInstance("10.0.0.2", 1);
  ASSERT_TRUE(Register(Key("s"), plain).ok());
  EXPECT_EQ(registry_.Beat(Key("s"), plain.address, nullptr, clock_.NowMs()).interval_ms, 5000);
  clock_.AdvanceMs(3'001);
  registry_.Tick(clock_.NowMs());
  EXPECT_FALSE(registry_.Find(Key("s"))->instances()[0]->healthy);
  clock_.AdvanceMs(3'000);
  registry_.Tick(clock_.NowMs());
  ASSERT_EQ(registry_.Find(Key("s"))->instances().size(), 1u);  // the default outlives it
  EXPECT_EQ(registry_.Find(Key("s"))->instances()[0]->ip(), "10.0.0.2");
}

TEST_F(RegistryTest, BeatForUnknownInstanceWithoutBodyIsNotFound) {
  EXPECT_FALSE(registry_.Beat(Key("s"), {"10.0.0.1", 1, "DEFAULT"}, nullptr, clock_.NowMs()).found);
  EXPECT_EQ(registry_.Find(Key("s")), nullptr);
}

TEST_F(RegistryTest, BeatWithBodyRegistersUnknownInstance) {
  Instance body = MakeInstance("10.0.0.1", 1);
  body.weight = 2;
  EXPECT_TRUE(registry_.Beat(Key("s"), body.address, &body, clock_.NowMs()).found);
  ASSERT_NE(registry_.Find(Key("s")), nullptr);
  EXPECT_EQ(registry_.Find(Key("s"))->instances()[0]->weight, 2);
}

TEST_F(RegistryTest, NonHeartbeatInstancesDoNotExpire) {
  ASSERT_TRUE(
      registry_
          .RegisterEphemeral(Key("s"), MakeInstance("10.0.0.1", 1), "conn-1", false, clock_.NowMs())
          .ok());
  clock_.AdvanceMs(120'000);
  registry_.Tick(clock_.NowMs());
  EXPECT_EQ(registry_.Find(Key("s"))->instances().size(), 1u);
}

TEST_F(RegistryTest, EmptyServiceIsCollectedAfterTtl) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  ASSERT_TRUE(
      registry_.DeregisterEphemeral(Key("s"), {"10.0.0.1", 1, "DEFAULT"}, clock_.NowMs()).ok());
  ASSERT_NE(registry_.Find(Key("s")), nullptr);
  clock_.AdvanceMs(59'000);
  registry_.Tick(clock_.NowMs());
  EXPECT_NE(registry_.Find(Key("s")), nullptr);
  clock_.AdvanceMs(2'000);
  registry_.Tick(clock_.NowMs());
  EXPECT_EQ(registry_.Find(Key("s")), nullptr);
  EXPECT_EQ(registry_.service_count(), 0);
  EXPECT_EQ(events_.back().second, nullptr);
}

TEST_F(RegistryTest, DefinedServicesAreNotCollected) {
  ASSERT_TRUE(registry_.Apply(CreateService(Key("s"), 0)).ok());
  clock_.AdvanceMs(600'000);
  registry_.Tick(clock_.NowMs());
  EXPECT_NE(registry_.Find(Key("s")), nullptr);
}

TEST_F(RegistryTest, KindsDoNotMix) {
  ASSERT_TRUE(Register(Key("eph"), MakeInstance("10.0.0.1", 1)).ok());
  Command persistent;
  persistent.type = CommandType::kRegisterInstance;
  persistent.service = Key("eph");
  persistent.instance = MakeInstance("10.0.0.2", 1);
  EXPECT_FALSE(registry_.Precheck(persistent).ok());
  EXPECT_FALSE(registry_.Apply(persistent).ok());

  persistent.service = Key("per");
  ASSERT_TRUE(registry_.Apply(persistent).ok());
  EXPECT_FALSE(registry_.Find(Key("per"))->instances()[0]->ephemeral);
  const auto status = Register(Key("per"), MakeInstance("10.0.0.3", 1));
  EXPECT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("persistent service"), std::string::npos);
}

TEST_F(RegistryTest, SelectFiltersEnabledClustersAndHealth) {
  Instance a = MakeInstance("10.0.0.1", 1, "A");
  Instance b = MakeInstance("10.0.0.2", 1, "B");
  Instance disabled = MakeInstance("10.0.0.3", 1, "A");
  disabled.enabled = false;
  Instance sick = MakeInstance("10.0.0.4", 1, "A");
  sick.healthy = false;
  for (auto* i : {&a, &b, &disabled, &sick}) ASSERT_TRUE(Register(Key("s"), *i).ok());
  auto view = registry_.Find(Key("s"));
  EXPECT_EQ(view->Select("", false).instances.size(), 3u);
  EXPECT_EQ(view->Select("A", false).instances.size(), 2u);
  EXPECT_EQ(view->Select("A,B", true).instances.size(), 2u);
  EXPECT_EQ(view->Select("A", true).instances.size(), 1u);
  EXPECT_EQ(view->Select("C", false).instances.size(), 0u);
}

TEST_F(RegistryTest, ProtectThresholdOnlyForDefinedServices) {
  Instance sick = MakeInstance("10.0.0.1", 1);
  sick.healthy = false;
  ASSERT_TRUE(Register(Key("auto"), sick).ok());
  // Not defined through the service API: no protection, even with every instance down.
  EXPECT_FALSE(registry_.Find(Key("auto"))->Select("", false).reach_protection_threshold);

  ASSERT_TRUE(registry_.Apply(CreateService(Key("defined"), 0.5)).ok());
  ASSERT_TRUE(Register(Key("defined"), sick).ok());
  ASSERT_TRUE(Register(Key("defined"), MakeInstance("10.0.0.2", 1)).ok());
  // 1 healthy of 2 = 0.5 <= 0.5: protection returns all.
  auto selection = registry_.Find(Key("defined"))->Select("", false);
  EXPECT_TRUE(selection.reach_protection_threshold);
  EXPECT_EQ(selection.instances.size(), 2u);
  ASSERT_TRUE(Register(Key("defined"), MakeInstance("10.0.0.3", 1)).ok());
  // 2 of 3 > 0.5: no protection.
  EXPECT_FALSE(registry_.Find(Key("defined"))->Select("", false).reach_protection_threshold);
  // healthyOnly computes over the healthy list: 2/2 = 1 > 0.5.
  EXPECT_FALSE(registry_.Find(Key("defined"))->Select("", true).reach_protection_threshold);
}

TEST_F(RegistryTest, ProtectThresholdZeroTriggersOnlyWhenNoneHealthy) {
  ASSERT_TRUE(registry_.Apply(CreateService(Key("s"), 0)).ok());
  Instance sick = MakeInstance("10.0.0.1", 1);
  sick.healthy = false;
  ASSERT_TRUE(Register(Key("s"), sick).ok());
  EXPECT_TRUE(registry_.Find(Key("s"))->Select("", false).reach_protection_threshold);
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.2", 1)).ok());
  EXPECT_FALSE(registry_.Find(Key("s"))->Select("", false).reach_protection_threshold);
}

TEST_F(RegistryTest, ServiceLifecycleCommands) {
  ASSERT_TRUE(registry_.Apply(CreateService(Key("s"), 0.1)).ok());
  EXPECT_EQ(registry_.Apply(CreateService(Key("s"), 0.1)).status().code(),
            absl::StatusCode::kAlreadyExists);
  Command update = CreateService(Key("s"), 0.7);
  update.type = CommandType::kUpdateService;
  update.meta.metadata["owner"] = "team-a";
  ASSERT_TRUE(registry_.Apply(update).ok());
  EXPECT_DOUBLE_EQ(registry_.Find(Key("s"))->meta().protect_threshold, 0.7);
  EXPECT_EQ(registry_.Find(Key("s"))->meta().metadata.at("owner"), "team-a");
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  Command del;
  del.type = CommandType::kDeleteService;
  del.service = Key("s");
  EXPECT_EQ(registry_.Apply(del).status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(
      registry_.DeregisterEphemeral(Key("s"), {"10.0.0.1", 1, "DEFAULT"}, clock_.NowMs()).ok());
  EXPECT_TRUE(registry_.Apply(del).ok());
  EXPECT_EQ(registry_.Find(Key("s")), nullptr);
}

TEST_F(RegistryTest, BatchMetadataSetsAndRemovesKeys) {
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.1", 1)).ok());
  ASSERT_TRUE(Register(Key("s"), MakeInstance("10.0.0.2", 1)).ok());
  auto result =
      registry_.BatchMetadataEphemeral(Key("s"), {{"10.0.0.2", 1, "DEFAULT"}}, {{"v", "2"}}, false);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result->updated.size(), 1u);
  EXPECT_EQ(result->updated[0], "10.0.0.2:1:unknown:DEFAULT:ephemeral");
  auto view = registry_.Find(Key("s"));
  EXPECT_FALSE(view->instances()[0]->metadata.contains("v"));
  EXPECT_EQ(view->instances()[1]->metadata.at("v"), "2");
  ASSERT_TRUE(registry_.BatchMetadataEphemeral(Key("s"), {}, {{"v", ""}}, true).ok());
  EXPECT_FALSE(registry_.Find(Key("s"))->instances()[1]->metadata.contains("v"));
}

TEST_F(RegistryTest, ReplayingCommandsRebuildsTheSameState) {
  std::vector<Command> log;
  log.push_back(CreateService(Key("a"), 0.2));
  Command reg;
  reg.type = CommandType::kRegisterInstance;
  reg.service = Key("b");
  reg.instance = MakeInstance("10.0.0.9", 9);
  reg.instance.metadata["x"] = "y";
  log.push_back(reg);
  Command upd;
  upd.type = CommandType::kUpdateInstance;
  upd.service = Key("b");
  upd.instance.address = reg.instance.address;
  upd.patch.weight = 4;
  log.push_back(upd);
  for (const auto& c : log) ASSERT_TRUE(registry_.Apply(c).ok());
  Registry replica{RegistryOptions{}};
  for (const auto& c : log) ASSERT_TRUE(replica.Apply(*DecodeCommand(EncodeCommand(c))).ok());
  for (const char* name : {"a", "b"}) {
    auto x = registry_.Find(Key(name));
    auto y = replica.Find(Key(name));
    ASSERT_NE(y, nullptr);
    ASSERT_EQ(x->instances().size(), y->instances().size());
    EXPECT_EQ(x->meta().protect_threshold, y->meta().protect_threshold);
    for (size_t i = 0; i < x->instances().size(); ++i) {
      EXPECT_EQ(x->instances()[i]->weight, y->instances()[i]->weight);
      EXPECT_EQ(x->instances()[i]->metadata, y->instances()[i]->metadata);
    }
  }
}

// The durable part round-trips through a snapshot; restoring it elsewhere replaces that
// registry's durable part (a persistent instance the snapshot lacks is gone) and leaves its
// ephemeral instances alone.
TEST_F(RegistryTest, DurableSnapshotReplacesOnlyTheDurablePart) {
  Command defined = CreateService(Key("defined"), 0.5);
  defined.meta.metadata = {{"owner", "team-a"}};
  ASSERT_TRUE(registry_.Apply(defined).ok());
  Command persistent;
  persistent.type = CommandType::kRegisterInstance;
  persistent.service = Key("db");
  persistent.instance = MakeInstance("10.0.0.1", 5432);
  persistent.instance.ephemeral = false;
  persistent.instance.weight = 3;
  persistent.instance.metadata = {{"role", "primary"}};
  ASSERT_TRUE(registry_.Apply(persistent).ok());
  Command sick;
  sick.type = CommandType::kSetHealth;
  sick.service = Key("db");
  sick.instance.address = persistent.instance.address;
  sick.healthy = false;
  ASSERT_TRUE(registry_.Apply(sick).ok());
  ASSERT_TRUE(Register(Key("web"), MakeInstance("10.0.0.9", 80)).ok());  // ephemeral: not in it
  const std::string snapshot = registry_.DurableSnapshot();

  Registry other(RegistryOptions{});
  ASSERT_TRUE(
      other.RegisterEphemeral(Key("cache"), MakeInstance("10.0.0.7", 6379), "", true, 0).ok());
  Command stale = persistent;
  stale.instance.address.ip = "10.0.0.2";
  ASSERT_TRUE(other.Apply(stale).ok());
  Command gone = CreateService(Key("gone"), 0);
  ASSERT_TRUE(other.Apply(gone).ok());

  ASSERT_TRUE(other.RestoreDurable(snapshot, 0).ok());
  auto db = other.Find(Key("db"));
  ASSERT_NE(db, nullptr);
  ASSERT_EQ(db->instances().size(), 1u);
  EXPECT_EQ(db->instances()[0]->ip(), "10.0.0.1");
  EXPECT_EQ(db->instances()[0]->weight, 3);
  EXPECT_FALSE(db->instances()[0]->healthy);
  EXPECT_EQ(db->instances()[0]->metadata.at("role"), "primary");
  auto defined_view = other.Find(Key("defined"));
  ASSERT_NE(defined_view, nullptr);
  EXPECT_EQ(defined_view->meta().protect_threshold, 0.5);
  EXPECT_TRUE(defined_view->meta().stored);
  EXPECT_EQ(defined_view->meta().metadata.at("owner"), "team-a");
  EXPECT_EQ(other.Find(Key("gone")), nullptr);
  EXPECT_EQ(other.Find(Key("web")), nullptr);
  ASSERT_NE(other.Find(Key("cache")), nullptr);
  EXPECT_EQ(other.instance_count(), 2);
  EXPECT_EQ(other.service_count(), 3);
  EXPECT_EQ(other.DurableSnapshot(), snapshot);

  // A damaged snapshot changes nothing.
  for (size_t cut : {size_t{0}, size_t{3}, snapshot.size() - 1}) {
    EXPECT_FALSE(other.RestoreDurable(snapshot.substr(0, cut), 0).ok()) << cut;
  }
  for (size_t cut = 1; cut < snapshot.size(); cut += 7) {  // every part of the layout
    EXPECT_FALSE(other.RestoreDurable(snapshot.substr(0, cut), 0).ok()) << cut;
  }
  EXPECT_EQ(other.DurableSnapshot(), snapshot);
}

// Snapshots written before instance records (version 1: every record a whole command, the
// instance under its service) still restore, and the next snapshot is the compact one.
TEST_F(RegistryTest, VersionOneSnapshotsStillRestore) {
  Command service = CreateService(Key("db"), 0.25);
  Command instance;
  instance.type = CommandType::kRegisterInstance;
  instance.service = Key("db");
  instance.instance = MakeInstance("10.0.0.1", 5432);
  instance.instance.ephemeral = false;
  instance.instance.weight = 2;
  instance.instance.metadata = {{"role", "replica"}};
  common::ByteWriter w;
  w.PutU8(1);
  w.PutU32(2);
  w.PutString(EncodeCommand(service));
  w.PutString(EncodeCommand(instance));
  const std::string v1 = w.Take();
  ASSERT_TRUE(registry_.RestoreDurable(v1, 0).ok());
  auto db = registry_.Find(Key("db"));
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->meta().protect_threshold, 0.25);
  ASSERT_EQ(db->instances().size(), 1u);
  EXPECT_EQ(db->instances()[0]->weight, 2);
  EXPECT_FALSE(db->instances()[0]->ephemeral);
  EXPECT_EQ(db->instances()[0]->metadata.at("role"), "replica");
  const std::string v2 = registry_.DurableSnapshot();
  EXPECT_EQ(v2[0], 2);
  EXPECT_LT(v2.size(), v1.size());
  Registry other(RegistryOptions{});
  ASSERT_TRUE(other.RestoreDurable(v2, 0).ok());
  EXPECT_EQ(other.DurableSnapshot(), v2);
  // An instance record before any service, in version 1, is refused.
  common::ByteWriter orphan;
  orphan.PutU8(1);
  orphan.PutU32(1);
  orphan.PutString(EncodeCommand(instance));
  EXPECT_FALSE(other.RestoreDurable(orphan.Take(), 0).ok());
  EXPECT_EQ(other.DurableSnapshot(), v2);
}

}  // namespace
}  // namespace dnsd::registry
