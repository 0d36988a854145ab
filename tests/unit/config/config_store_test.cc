#include "config/config_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>

#include "config/config_command.h"
#include "config/md5.h"

namespace dnsd::config {
namespace {

TEST(Md5, KnownVectors) {
  // RFC 1321 appendix A.5.
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(
      Md5Hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
      "57edf4a22be3c955ac49da2e2107b67a");
  // Lengths around the padding boundary (55, 56, 64 bytes) against values from md5sum.
  EXPECT_EQ(Md5Hex(std::string(55, 'a')), "ef1772b6dff9a122358552954ad0df65");
  EXPECT_EQ(Md5Hex(std::string(56, 'a')), "3b0c8ac703f828b04c6c197006d17218");
  EXPECT_EQ(Md5Hex(std::string(64, 'a')), "014842d480b571495a4a0363793f7367");
}

TEST(ConfigModel, TenantSpellingsOfTheDefaultAreOne) {
  EXPECT_EQ(NormalizeTenant(""), "");
  EXPECT_EQ(NormalizeTenant(" public "), "");
  EXPECT_EQ(NormalizeTenant("PUBLIC"), "");
  EXPECT_EQ(NormalizeTenant("dev"), "dev");
  EXPECT_EQ(NamespaceIdOfTenant(""), "public");
  EXPECT_EQ(TenantOfNamespaceId("public"), "");
}

TEST(ConfigModel, Validation) {
  EXPECT_TRUE(ValidateKeyPart("dataId", "app.yaml:v1_x-2").ok());
  EXPECT_FALSE(ValidateKeyPart("dataId", "").ok());
  EXPECT_FALSE(ValidateKeyPart("dataId", "a b").ok());
  EXPECT_FALSE(ValidateKeyPart("group", "g/1").ok());
  EXPECT_FALSE(ValidateKeyPart("dataId", std::string(257, 'a')).ok());
  EXPECT_TRUE(ValidateTenant(std::string(128, 'a')).ok());
  EXPECT_FALSE(ValidateTenant(std::string(129, 'a')).ok());
  EXPECT_EQ(NormalizeConfigType("YAML"), "yaml");
  const ConfigKey key = MakeConfigKey(" app.yaml ", "  ", "PUBLIC");
  EXPECT_EQ(key, (ConfigKey{"", "DEFAULT_GROUP", "app.yaml"}));
  EXPECT_TRUE(ValidateKey(key).ok());
  EXPECT_NE(std::string(ValidateKey(MakeConfigKey("a", "g/1", "")).message()).find("group"),
            std::string::npos);
  EXPECT_NE(std::string(ValidateKey(MakeConfigKey("a", "g", std::string(129, 't'))).message())
                .find("tenant"),
            std::string::npos);
  EXPECT_TRUE(ValidateContent("x", 1).ok());
  EXPECT_FALSE(ValidateContent(" \n\t", 100).ok());
  EXPECT_FALSE(ValidateContent("xx", 1).ok());
  EXPECT_EQ(NormalizeConfigType("bogus"), "text");
}

TEST(ConfigModel, GroupKeyEscapesSeparators) {
  EXPECT_EQ((ConfigKey{"", "G", "a"}).GroupKey(), "a+G");
  EXPECT_EQ((ConfigKey{"t", "G", "a"}).GroupKey(), "a+G+t");
}

ConfigCommand Publish(std::string data_id, std::string content, int64_t ts = 1000,
                      std::string tenant = "") {
  ConfigCommand c;
  c.type = ConfigCommandType::kPublish;
  c.timestamp_ms = ts;
  c.src_ip = "10.0.0.1";
  c.key = {std::move(tenant), "DEFAULT_GROUP", std::move(data_id)};
  c.item.content = std::move(content);
  c.item.type = "yaml";
  return c;
}

ConfigCommand Remove(std::string data_id, int64_t ts = 2000) {
  ConfigCommand c;
  c.type = ConfigCommandType::kRemove;
  c.timestamp_ms = ts;
  c.key = {"", "DEFAULT_GROUP", std::move(data_id)};
  return c;
}

TEST(ConfigCommand, RoundTripsAndRejectsDamage) {
  ConfigCommand c = Publish("a", "x=1\n& = + %");
  c.has_cas = true;
  c.cas_md5 = "abc";
  c.namespace_info = {"dev", "Dev", "desc"};
  const std::string bytes = EncodeConfigCommand(c);
  auto back = DecodeConfigCommand(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->key, c.key);
  EXPECT_EQ(back->item.content, c.item.content);
  EXPECT_TRUE(back->has_cas);
  EXPECT_EQ(back->namespace_info, c.namespace_info);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    EXPECT_FALSE(DecodeConfigCommand(bytes.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(DecodeConfigCommand(bytes + "x").ok());
}

class ConfigStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dnsd_config_test_" + std::to_string(std::random_device{}()));
    std::filesystem::remove_all(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto s = ConfigStore::Open(dir_.string());
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = *std::move(s);
  }
  absl::Status Apply(const ConfigCommand& c) { return store_->Apply(++index_, c); }

  std::filesystem::path dir_;
  std::unique_ptr<ConfigStore> store_;
  uint64_t index_ = 0;
};

TEST_F(ConfigStoreTest, PublishUpdateRemoveWithHistory) {
  std::vector<ConfigChange> changes;
  store_->AddListener([&](const ConfigChange& c) { changes.push_back(c); });
  ASSERT_TRUE(Apply(Publish("app.yaml", "v: 1", 1000)).ok());
  auto item = store_->Get({"", "DEFAULT_GROUP", "app.yaml"});
  ASSERT_NE(item, nullptr);
  EXPECT_EQ(item->content, "v: 1");
  EXPECT_EQ(item->md5, Md5Hex("v: 1"));
  EXPECT_EQ(item->type, "yaml");
  EXPECT_EQ(item->create_time_ms, 1000);

  ASSERT_TRUE(Apply(Publish("app.yaml", "v: 2", 1500)).ok());
  item = store_->Get({"", "DEFAULT_GROUP", "app.yaml"});
  EXPECT_EQ(item->content, "v: 2");
  EXPECT_EQ(item->create_time_ms, 1000);
  EXPECT_EQ(item->modify_time_ms, 1500);
  // Same content again: stored and recorded, but no md5 change to announce.
  ASSERT_TRUE(Apply(Publish("app.yaml", "v: 2", 1600)).ok());
  ASSERT_TRUE(Apply(Remove("app.yaml")).ok());
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "app.yaml"}), nullptr);
  EXPECT_EQ(store_->Md5Of({"", "DEFAULT_GROUP", "app.yaml"}), "");
  // Removing what is not there succeeds and changes nothing.
  ASSERT_TRUE(Apply(Remove("app.yaml")).ok());

  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].md5, Md5Hex("v: 1"));
  EXPECT_EQ(changes[1].md5, Md5Hex("v: 2"));
  EXPECT_EQ(changes[2].md5, "");

  auto history = store_->History({"", "DEFAULT_GROUP", "app.yaml"}, 1, 10);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->total_count, 4);
  // Newest first: D (removed v: 2), U (replaced v: 2), U (replaced v: 1), I (v: 1).
  EXPECT_EQ(history->items[0].op_type, 'D');
  EXPECT_EQ(history->items[0].content, "v: 2");
  EXPECT_EQ(history->items[2].op_type, 'U');
  EXPECT_EQ(history->items[2].content, "v: 1");
  EXPECT_EQ(history->items[3].op_type, 'I');
  EXPECT_EQ(history->items[3].content, "v: 1");
  EXPECT_EQ(history->items[3].src_ip, "10.0.0.1");

  auto previous = store_->PreviousHistory(history->items[0].id);
  ASSERT_TRUE(previous.ok());
  ASSERT_TRUE(previous->has_value());
  EXPECT_EQ((*previous)->id, history->items[1].id);
  auto first = store_->PreviousHistory(history->items[3].id);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->has_value());

  auto paged = store_->History({"", "DEFAULT_GROUP", "app.yaml"}, 2, 3);
  ASSERT_TRUE(paged.ok());
  EXPECT_EQ(paged->pages_available, 2);
  ASSERT_EQ(paged->items.size(), 1u);
  EXPECT_EQ(paged->items[0].op_type, 'I');
}

