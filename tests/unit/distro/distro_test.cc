// Three Distro shells in one process, each with its own registry, joined by an in-memory
// transport that can cut links: a change made on one node reaches the others, a cut link is
// repaired by verify after healing, a late node loads a snapshot.
#include "distro/distro.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

namespace dnsd::distro {
namespace {

const std::vector<std::string> kNodes = {"127.0.0.1:8848", "127.0.0.2:8848", "127.0.0.3:8848"};

class Hub;

class HubTransport final : public DistroTransport {
 public:
  HubTransport(Hub& hub, std::string self) : hub_(hub), self_(std::move(self)) {}
  void Sync(const std::string& peer, dnsd::peer::DistroSyncRequest request,
            Done<dnsd::peer::DistroSyncResponse> done) override;
  void Verify(const std::string& peer, dnsd::peer::DistroVerifyRequest request,
              Done<dnsd::peer::DistroVerifyResponse> done) override;
  void Snapshot(const std::string& peer, dnsd::peer::DistroSnapshotRequest request,
                Done<dnsd::peer::DistroSnapshotResponse> done) override;

 private:
  Hub& hub_;
  std::string self_;
};

class Hub {
 public:
  Distro* Target(const std::string& from, const std::string& to) {
    std::lock_guard lock(mu_);
    if (cut_.contains({from, to}) || cut_.contains({to, from})) return nullptr;
    auto it = nodes_.find(to);
    return it == nodes_.end() ? nullptr : it->second;
  }
  void Add(const std::string& name, Distro* d) {
    std::lock_guard lock(mu_);
    nodes_[name] = d;
  }
  void Remove(const std::string& name) {
    std::lock_guard lock(mu_);
    nodes_.erase(name);
  }
  void Cut(const std::string& a, const std::string& b) {
    std::lock_guard lock(mu_);
    cut_.insert({a, b});
  }
  void Heal() {
    std::lock_guard lock(mu_);
    cut_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::string, Distro*> nodes_;
  std::set<std::pair<std::string, std::string>> cut_;
};

void HubTransport::Sync(const std::string& peer, dnsd::peer::DistroSyncRequest request,
                        Done<dnsd::peer::DistroSyncResponse> done) {
  Distro* to = hub_.Target(self_, peer);
  if (!to) return done(absl::UnavailableError("link cut"), {});
  done(absl::OkStatus(), to->HandleSync(request));
}
void HubTransport::Verify(const std::string& peer, dnsd::peer::DistroVerifyRequest request,
                          Done<dnsd::peer::DistroVerifyResponse> done) {
  Distro* to = hub_.Target(self_, peer);
  if (!to) return done(absl::UnavailableError("link cut"), {});
  done(absl::OkStatus(), to->HandleVerify(request));
}
void HubTransport::Snapshot(const std::string& peer, dnsd::peer::DistroSnapshotRequest request,
                            Done<dnsd::peer::DistroSnapshotResponse> done) {
  Distro* to = hub_.Target(self_, peer);
  if (!to) return done(absl::UnavailableError("link cut"), {});
  auto response = to->HandleSnapshot(request);
  if (!response.ok()) return done(response.status(), {});
  done(absl::OkStatus(), *std::move(response));
}

struct Node {
  Node(Hub& hub, const std::string& name, DistroOptions options)
      : registry(registry::RegistryOptions{}),
        transport(hub, name),
        distro(name, kNodes, registry, transport, clock, options, metrics) {}
  common::SystemClock clock;
  common::MetricsRegistry metrics;
  registry::Registry registry;
  HubTransport transport;
  Distro distro;
};

registry::ServiceKey Key(const std::string& name) { return {"public", "DEFAULT_GROUP", name}; }

registry::Instance MakeInstance(const std::string& ip, int port) {
  registry::Instance i;
  i.address = {ip, port, "DEFAULT"};
  return i;
}

// ip:port of every instance of every service, with the service name: the node's whole view.
std::set<std::string> Dump(const registry::Registry& r) {
  std::set<std::string> out;
  for (const auto& view : r.ListAll()) {
    for (const auto& i : view->instances()) {
      out.insert(view->key().name + "/" + i->ip() + ":" + std::to_string(i->port()) + "/" +
                 std::to_string(i->weight));
    }
  }
  return out;
}

class DistroTest : public ::testing::Test {
 protected:
  void SetUp() override {
    DistroOptions options;
    options.verify_interval_ms = 200;
    options.retry_min_ms = 20;
    options.retry_max_ms = 100;
    for (const auto& name : kNodes) {
      nodes_.push_back(std::make_unique<Node>(hub_, name, options));
      hub_.Add(name, &nodes_.back()->distro);
    }
    for (auto& n : nodes_) {
      ASSERT_TRUE(n->distro.LoadSnapshot(1000).ok());  // the first finds its peers starting too
      EXPECT_TRUE(n->distro.ready());
      std::set<std::string> up(kNodes.begin(), kNodes.end());
      n->distro.SetUpPeers(up);
      n->distro.Start();
    }
  }
  void TearDown() override {
    for (auto& n : nodes_) n->distro.Stop();
  }
  // Waits until every node's registry holds `expected` (bounded; the test fails otherwise).
  bool Converges(const std::set<std::string>& expected) {
    for (int i = 0; i < 1000; ++i) {
      bool all = true;
      for (auto& n : nodes_) all = all && Dump(n->registry) == expected;
      if (all) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    for (size_t i = 0; i < nodes_.size(); ++i) {
      std::string held;
      for (const auto& s : Dump(nodes_[i]->registry)) held += s + " ";
      ADD_FAILURE() << kNodes[i] << " holds: " << held;
    }
    return false;
  }

  Hub hub_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(DistroTest, ChangesOnOneNodeReachEveryOther) {
  auto& a = nodes_[0]->registry;
  ASSERT_TRUE(
      a.RegisterEphemeral(Key("orders"), MakeInstance("10.0.0.1", 80), "conn-a1", false, 0).ok());
  ASSERT_TRUE(
      nodes_[2]
          ->registry
          .RegisterEphemeral(Key("orders"), MakeInstance("10.0.0.3", 80), "conn-c1", false, 0)
          .ok());
  EXPECT_TRUE(Converges({"orders/10.0.0.1:80/1.000000", "orders/10.0.0.3:80/1.000000"}));
  registry::InstancePatch patch;
  patch.weight = 7;
  ASSERT_TRUE(a.UpdateEphemeral(Key("orders"), {"10.0.0.1", 80, "DEFAULT"}, patch, 0).ok());
  EXPECT_TRUE(Converges({"orders/10.0.0.1:80/7.000000", "orders/10.0.0.3:80/1.000000"}));
  ASSERT_TRUE(a.DeregisterOwned(Key("orders"), {"10.0.0.1", 80, "DEFAULT"}, "conn-a1", 0).ok());
  EXPECT_TRUE(Converges({"orders/10.0.0.3:80/1.000000"}));
  // A copy is never written back: node B holds conn-c1 as a copy and C as its own.
  EXPECT_FALSE(nodes_[1]->registry.IsClientLocal("conn-c1"));
  EXPECT_TRUE(nodes_[2]->registry.IsClientLocal("conn-c1"));
}

TEST_F(DistroTest, ACutNodeIsRepairedByVerifyAfterHealing) {
  hub_.Cut(kNodes[0], kNodes[1]);
  hub_.Cut(kNodes[0], kNodes[2]);
  auto& a = nodes_[0]->registry;
  auto& b = nodes_[1]->registry;
  ASSERT_TRUE(a.RegisterEphemeral(Key("s"), MakeInstance("10.0.0.1", 1), "conn-a1", false, 0).ok());
  ASSERT_TRUE(a.RegisterEphemeral(Key("s"), MakeInstance("10.0.0.1", 2), "conn-a2", false, 0).ok());
  ASSERT_TRUE(b.RegisterEphemeral(Key("s"), MakeInstance("10.0.0.2", 1), "conn-b1", false, 0).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(a.DeregisterOwned(Key("s"), {"10.0.0.1", 2, "DEFAULT"}, "conn-a2", 0).ok());
  EXPECT_EQ(Dump(nodes_[2]->registry), std::set<std::string>{"s/10.0.0.2:1/1.000000"});
  hub_.Heal();
  EXPECT_TRUE(Converges({"s/10.0.0.1:1/1.000000", "s/10.0.0.2:1/1.000000"}));
}

TEST_F(DistroTest, AnOwnerSummaryRemovesCopiesTheOwnerNoLongerHas) {
  auto& a = nodes_[0]->registry;
  ASSERT_TRUE(a.RegisterEphemeral(Key("s"), MakeInstance("10.0.0.1", 1), "conn-a1", false, 0).ok());
  ASSERT_TRUE(Converges({"s/10.0.0.1:1/1.000000"}));
  // B's copy gains a client A never had (a lost deletion): A's summary makes B drop it.
  registry::Registry::Publication stray{
      Key("s"), std::make_shared<const registry::Instance>(MakeInstance("10.0.0.9", 9)), false};
  dnsd::peer::DistroSyncRequest forged;
  forged.set_from(kNodes[0]);
  auto* client = forged.add_clients();
  client->set_id("conn-a-stray");
  client->set_revision(1);
  auto* m = client->add_instances();
  m->set_namespace_id("public");
  m->set_group("DEFAULT_GROUP");
  m->set_service("s");
  m->set_ip("10.0.0.9");
  m->set_port(9);
  m->set_cluster("DEFAULT");
  m->set_weight(1);
  m->set_healthy(true);
  m->set_enabled(true);
  nodes_[1]->distro.HandleSync(forged);
  EXPECT_EQ(Dump(nodes_[1]->registry).size(), 2u);
  EXPECT_TRUE(Converges({"s/10.0.0.1:1/1.000000"}));
}

TEST_F(DistroTest, MalformedPeerDataIsRefusedAndCounted) {
  dnsd::peer::DistroSyncRequest bad;
  bad.set_from(kNodes[0]);
  auto* client = bad.add_clients();
  client->set_id("conn-x");
  auto* m = client->add_instances();
  m->set_service("");  // no service name
  m->set_ip("not an ip");
  m->set_port(99999);
  nodes_[1]->distro.HandleSync(bad);
  dnsd::peer::DistroSyncRequest stranger;
  stranger.set_from("10.9.9.9:8848");  // not a member
  stranger.add_clients()->set_id("conn-y");
  nodes_[1]->distro.HandleSync(stranger);
  EXPECT_TRUE(Dump(nodes_[1]->registry).empty());
  EXPECT_NE(nodes_[1]->metrics.RenderPrometheus().find("dnsd_distro_bad_messages_total 2"),
            std::string::npos);
}

TEST_F(DistroTest, ARestartedNodeLoadsASnapshotBeforeItIsReady) {
  ASSERT_TRUE(
      nodes_[0]
          ->registry.RegisterEphemeral(Key("s"), MakeInstance("10.0.0.1", 1), "conn-a1", false, 0)
          .ok());
  ASSERT_TRUE(
      nodes_[1]
          ->registry.RegisterEphemeral(Key("s"), MakeInstance("10.0.0.2", 1), "conn-b1", false, 0)
          .ok());
  ASSERT_TRUE(Converges({"s/10.0.0.1:1/1.000000", "s/10.0.0.2:1/1.000000"}));
  // C restarts empty.
  nodes_[2]->distro.Stop();
  hub_.Remove(kNodes[2]);
  DistroOptions options;
  options.verify_interval_ms = 200;
  nodes_[2] = std::make_unique<Node>(hub_, kNodes[2], options);
  EXPECT_FALSE(nodes_[2]->distro.ready());
  hub_.Cut(kNodes[2], kNodes[0]);  // the first peer it may try is unreachable
  ASSERT_TRUE(nodes_[2]->distro.LoadSnapshot(5000).ok());
  EXPECT_TRUE(nodes_[2]->distro.ready());
  EXPECT_EQ(Dump(nodes_[2]->registry),
            (std::set<std::string>{"s/10.0.0.1:1/1.000000", "s/10.0.0.2:1/1.000000"}));
  hub_.Heal();
  hub_.Add(kNodes[2], &nodes_[2]->distro);
  nodes_[2]->distro.SetUpPeers({kNodes.begin(), kNodes.end()});
  nodes_[2]->distro.Start();
  EXPECT_TRUE(Converges({"s/10.0.0.1:1/1.000000", "s/10.0.0.2:1/1.000000"}));
}

}  // namespace
}  // namespace dnsd::distro
