// The registry's client model, which Distro replicates: every ephemeral instance belongs to one
// client; local clients are written through the API calls and expired here, remote ones are a
// copy of their owner's data.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "registry/registry.h"

namespace dnsd::registry {
namespace {

ServiceKey Key(std::string name) { return ServiceKey{"public", "DEFAULT_GROUP", std::move(name)}; }

Instance MakeInstance(std::string ip, int port) {
  Instance i;
  i.address = {std::move(ip), port, "DEFAULT"};
  return i;
}

Registry::Publication Pub(const ServiceKey& key, Instance i, bool heartbeat = true) {
  return Registry::Publication{key, std::make_shared<const Instance>(std::move(i)), heartbeat};
}

class RegistryClientsTest : public ::testing::Test {
 protected:
  RegistryClientsTest() : registry_(RegistryOptions{}) {
    registry_.SetClientListener([this](const std::string& id) { changed_.push_back(id); });
  }
  size_t InstancesOf(const std::string& service) {
    auto view = registry_.Find(Key(service));
    return view ? view->instances().size() : 0;
  }

  common::FakeClock clock_;
  Registry registry_;
  std::vector<std::string> changed_;
};

TEST_F(RegistryClientsTest, LocalWritesAreIndexedByClientAndReported) {
  const std::string http = HttpClientId({"10.0.0.1", 80, "DEFAULT"});
  ASSERT_TRUE(
      registry_.RegisterEphemeral(Key("a"), MakeInstance("10.0.0.1", 80), http, true, 0).ok());
  ASSERT_TRUE(
      registry_.RegisterEphemeral(Key("b"), MakeInstance("10.0.0.1", 80), http, true, 0).ok());
  ASSERT_TRUE(
      registry_.RegisterEphemeral(Key("a"), MakeInstance("10.0.0.2", 81), "conn-1", false, 0).ok());
  EXPECT_EQ(registry_.ClientIds(), (std::vector<std::string>{"10.0.0.1:80#true", "conn-1"}));
  auto pubs = registry_.ClientPublications(http);
  ASSERT_EQ(pubs.size(), 2u);
  EXPECT_EQ(pubs[0].service.name, "a");
  EXPECT_EQ(pubs[1].service.name, "b");
  EXPECT_TRUE(pubs[0].heartbeat_driven);
  EXPECT_EQ(changed_, (std::vector<std::string>{http, http, "conn-1"}));

  // A repeated identical registration only refreshes liveness: nothing to replicate.
  changed_.clear();
  ASSERT_TRUE(
      registry_.RegisterEphemeral(Key("a"), MakeInstance("10.0.0.1", 80), http, true, 5).ok());
  EXPECT_TRUE(changed_.empty());

  ASSERT_TRUE(registry_.DeregisterOwned(Key("a"), {"10.0.0.2", 81, "DEFAULT"}, "conn-1", 6).ok());
  EXPECT_EQ(changed_, (std::vector<std::string>{"conn-1"}));
  EXPECT_TRUE(registry_.ClientPublications("conn-1").empty());
  EXPECT_EQ(registry_.ClientIds(), (std::vector<std::string>{"10.0.0.1:80#true"}));
}

TEST_F(RegistryClientsTest, ExpiryAndHealthFlipsAreChangesOfTheLocalClient) {
  Instance i = MakeInstance("10.0.0.1", 80);
  const std::string http = HttpClientId(i.address);
  ASSERT_TRUE(registry_.RegisterEphemeral(Key("a"), i, http, true, 0).ok());
  changed_.clear();
  registry_.Tick(16'000);  // past the 15 s timeout: unhealthy
  EXPECT_EQ(changed_, (std::vector<std::string>{http}));
  EXPECT_FALSE(registry_.ClientPublications(http)[0].instance->healthy);
  registry_.Tick(31'000);  // past the 30 s delete timeout: gone
  EXPECT_EQ(changed_.size(), 2u);
  EXPECT_TRUE(registry_.ClientIds().empty());
}

TEST_F(RegistryClientsTest, ReplaceClientMirrorsTheOwnersCopyAndNeverExpiresIt) {
  Instance one = MakeInstance("10.0.0.1", 80);
  Instance two = MakeInstance("10.0.0.2", 80);
  auto result = registry_.ReplaceClient("remote-1", {Pub(Key("a"), one), Pub(Key("b"), two)}, 0);
  EXPECT_EQ(result.changed, 2);
  EXPECT_EQ(result.refused, 0);
  EXPECT_EQ(InstancesOf("a"), 1u);
  EXPECT_EQ(InstancesOf("b"), 1u);
  EXPECT_FALSE(registry_.IsClientLocal("remote-1"));
  EXPECT_TRUE(changed_.empty()) << "a remote owner's data is not a local change";

  // The owner decides expiry: no beats here for a minute changes nothing.
  registry_.Tick(60'000);
  EXPECT_EQ(InstancesOf("a"), 1u);
  EXPECT_TRUE(registry_.Find(Key("a"))->instances()[0]->healthy);

  // The next copy drops b and changes a.
  one.weight = 5;
  result = registry_.ReplaceClient("remote-1", {Pub(Key("a"), one)}, 61'000);
  EXPECT_EQ(result.changed, 2);
  EXPECT_EQ(registry_.Find(Key("a"))->instances()[0]->weight, 5);
  EXPECT_EQ(InstancesOf("b"), 0u);
  // The same copy again changes nothing.
  EXPECT_EQ(registry_.ReplaceClient("remote-1", {Pub(Key("a"), one)}, 62'000).changed, 0);
  // An empty copy removes the client.
  EXPECT_EQ(registry_.ReplaceClient("remote-1", {}, 63'000).changed, 1);
  EXPECT_TRUE(registry_.ClientIds().empty());
}

TEST_F(RegistryClientsTest, AdoptedClientGetsAFreshHeartbeatPeriodThenExpiresHere) {
  registry_.ReplaceClient("10.0.0.1:80#true", {Pub(Key("a"), MakeInstance("10.0.0.1", 80))}, 0);
  registry_.SetClientLocal("10.0.0.1:80#true", true, 100'000);
  EXPECT_TRUE(registry_.IsClientLocal("10.0.0.1:80#true"));
  registry_.Tick(110'000);  // 10 s after adoption: still healthy
  EXPECT_TRUE(registry_.Find(Key("a"))->instances()[0]->healthy);
  registry_.Tick(131'000);  // no beat reached the new owner for 31 s
  EXPECT_EQ(InstancesOf("a"), 0u);
  EXPECT_EQ(changed_, (std::vector<std::string>{"10.0.0.1:80#true"}));
}

TEST_F(RegistryClientsTest, ReplaceRefusesWhatThisRegistryCannotHold) {
  Command c;
  c.type = CommandType::kCreateService;
  c.service = Key("durable");
  c.meta.ephemeral = false;
  ASSERT_TRUE(registry_.Apply(c).ok());
  auto result = registry_.ReplaceClient("remote-1",
                                        {Pub(Key("durable"), MakeInstance("10.0.0.1", 80)),
                                         Pub(Key("ok"), MakeInstance("10.0.0.1", 80))},
                                        0);
  EXPECT_EQ(result.refused, 1);
  EXPECT_EQ(result.changed, 1);
  EXPECT_EQ(InstancesOf("durable"), 0u);
}

TEST_F(RegistryClientsTest, BeatReRegistrationBelongsToTheHttpClient) {
  Instance body = MakeInstance("10.0.0.7", 9000);
  EXPECT_TRUE(registry_.Beat(Key("a"), body.address, &body, 0).found);
  EXPECT_EQ(registry_.ClientIds(), (std::vector<std::string>{"10.0.0.7:9000#true"}));
  EXPECT_TRUE(IsHttpClientId("10.0.0.7:9000#true"));
  EXPECT_FALSE(IsHttpClientId("1700000000000_10.0.0.7_5555"));
}

}  // namespace
}  // namespace dnsd::registry