TEST_F(ConfigStoreTest, CasPublish) {
  ConfigCommand create = Publish("k", "one");
  create.has_cas = true;
  create.cas_md5 = "";  // create only if absent
  ASSERT_TRUE(Apply(create).ok());
  EXPECT_EQ(Apply(create).code(), absl::StatusCode::kAborted);

  ConfigCommand update = Publish("k", "two");
  update.has_cas = true;
  update.cas_md5 = Md5Hex("wrong");
  EXPECT_EQ(Apply(update).code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "k"})->content, "one");
  update.cas_md5 = Md5Hex("one");
  ASSERT_TRUE(Apply(update).ok());
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "k"})->content, "two");
  // Failed CAS attempts leave no history rows.
  EXPECT_EQ(store_->History({"", "DEFAULT_GROUP", "k"}, 1, 10)->total_count, 2);
}

TEST_F(ConfigStoreTest, StateAndAppliedIndexSurviveReopenAndReplayIsSkipped) {
  ASSERT_TRUE(Apply(Publish("a", "1")).ok());
  ASSERT_TRUE(Apply(Publish("a", "2")).ok());
  ConfigCommand ns;
  ns.type = ConfigCommandType::kCreateNamespace;
  ns.namespace_info = {"dev", "Dev", "development"};
  ASSERT_TRUE(Apply(ns).ok());
  ASSERT_TRUE(Apply(Publish("b", "x", 3000, "dev")).ok());
  Reopen();
  EXPECT_EQ(store_->applied_index(), 4u);
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "a"})->content, "2");
  EXPECT_TRUE(store_->NamespaceExists("dev"));
  EXPECT_EQ(store_->ConfigCount("dev"), 1);
  EXPECT_EQ(store_->ConfigCount(""), 1);
  // A replay of the same log positions changes nothing (no duplicate history rows).
  ASSERT_TRUE(store_->Apply(2, Publish("a", "2")).ok());
  EXPECT_EQ(store_->History({"", "DEFAULT_GROUP", "a"}, 1, 10)->total_count, 2);
  // New ids continue after the stored sequence.
  index_ = 4;
  ASSERT_TRUE(Apply(Publish("c", "y")).ok());
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "c"})->id, 3);
}

