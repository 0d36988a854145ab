// ServiceFollower's rules (dns.md part D) with a fake clock: lazy following, per-service
// freshness, expiry, the reconnect hysteresis, push-empty protection, idle services, refused
// subscriptions, the snapshot's services and readiness.
#include "agent/service_follower.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "common/clock.h"
#include "common/metrics.h"

namespace dnsd::agent {
namespace {

using dns::Freshness;
using dns::MissAction;

registry::ServiceKey Key(std::string name, std::string group = "DEFAULT_GROUP") {
  return {"public", std::move(group), std::move(name)};
}

registry::Instance Host(std::string ip) {
  registry::Instance instance;
  instance.address.ip = std::move(ip);
  instance.address.port = 80;
  return instance;
}

ServiceUpdate List(const registry::ServiceKey& key, std::vector<std::string> ips,
                   int64_t stamp = 1) {
  ServiceUpdate update;
  update.key = key;
  for (auto& ip : ips) update.hosts.push_back(Host(ip));
  update.last_ref_time_ms = stamp;
  return update;
}

class FollowerTest : public ::testing::Test {
 protected:
  void Make(FollowerOptions options = {}) {
    ServiceFollower::Hooks hooks;
    hooks.subscribe = [this](const registry::ServiceKey& key) { subscribed.push_back(key); };
    hooks.unsubscribe = [this](const registry::ServiceKey& key) { unsubscribed.push_back(key); };
    hooks.publish = [this](const registry::ServiceKey& key, const HostList& hosts) {
      published[key] = hosts.size();
      ++publishes;
    };
    hooks.data_arrived = [this] { ++wakes; };
    hooks.check_exists = [this](const registry::ServiceKey& key) { checked.push_back(key); };
    follower = std::make_unique<ServiceFollower>(options, clock, hooks, metrics);
    follower->Start();
  }
  Freshness State(const registry::ServiceKey& key) {
    return follower->FreshnessOf(key)->state.load();
  }
  MissAction Miss(std::string_view name, bool may_wait = true,
                  std::string_view group = "default-group") {
    return follower->OnMiss({"public", group, name}, may_wait);
  }

