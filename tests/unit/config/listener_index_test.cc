#include "config/listener_index.h"

#include <gtest/gtest.h>

namespace dnsd::config {
namespace {

ConfigKey Key(std::string data_id) { return {"", "DEFAULT_GROUP", std::move(data_id)}; }

struct Recorder {
  std::vector<std::vector<ConfigKey>> calls;
  ListenerIndex::Callback callback() {
    return [this](std::vector<ConfigKey> changed) { calls.push_back(std::move(changed)); };
  }
};

TEST(ListenerIndex, NotifyFiresEveryListenerOfTheKeyOnce) {
  ListenerIndex index;
  Recorder a, b, c;
  index.Park({{Key("x"), "m1"}, {Key("y"), ""}}, "10.0.0.1", 1000, a.callback());
  index.Park({{Key("y"), "m2"}}, "10.0.0.2", 1000, b.callback());
  index.Park({{Key("z"), ""}}, "10.0.0.3", 1000, c.callback());
  EXPECT_EQ(index.ListenersOf(Key("y")).size(), 2u);
  index.Notify(Key("y"));
  ASSERT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(a.calls[0], std::vector<ConfigKey>{Key("y")});
  ASSERT_EQ(b.calls.size(), 1u);
  EXPECT_TRUE(c.calls.empty());
  // A fired listener is gone from all its keys.
  index.Notify(Key("x"));
  EXPECT_EQ(a.calls.size(), 1u);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.ListenersOf(Key("x")).empty());
}

TEST(ListenerIndex, ExpireAnswersEmptyAtTheDeadline) {
  ListenerIndex index;
  Recorder early, late;
  index.Park({{Key("x"), ""}}, "ip", 1000, early.callback());
  index.Park({{Key("x"), ""}}, "ip", 2000, late.callback());
  index.Expire(999);
  EXPECT_TRUE(early.calls.empty());
  index.Expire(1000);
  ASSERT_EQ(early.calls.size(), 1u);
  EXPECT_TRUE(early.calls[0].empty());
  EXPECT_TRUE(late.calls.empty());
  EXPECT_EQ(index.size(), 1u);
}

TEST(ListenerIndex, AnswerFiresOnlyOnce) {
  ListenerIndex index;
  Recorder r;
  const uint64_t id = index.Park({{Key("x"), ""}}, "ip", 1000, r.callback());
  EXPECT_TRUE(index.Answer(id, {Key("x")}));
  EXPECT_FALSE(index.Answer(id, {}));
  index.Notify(Key("x"));
  index.Expire(5000);
  EXPECT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(index.size(), 0u);
}

TEST(ListenerIndex, CallbacksMayReenterTheIndex) {
  ListenerIndex index;
  Recorder second;
  index.Park({{Key("x"), ""}}, "ip", 1000, [&](std::vector<ConfigKey>) {
    // A client that re-polls from inside its answer path must not deadlock.
    index.Park({{Key("x"), ""}}, "ip", 2000, second.callback());
  });
  index.Notify(Key("x"));
  EXPECT_EQ(index.size(), 1u);
  index.Notify(Key("x"));
  EXPECT_EQ(second.calls.size(), 1u);
}

}  // namespace
}  // namespace dnsd::config