TEST_F(ConfigStoreTest, SameCommandsGiveSameStateOnAnotherReplica) {
  std::vector<ConfigCommand> log;
  for (int i = 0; i < 50; ++i) {
    ConfigCommand c = (i % 7 == 6)
                          ? Remove("k" + std::to_string(i % 5), 100 + i)
                          : Publish("k" + std::to_string(i % 5), "v" + std::to_string(i), 100 + i);
    if (i % 11 == 10) {
      c.has_cas = true;
      c.cas_md5 = "stale";
    }
    log.push_back(c);
  }
  std::vector<absl::StatusCode> results;
  for (const auto& c : log) results.push_back(Apply(c).code());
  auto other_dir = dir_.string() + "_replica";
  std::filesystem::remove_all(other_dir);
  auto other = ConfigStore::Open(other_dir);
  ASSERT_TRUE(other.ok());
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ((*other)->Apply(i + 1, log[i]).code(), results[i]) << i;
  }
  for (int k = 0; k < 5; ++k) {
    ConfigKey key{"", "DEFAULT_GROUP", "k" + std::to_string(k)};
    auto a = store_->Get(key), b = (*other)->Get(key);
    ASSERT_EQ(a == nullptr, b == nullptr);
    if (a) {
      EXPECT_EQ(a->md5, b->md5);
      EXPECT_EQ(a->id, b->id);
      EXPECT_EQ(a->modify_time_ms, b->modify_time_ms);
    }
    auto ha = store_->History(key, 1, 100), hb = (*other)->History(key, 1, 100);
    ASSERT_EQ(ha->items.size(), hb->items.size());
    for (size_t i = 0; i < ha->items.size(); ++i) EXPECT_EQ(ha->items[i].id, hb->items[i].id);
  }
  other->reset();
  std::filesystem::remove_all(other_dir);
}