  common::FakeClock clock;
  common::MetricsRegistry metrics;
  std::unique_ptr<ServiceFollower> follower;
  std::vector<registry::ServiceKey> subscribed, unsubscribed;
  std::map<registry::ServiceKey, size_t> published;
  int publishes = 0;
  int wakes = 0;
  std::vector<registry::ServiceKey> checked;
};

TEST_F(FollowerTest, FirstQuerySubscribesWaitsThenAnswersFromTheList) {
  Make();
  follower->OnConnection(true);
  EXPECT_EQ(Miss("Orders"), MissAction::kWait);
  ASSERT_EQ(subscribed.size(), 1u);
  EXPECT_EQ(subscribed[0], Key("Orders"));  // the name keeps the case it was asked with
  EXPECT_EQ(Miss("Orders"), MissAction::kWait);
  EXPECT_EQ(subscribed.size(), 1u) << "one subscription per service";
  // The deadline passed without a list: SERVFAIL "not ready" while connected.
  EXPECT_EQ(Miss("Orders", /*may_wait=*/false), MissAction::kNotReady);

  follower->OnList(List(Key("Orders"), {"10.0.0.1"}));
  EXPECT_EQ(wakes, 1) << "parked queries are woken by a first list";
  EXPECT_EQ(published[Key("Orders")], 1u);
  EXPECT_EQ(State(Key("Orders")), Freshness::kFresh);
  // A service whose list is empty is known to have nothing: the usual NXDOMAIN.
  Miss("empty");
  follower->OnList(List(Key("empty"), {}));
  EXPECT_EQ(Miss("empty"), MissAction::kNegative);
  // Other groups map from their label; another namespace is not followed at all.
  EXPECT_EQ(Miss("api", true, "g1"), MissAction::kWait);
  EXPECT_EQ(subscribed.back(), Key("api", "g1"));
  EXPECT_EQ(follower->OnMiss({"dev", "default-group", "x"}, true), MissAction::kNegative);
}

TEST_F(FollowerTest, DisconnectedServicesGoStaleThenExpire) {
  FollowerOptions options;
  options.max_stale_ms = 60'000;
  Make(options);
  follower->OnConnection(true);
  Miss("a");
  Miss("gone");
  follower->OnList(List(Key("a"), {"10.0.0.1"}));
  follower->OnList(List(Key("gone"), {}));
  EXPECT_EQ(State(Key("a")), Freshness::kFresh);

  clock.AdvanceMs(5'000);
  follower->Tick();
  follower->OnConnection(false);
  EXPECT_EQ(State(Key("a")), Freshness::kStale);
  EXPECT_EQ(Miss("gone"), MissAction::kStaleNegative);
  // A name never seen cannot be fetched: no reachable authority, never NXDOMAIN.
  EXPECT_EQ(Miss("new"), MissAction::kWait);
  EXPECT_EQ(Miss("new", false), MissAction::kNoAuthority);

  clock.AdvanceMs(59'000);
  follower->Tick();
  EXPECT_EQ(State(Key("a")), Freshness::kStale);
  clock.AdvanceMs(1'000);  // 60 s since it was last known current
  follower->Tick();
  EXPECT_EQ(State(Key("a")), Freshness::kExpired);
  EXPECT_EQ(Miss("gone"), MissAction::kNoAuthority);
  const auto status = follower->Status();
  const auto a =
      std::find_if(status.begin(), status.end(), [](const auto& s) { return s.key == Key("a"); });
  ASSERT_NE(a, status.end());
  EXPECT_EQ(a->state, "expired");
  EXPECT_EQ(a->age_ms, 60'000);
  const auto summary = follower->Summarize();
  EXPECT_EQ(summary.by_state[ServiceFollower::kExpiredState], 2u);  // "a" and "gone"
  EXPECT_EQ(summary.by_state[ServiceFollower::kSyncing], 1u);       // "new", no list yet
  EXPECT_EQ(summary.by_state[ServiceFollower::kFreshState], 0u);
  EXPECT_EQ(summary.oldest_age_ms, 60'000);
}

TEST_F(FollowerTest, ZeroMaxStaleNeverExpires) {
  FollowerOptions options;
  options.max_stale_ms = 0;
  Make(options);
  follower->OnConnection(true);
  Miss("a");
  follower->OnList(List(Key("a"), {"10.0.0.1"}));
  follower->OnConnection(false);
  clock.AdvanceMs(int64_t{365} * 24 * 3600 * 1000);
  follower->Tick();
  EXPECT_EQ(State(Key("a")), Freshness::kStale);
}

TEST_F(FollowerTest, AReconnectionProvesItselfBeforeServicesAreFreshAgain) {
  FollowerOptions options;
  options.fresh_hysteresis_ms = 2'000;
  Make(options);
  follower->OnConnection(true);
  Miss("a");
  follower->OnList(List(Key("a"), {"10.0.0.1"}));
  EXPECT_EQ(State(Key("a")), Freshness::kFresh) << "the first connection has no probation";
  follower->OnConnection(false);
  clock.AdvanceMs(1'000);
  follower->OnConnection(true);
  EXPECT_EQ(State(Key("a")), Freshness::kStale) << "no list on this connection yet";
  follower->OnList(List(Key("a"), {"10.0.0.2"}));
  EXPECT_EQ(published[Key("a")], 1u);
  EXPECT_EQ(State(Key("a")), Freshness::kStale) << "the new list is served, still marked";
  clock.AdvanceMs(1'999);
  follower->Tick();
  EXPECT_EQ(State(Key("a")), Freshness::kStale);
  clock.AdvanceMs(1);
  follower->Tick();
  EXPECT_EQ(State(Key("a")), Freshness::kFresh);
  // A connection that drops during its probation leaves the service stale.
  follower->OnConnection(false);
  follower->OnConnection(true);
  follower->OnList(List(Key("a"), {"10.0.0.2"}));
  clock.AdvanceMs(500);
  follower->OnConnection(false);
  clock.AdvanceMs(5'000);
  follower->Tick();
  EXPECT_EQ(State(Key("a")), Freshness::kStale);
}

TEST_F(FollowerTest, AnEmptyListIsHeldBackForTheGracePeriod) {
  FollowerOptions options;
  options.push_empty_grace_ms = 30'000;
  Make(options);
  follower->OnConnection(true);
  Miss("a");
  follower->OnList(List(Key("a"), {"10.0.0.1", "10.0.0.2"}));
  const int before = publishes;
  follower->OnList(List(Key("a"), {}, 2));
  EXPECT_EQ(publishes, before) << "the old list stays published";
  EXPECT_EQ(published[Key("a")], 2u);
  EXPECT_EQ(State(Key("a")), Freshness::kStale);
  EXPECT_NE(metrics.RenderPrometheus().find("dnsd_agent_push_empty_protected_total 1"),
            std::string::npos);
  // A non-empty list within the grace replaces it and the service is fresh again.
  clock.AdvanceMs(10'000);
  follower->OnList(List(Key("a"), {"10.0.0.3"}, 3));
  EXPECT_EQ(published[Key("a")], 1u);
  EXPECT_EQ(State(Key("a")), Freshness::kFresh);
  // An empty list that nothing follows is applied once the grace is over.
  follower->OnList(List(Key("a"), {}, 4));
  clock.AdvanceMs(29'999);
  follower->Tick();
  EXPECT_EQ(published[Key("a")], 1u);
  clock.AdvanceMs(1);
  follower->Tick();
  EXPECT_EQ(published[Key("a")], 0u);
  EXPECT_EQ(State(Key("a")), Freshness::kFresh);
  EXPECT_EQ(Miss("a"), MissAction::kNegative);
}

TEST_F(FollowerTest, ADeletedServiceIsNotProtected) {
  FollowerOptions options;
  options.push_empty_grace_ms = 60'000;
  Make(options);
  follower->OnConnection(true);
  Miss("a");
  follower->OnList(List(Key("a"), {"10.0.0.1"}));
  follower->OnList(List(Key("a"), {}, 2));
  ASSERT_EQ(checked, std::vector<registry::ServiceKey>{Key("a")}) << "held back: ask if it exists";
  follower->OnExistence(Key("a"), true);
  EXPECT_EQ(published[Key("a")], 1u) << "it exists: still protected";
  // Asked again every 2 s while held.
  clock.AdvanceMs(1'999);
  follower->Tick();
  EXPECT_EQ(checked.size(), 1u);
  clock.AdvanceMs(1);
  follower->Tick();
  EXPECT_EQ(checked.size(), 2u);
  follower->OnExistence(Key("a"), false);
  EXPECT_EQ(published[Key("a")], 0u) << "deleted: the empty list applies at once";
  EXPECT_EQ(State(Key("a")), Freshness::kFresh);
  EXPECT_NE(metrics.RenderPrometheus().find("dnsd_agent_push_empty_deleted_total 1"),
            std::string::npos);
  // A late answer for a service no longer held changes nothing.
  follower->OnList(List(Key("a"), {"10.0.0.5"}, 3));
  follower->OnExistence(Key("a"), false);
  EXPECT_EQ(published[Key("a")], 1u);
}

TEST_F(FollowerTest, IdleServicesAreDroppedButPinnedOnesStay) {
  FollowerOptions options;
  options.idle_unsubscribe_ms = 60'000;
  options.pinned = {Key("pinned")};
  Make(options);
  ASSERT_EQ(subscribed.size(), 1u);
  follower->OnConnection(true);
  Miss("used");
  Miss("idle");
  follower->OnList(List(Key("pinned"), {"10.0.0.1"}));
  follower->OnList(List(Key("used"), {"10.0.0.2"}));
  follower->OnList(List(Key("idle"), {"10.0.0.3"}));
  for (int i = 0; i < 7; ++i) {
    clock.AdvanceMs(10'000);
    follower->FreshnessOf(Key("used"))->MarkQueried();  // a DNS hit
    follower->Tick();
  }
  EXPECT_EQ(unsubscribed, std::vector<registry::ServiceKey>{Key("idle")});
  EXPECT_EQ(published[Key("idle")], 0u) << "its names go away with it";
  EXPECT_EQ(follower->size(), 2u);
  // Asked again later, it is followed again.
  EXPECT_EQ(Miss("idle"), MissAction::kWait);
  EXPECT_EQ(subscribed.back(), Key("idle"));
}

TEST_F(FollowerTest, ARefusedSubscriptionMakesOnlyThatServiceStale) {
  Make();
  follower->OnConnection(true);
  Miss("a");
  Miss("b");
  follower->OnList(List(Key("a"), {"10.0.0.1"}));
  follower->OnList(List(Key("b"), {"10.0.0.2"}));
  follower->OnSubscriptionFailed(Key("b"));
  EXPECT_EQ(State(Key("a")), Freshness::kFresh);
  EXPECT_EQ(State(Key("b")), Freshness::kStale);
  follower->OnList(List(Key("b"), {"10.0.0.2"}, 2));
  EXPECT_EQ(State(Key("b")), Freshness::kFresh);
  // A refused service without data answers SERVFAIL at once rather than waiting.
  Miss("c");
  follower->OnSubscriptionFailed(Key("c"));
  EXPECT_EQ(Miss("c"), MissAction::kNotReady);
}

TEST_F(FollowerTest, SnapshotServicesAreStaleAndMakeTheAgentReady) {
  FollowerOptions options;
  options.max_stale_ms = 3'600'000;
  options.pinned = {Key("p")};
  Make(options);
  EXPECT_FALSE(follower->Ready());
  follower->Restore({{Key("s"), ToHostList({Host("10.0.0.9")}), 7, clock.NowMs() - 1'000},
                     {Key("old"), ToHostList({Host("10.0.0.8")}), 7, clock.NowMs() - 7'200'000},
                     {{"dev", "DEFAULT_GROUP", "other"}, ToHostList({Host("10.0.0.7")}), 7, 0}});
  EXPECT_TRUE(follower->Ready());
  EXPECT_EQ(published[Key("s")], 1u);
  EXPECT_EQ(published.count({"dev", "DEFAULT_GROUP", "other"}), 0u) << "another namespace";
  EXPECT_EQ(State(Key("s")), Freshness::kStale);
  EXPECT_EQ(State(Key("old")), Freshness::kExpired);
  EXPECT_EQ(std::count(subscribed.begin(), subscribed.end(), Key("s")), 1);
  // What it knows is saved back; a service still syncing is not.
  const auto saved = follower->Saved();
  EXPECT_EQ(saved.size(), 2u);
  // The servers confirm: fresh.
  follower->OnConnection(true);
  follower->OnList(List(Key("s"), {"10.0.0.9"}, 8));
  EXPECT_EQ(State(Key("s")), Freshness::kFresh);
}

TEST_F(FollowerTest, ReadyWithoutSnapshotNeedsAConnectionAndEveryPinnedService) {
  FollowerOptions options;
  options.pinned = {Key("p1"), Key("p2")};
  Make(options);
  follower->OnConnection(true);
  EXPECT_FALSE(follower->Ready());
  follower->OnList(List(Key("p1"), {"10.0.0.1"}));
  EXPECT_FALSE(follower->Ready());
  follower->OnList(List(Key("p2"), {}));
  EXPECT_TRUE(follower->Ready());
  follower->OnConnection(false);
  EXPECT_TRUE(follower->Ready()) << "an outage does not make it unready (stale answers go on)";
}

TEST_F(FollowerTest, NewNamesBeyondTheLimitAreNotFollowed) {
  FollowerOptions options;
  options.max_services = 2;
  Make(options);
  follower->OnConnection(true);
  EXPECT_EQ(Miss("a"), MissAction::kWait);
  EXPECT_EQ(Miss("b"), MissAction::kWait);
  EXPECT_EQ(Miss("c"), MissAction::kNotReady);
  EXPECT_EQ(subscribed.size(), 2u);
  EXPECT_NE(metrics.RenderPrometheus().find("dnsd_agent_services_over_limit_total 1"),
            std::string::npos);
}

TEST_F(FollowerTest, ListsForServicesNoLongerFollowedAreIgnored) {
  FollowerOptions options;
  options.idle_unsubscribe_ms = 1'000;
  Make(options);
  follower->OnConnection(true);
  Miss("a");
  clock.AdvanceMs(1'000);
  follower->Tick();
  ASSERT_EQ(follower->size(), 0u);
  follower->OnList(List(Key("a"), {"10.0.0.1"}));  // a late answer
  EXPECT_EQ(published.count(Key("a")), 0u);
}

}  // namespace
}  // namespace dnsd::agent
