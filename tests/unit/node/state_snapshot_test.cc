// Raft snapshots of the state machines: the snapshot a node keeps does not copy its config
// store; the one a follower gets does, and restores a store that is behind.
#include "node/state_snapshot.h"

#include <gtest/gtest.h>

#include "config/config_command.h"
#include "node/log_entries.h"
#include "testing/files.h"

namespace dnsd::node {
namespace {

std::string PublishEntry(const std::string& data_id, const std::string& content) {
  config::ConfigCommand c;
  c.type = config::ConfigCommandType::kPublish;
  c.timestamp_ms = 1000;
  c.key = {"", "DEFAULT_GROUP", data_id};
  c.item.content = content;
  return ConfigLogEntry(c);
}

std::string PersistentInstanceEntry(const std::string& ip) {
  registry::Command c;
  c.type = registry::CommandType::kRegisterInstance;
  c.service = {"public", "DEFAULT_GROUP", "db"};
  c.instance.address = {ip, 5432, "DEFAULT"};
  c.instance.ephemeral = false;
  return NamingLogEntry(c);
}

std::unique_ptr<config::ConfigStore> OpenStore(const std::string& name) {
  auto store = config::ConfigStore::Open(testing::TempDir(name));
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

TEST(StateSnapshotTest, KeptSmallExpandedForAFollower) {
  registry::Registry leader_registry(registry::RegistryOptions{});
  auto leader_store = OpenStore("snap-leader");
  auth::AuthStore auth, follower_auth;
  uint64_t index = 0;
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(ApplyLogEntry(StateMachines{leader_registry, *leader_store, auth}, ++index,
                              PublishEntry("c" + std::to_string(i), std::string(200, 'x')))
                    .ok());
  }
  ASSERT_TRUE(ApplyLogEntry(StateMachines{leader_registry, *leader_store, auth}, ++index,
                            PersistentInstanceEntry("10.0.0.1"))
                  .ok());
  auto kept = TakeStateSnapshot(StateMachines{leader_registry, *leader_store, auth});
  ASSERT_TRUE(kept.ok()) << kept.status();
  EXPECT_LT(kept->size(), 2000u) << "the config store is not copied into the kept snapshot";

  // A restart: the store on disk holds everything; the registry comes from the snapshot.
  registry::Registry restarted(registry::RegistryOptions{});
  ASSERT_TRUE(RestoreStateSnapshot(StateMachines{restarted, *leader_store, auth}, *kept, 0).ok());
  ASSERT_NE(restarted.Find({"public", "DEFAULT_GROUP", "db"}), nullptr);

  // A follower whose store is behind cannot use the kept snapshot, and says why...
  registry::Registry follower_registry(registry::RegistryOptions{});
  auto follower_store = OpenStore("snap-follower");
  const absl::Status refused = RestoreStateSnapshot(
      StateMachines{follower_registry, *follower_store, follower_auth}, *kept, 0);
  EXPECT_EQ(refused.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(follower_store->applied_index(), 0u);
  // ...but the expanded one carries the store.
  auto full = ExpandStateSnapshot(*leader_store, *kept);
  ASSERT_TRUE(full.ok()) << full.status();
  EXPECT_GT(full->size(), 50u * 200);
  ASSERT_TRUE(RestoreStateSnapshot(StateMachines{follower_registry, *follower_store, follower_auth},
                                   *full, 0)
                  .ok());
  EXPECT_EQ(follower_store->applied_index(), index);
  ASSERT_NE(follower_store->Get({"", "DEFAULT_GROUP", "c49"}), nullptr);
  ASSERT_NE(follower_registry.Find({"public", "DEFAULT_GROUP", "db"}), nullptr);
  EXPECT_FALSE(
      RestoreStateSnapshot(StateMachines{follower_registry, *follower_store, follower_auth},
                           full->substr(0, 20), 0)
          .ok());
}

TEST(StateSnapshotTest, OneBufferSnapshotWithConfigsRebuildsAStoreAndRepeatsByteForByte) {
  registry::Registry registry(registry::RegistryOptions{});
  auto store = OpenStore("snap-single");
  auth::AuthStore auth;
  uint64_t index = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(ApplyLogEntry(StateMachines{registry, *store, auth}, ++index,
                              PersistentInstanceEntry("10.0.1." + std::to_string(i + 1)))
                    .ok());
    ASSERT_TRUE(ApplyLogEntry(StateMachines{registry, *store, auth}, ++index,
                              PublishEntry("c" + std::to_string(i), "v" + std::to_string(i)))
                    .ok());
  }
  const StateMachines machines{registry, *store, auth};
  auto first = TakeStateSnapshot(machines, SnapshotConfigs::kCurrent);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(registry.last_snapshot_bytes(), registry.DurableSnapshot().size());
  // The second is sized from the first (no growth) and must come out the same.
  auto second = TakeStateSnapshot(machines, SnapshotConfigs::kCurrent);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  // The registry part written in place is the registry's own snapshot, length included.
  const std::string part = registry.DurableSnapshot();
  EXPECT_NE(first->find(part), std::string::npos);

  // A rebuilt (empty) store and a new registry come back whole from it.
  registry::Registry rebuilt(registry::RegistryOptions{});
  auto empty_store = OpenStore("snap-rebuilt");
  auth::AuthStore rebuilt_auth;
  ASSERT_TRUE(
      RestoreStateSnapshot(StateMachines{rebuilt, *empty_store, rebuilt_auth}, *first, 0).ok());
  EXPECT_EQ(empty_store->applied_index(), index);
  EXPECT_EQ(rebuilt.last_snapshot_bytes(), part.size());  // sizes its first own snapshot
  auto config = empty_store->Get({"", "DEFAULT_GROUP", "c19"});
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->content, "v19");
  auto view = rebuilt.Find({"public", "DEFAULT_GROUP", "db"});
  ASSERT_NE(view, nullptr);
  EXPECT_EQ(view->instances().size(), 20u);
}

}  // namespace
}  // namespace dnsd::node