TEST_F(ConfigStoreTest, NamespaceRules) {
  ConfigCommand c;
  c.type = ConfigCommandType::kDeleteNamespace;
  c.namespace_info.id = "public";
  EXPECT_EQ(store_->Precheck(c).code(), absl::StatusCode::kInvalidArgument);
  c.namespace_info.id = "nope";
  EXPECT_EQ(Apply(c).code(), absl::StatusCode::kNotFound);
  ConfigCommand create;
  create.type = ConfigCommandType::kCreateNamespace;
  create.namespace_info = {"dev", "Dev", ""};
  ASSERT_TRUE(Apply(create).ok());
  EXPECT_EQ(Apply(create).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(Apply(Publish("x", "1", 1, "dev")).ok());
  c.namespace_info.id = "dev";
  EXPECT_EQ(Apply(c).code(), absl::StatusCode::kFailedPrecondition);
  ConfigCommand rm = Remove("x");
  rm.key.tenant = "dev";
  ASSERT_TRUE(Apply(rm).ok());
  ASSERT_TRUE(Apply(c).ok());
  EXPECT_FALSE(store_->NamespaceExists("dev"));
}

TEST_F(ConfigStoreTest, Search) {
  ASSERT_TRUE(Apply(Publish("order.yaml", "a")).ok());
  ASSERT_TRUE(Apply(Publish("order.json", "b")).ok());
  ASSERT_TRUE(Apply(Publish("user.yaml", "c")).ok());
  ConfigCommand tagged = Publish("pay.yaml", "d");
  tagged.item.tags = "prod,eu";
  tagged.item.app_name = "pay";
  ASSERT_TRUE(Apply(tagged).ok());

  SearchQuery q;
  q.data_id = "order.yaml";
  EXPECT_EQ(store_->Search(q).total_count, 1);
  q.blur = true;
  q.data_id = "order*";
  EXPECT_EQ(store_->Search(q).total_count, 2);
  q.data_id = "yaml";  // blur without '*': substring
  EXPECT_EQ(store_->Search(q).total_count, 3);
  q.data_id = "";
  q.tags = "eu";
  auto page = store_->Search(q);
  ASSERT_EQ(page.total_count, 1);
  EXPECT_EQ(page.items[0]->key.data_id, "pay.yaml");
  q.tags = "";
  q.app_name = "pay";
  EXPECT_EQ(store_->Search(q).total_count, 1);
  q.app_name = "";
  q.page_size = 3;
  q.page_no = 2;
  page = store_->Search(q);
  EXPECT_EQ(page.total_count, 4);
  EXPECT_EQ(page.pages_available, 2);
  EXPECT_EQ(page.items.size(), 1u);
}

// Listings are read by rank (O(log n + page)): every page, every page size, empty pages past
// the end, the last partial page, groups and tenants apart, and updates and deletes between
// pages, checked against a brute-force model of the same configs.
TEST_F(ConfigStoreTest, RankedListingsPageLikeASortedModel) {
  std::map<std::tuple<std::string, std::string, std::string>, std::string> model;
  auto publish = [&](const std::string& tenant, const std::string& group, const std::string& id) {
    ConfigCommand c = Publish(id, "x", 1000, tenant);
    c.key.group = group;
    ASSERT_TRUE(Apply(c).ok());
    model[{tenant, group, id}] = id;
  };
  ConfigCommand dev;
  dev.type = ConfigCommandType::kCreateNamespace;
  dev.namespace_info = {"dev", "Dev", ""};
  ASSERT_TRUE(Apply(dev).ok());
  for (int i = 0; i < 1300; ++i) {  // several chunks of the ranked index
    publish("", i % 3 == 0 ? "G1" : "G2", "id-" + std::to_string((i * 7919) % 1300));
  }
  for (int i = 0; i < 40; ++i) publish("dev", "G1", "d-" + std::to_string(i));
  auto expect = [&](const std::string& tenant, const std::string& group) {
    std::vector<std::string> want;
    for (const auto& [k, id] : model) {
      if (std::get<0>(k) == tenant && (group.empty() || std::get<1>(k) == group)) {
        want.push_back(std::get<1>(k) + "/" + id);
      }
    }
    for (int size : {1, 7, 100, 1000}) {
      SearchQuery q;
      q.tenant = tenant;
      q.group = group;
      q.page_size = size;
      std::vector<std::string> got;
      const int pages = static_cast<int>((want.size() + size - 1) / size);
      for (q.page_no = 1; q.page_no <= pages + 1; ++q.page_no) {
        const auto page = store_->Search(q);
        EXPECT_EQ(page.total_count, static_cast<int64_t>(want.size()));
        EXPECT_EQ(page.pages_available, pages);
        if (q.page_no <= pages) {
          const size_t expected = q.page_no < pages ? size : want.size() - (pages - 1) * size;
          EXPECT_EQ(page.items.size(), expected) << "page " << q.page_no << " of " << size;
        } else {
          EXPECT_TRUE(page.items.empty()) << "past the last page";
        }
        for (const auto& item : page.items)
          got.push_back(item->key.group + "/" + item->key.data_id);
      }
      EXPECT_EQ(got, want) << tenant << "/" << group << " by " << size;
    }
    EXPECT_EQ(store_->ConfigCount(tenant),
              static_cast<int64_t>(std::count_if(model.begin(), model.end(), [&](const auto& e) {
                return std::get<0>(e.first) == tenant;
              })));
  };
  expect("", "");
  expect("", "G1");
  expect("", "G2");
  expect("dev", "");
  expect("dev", "G2");  // no such group here: empty
  // Deletes and updates between pages: later pages shift, nothing is listed twice.
  for (int i = 0; i < 1300; i += 5) {
    const std::string id = "id-" + std::to_string(i);
    for (const std::string group : {"G1", "G2"}) {
      if (!model.erase({"", group, id})) continue;
      ConfigCommand rm = Remove(id);
      rm.key.group = group;
      ASSERT_TRUE(Apply(rm).ok());
    }
  }
  publish("", "G1", "id-2");  // an update keeps its place
  expect("", "");
  expect("", "G1");
  // And the order survives a reopen (the index is rebuilt from the store).
  Reopen();
  expect("", "");
  expect("dev", "");
  // Filters other than an exact group still scan, and agree with the model.
  SearchQuery q;
  q.blur = true;
  q.data_id = "id-12*";
  q.page_size = 1000;
  size_t want = 0;
  for (const auto& [k, id] : model) want += std::get<0>(k).empty() && id.rfind("id-12", 0) == 0;
  EXPECT_EQ(store_->Search(q).total_count, static_cast<int64_t>(want));
  // An exact data id and group: one config (or none), its other filters still applied.
  SearchQuery exact;
  exact.data_id = "id-2";
  exact.group = "G1";
  auto one = store_->Search(exact);
  ASSERT_EQ(one.total_count, 1);
  EXPECT_EQ(one.items[0]->key.data_id, "id-2");
  exact.app_name = "nobody";
  EXPECT_EQ(store_->Search(exact).total_count, 0);
  exact.app_name.clear();
  exact.group = "G9";
  EXPECT_EQ(store_->Search(exact).total_count, 0);
}

// A follower that fell behind a compacted log takes the leader's store whole: configs,
// history and namespaces become the snapshot's (what it had and the snapshot has not is
// gone), listeners hear about every config that changed, and the state survives a reopen.
TEST_F(ConfigStoreTest, SnapshotRestoresAnotherStoreWhole) {
  ASSERT_TRUE(Apply(Publish("kept", "same")).ok());
  ASSERT_TRUE(Apply(Publish("changed", "v1")).ok());
  ASSERT_TRUE(Apply(Publish("changed", "v2")).ok());
  ConfigCommand ns;
  ns.type = ConfigCommandType::kCreateNamespace;
  ns.namespace_info = {"dev", "Dev", "from the leader"};
  ASSERT_TRUE(Apply(ns).ok());
  ASSERT_TRUE(Apply(Publish("added", "new")).ok());
  auto snapshot = store_->Snapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const uint64_t leader_applied = store_->applied_index();

  // The follower: its own older state, with a config the leader has since removed.
  const auto leader_dir = dir_;
  store_.reset();
  dir_ = leader_dir.string() + "-follower";
  index_ = 0;
  Reopen();
  ASSERT_TRUE(Apply(Publish("kept", "same")).ok());
  ASSERT_TRUE(Apply(Publish("changed", "v1")).ok());
  ASSERT_TRUE(Apply(Publish("removed", "x")).ok());
  std::vector<ConfigChange> changes;
  store_->AddListener([&](const ConfigChange& c) { changes.push_back(c); });

  ASSERT_TRUE(store_->Restore(*snapshot).ok());
  EXPECT_EQ(store_->applied_index(), leader_applied);
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "changed"})->content, "v2");
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "added"})->content, "new");
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "removed"}), nullptr);
  EXPECT_TRUE(store_->NamespaceExists("dev"));
  auto history = store_->History({"", "DEFAULT_GROUP", "changed"}, 1, 10);
  ASSERT_TRUE(history.ok());
  EXPECT_EQ(history->total_count, 2);
  std::map<std::string, std::string> changed;
  for (const auto& c : changes) changed[c.key.data_id] = c.md5;
  EXPECT_EQ(changed, (std::map<std::string, std::string>{
                         {"added", Md5Hex("new")}, {"changed", Md5Hex("v2")}, {"removed", ""}}));
  // Entries the snapshot covers are skipped; later ones apply on top.
  ASSERT_TRUE(store_->Apply(leader_applied, Publish("added", "stale")).ok());
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "added"})->content, "new");
  index_ = leader_applied;
  ASSERT_TRUE(Apply(Publish("after", "1")).ok());
  Reopen();
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "changed"})->content, "v2");
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "after"})->content, "1");

  // Damaged snapshots change nothing.
  const std::string good = *snapshot;
  for (size_t cut : {size_t{0}, size_t{1}, good.size() / 2, good.size() - 1}) {
    EXPECT_FALSE(store_->Restore(good.substr(0, cut)).ok()) << cut;
  }
  EXPECT_FALSE(store_->Restore(good + "x").ok());
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "after"})->content, "1");
  store_.reset();
  std::filesystem::remove_all(leader_dir);
}

