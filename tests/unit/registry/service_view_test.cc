#include "registry/service_view.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace dnsd::registry {
namespace {

std::shared_ptr<const ServiceView> ViewWith(int instances) {
  std::vector<std::shared_ptr<const Instance>> list;
  for (int i = 0; i < instances; ++i) {
    Instance instance;
    instance.address.ip = "10.0.0." + std::to_string(i + 1);
    instance.address.port = 8080;
    list.push_back(std::make_shared<const Instance>(std::move(instance)));
  }
  return std::make_shared<const ServiceView>(ServiceKey{"public", "DEFAULT_GROUP", "svc"},
                                             ServiceMeta{}, std::move(list), 1);
}

std::string Encoding(const ServiceView& view) {
  std::string out;
  for (const auto& instance : view.instances()) out += instance->ip() + ";";
  return out;
}

// An encoder that counts its calls in `calls`.
auto CountingEncoder(int& calls) {
  return [&calls](const ServiceView& v) {
    ++calls;
    return Encoding(v);
  };
}

class ServiceViewMemoTest : public ::testing::Test {
 protected:
  void TearDown() override { ServiceView::SetMemoBudget(int64_t{32} << 20); }
};

TEST_F(ServiceViewMemoTest, EncodesOncePerViewAndAccountsForTheBytesItKeeps) {
  const int64_t before = ServiceView::memo_bytes();
  int calls = 0;
  auto encode = CountingEncoder(calls);
  {
    auto view = ViewWith(3);
    const std::string* first = view->Memo(encode);
    ASSERT_NE(first, nullptr);
    EXPECT_EQ(*first, "10.0.0.1;10.0.0.2;10.0.0.3;");
    EXPECT_EQ(view->Memo(encode), first);
    EXPECT_EQ(calls, 1);
    EXPECT_GE(ServiceView::memo_bytes() - before, static_cast<int64_t>(first->size()));
  }
  EXPECT_EQ(ServiceView::memo_bytes(), before);  // released with the view
}

TEST_F(ServiceViewMemoTest, OverBudgetAViewIsNotMemoisedAndNotEncodedAgainByTheMemo) {
  ServiceView::SetMemoBudget(ServiceView::memo_bytes() + 4);
  const int64_t before = ServiceView::memo_bytes();
  int calls = 0;
  auto encode = CountingEncoder(calls);
  auto view = ViewWith(2);
  EXPECT_EQ(view->Memo(encode), nullptr);
  EXPECT_EQ(view->Memo(encode), nullptr);
  EXPECT_EQ(calls, 1);  // later readers encode for themselves without asking the memo again
  EXPECT_EQ(ServiceView::memo_bytes(), before);
  // A small view still fits what is left of the budget.
  auto tiny = ViewWith(0);
  const std::string* empty = tiny->Memo(encode);
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(*empty, "");
}

TEST_F(ServiceViewMemoTest, RacingReadersAllSeeOneMemoAndNothingLeaks) {
  const int64_t before = ServiceView::memo_bytes();
  for (int round = 0; round < 50; ++round) {
    auto view = ViewWith(20);
    std::atomic<int> ready{0};
    std::vector<const std::string*> seen(4);
    std::vector<std::thread> readers;
    for (int t = 0; t < 4; ++t) {
      readers.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < 4) {
        }
        seen[t] = view->Memo(Encoding);
      });
    }
    for (auto& r : readers) r.join();
    for (const std::string* s : seen) {
      ASSERT_NE(s, nullptr);
      EXPECT_EQ(s, seen[0]);  // the losers of the race dropped their copies
    }
    EXPECT_EQ(*seen[0], Encoding(*view));
  }
  EXPECT_EQ(ServiceView::memo_bytes(), before);
}

}  // namespace
}  // namespace dnsd::registry