ConfigCommand TrimHistory(int64_t before_ms, uint32_t max_rows) {
  ConfigCommand c;
  c.type = ConfigCommandType::kTrimHistory;
  c.timestamp_ms = before_ms + 1;
  c.trim_before_ms = before_ms;
  c.trim_max_rows = max_rows;
  return c;
}

TEST(ConfigCommand, TrimRoundTrips) {
  const std::string bytes = EncodeConfigCommand(TrimHistory(12345, 77));
  auto back = DecodeConfigCommand(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->type, ConfigCommandType::kTrimHistory);
  EXPECT_EQ(back->trim_before_ms, 12345);
  EXPECT_EQ(back->trim_max_rows, 77u);
  EXPECT_FALSE(DecodeConfigCommand(bytes.substr(0, bytes.size() - 1)).ok());
}

// Retention: rows older than the cut-off go, oldest first and at most the budget per command;
// the configs themselves and newer rows stay; the per-config index goes with its rows.
TEST_F(ConfigStoreTest, TrimHistoryDropsOnlyOldRowsWithinTheBudget) {
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(Apply(Publish("a", "v" + std::to_string(i), i * 1000)).ok());
    ASSERT_TRUE(Apply(Publish("b", "v" + std::to_string(i), i * 1000 + 500)).ok());
  }
  auto count = [&](const std::string& id) {
    auto page = store_->History({"", "DEFAULT_GROUP", id}, 1, 100);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->total_count : -1;
  };
  ASSERT_EQ(count("a"), 5);
  EXPECT_EQ(*store_->OldestHistoryMs(), std::optional<int64_t>(1000));

  ASSERT_TRUE(Apply(TrimHistory(3000, 2)).ok());  // the budget stops it after two rows
  EXPECT_EQ(count("a"), 4);
  EXPECT_EQ(count("b"), 4);
  EXPECT_EQ(*store_->OldestHistoryMs(), std::optional<int64_t>(2000));

  ASSERT_TRUE(Apply(TrimHistory(3000, 100)).ok());  // rows of 2000 and 2500 go; 3000 stays
  EXPECT_EQ(count("a"), 3);
  EXPECT_EQ(count("b"), 3);
  EXPECT_EQ(*store_->OldestHistoryMs(), std::optional<int64_t>(3000));
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "a"})->content, "v5");

  Reopen();  // the trim is state like any other
  EXPECT_EQ(count("a"), 3);
  ASSERT_TRUE(Apply(TrimHistory(1'000'000, 100)).ok());
  EXPECT_EQ(count("a"), 0);
  EXPECT_EQ(*store_->OldestHistoryMs(), std::optional<int64_t>());
  EXPECT_EQ(store_->Get({"", "DEFAULT_GROUP", "b"})->content, "v5");
}

}  // namespace
}  // namespace dnsd::config
