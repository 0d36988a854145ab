#include "agent/query_waiter.h"

#include <algorithm>

#include "common/thread_buffer.h"

namespace dnsd::agent {

QueryWaiter::QueryWaiter(int64_t deadline_ms, size_t max_parked, common::MetricsRegistry& metrics)
    : deadline_ms_(deadline_ms),
      max_parked_(max_parked),
      waited_(metrics.GetCounter("dnsd_agent_parked_queries_total",
                                 "Queries parked until a new subscription's first list")),
      answered_in_time_(metrics.GetCounter("dnsd_agent_parked_answered_total",
                                           "Parked queries answered with data in time")),
      timed_out_(metrics.GetCounter("dnsd_agent_parked_timeouts_total",
                                    "Parked queries answered at their deadline without data")),
      overflow_(metrics.GetCounter("dnsd_agent_parked_overflow_total",
                                   "Queries answered at once because too many were parked")) {}

bool QueryWaiter::TryAnswer(Parked& p, bool may_wait) {
  constexpr size_t kOut = 65537;
  uint8_t* out = common::ThreadBuffer<struct ReanswerOut, kOut>();
  const dns::PipelineOutcome outcome =
      pipeline_->Reanswer(p.q, out, kOut, p.limit > dns::kOurUdpSize, may_wait);
  if (outcome.verdict == dns::Verdict::kWait) return false;
  p.done = true;
  if (outcome.verdict == dns::Verdict::kRespond) {
    pipeline_->CountRcode(static_cast<uint8_t>(out[3] & 0xF));
    p.reply(out, outcome.size);
  }
  return true;
}

void QueryWaiter::Resolve(common::EventLoop& loop, const dns::Query& q, size_t response_limit,
                          Reply reply) {
  auto p = std::make_shared<Parked>();
  p->q = q;
  p->limit = response_limit;
  p->reply = std::move(reply);
  // The list may have come between the worker's first try and now.
  if (TryAnswer(*p, /*may_wait=*/true)) return;
  bool overflow = false;
  {
    std::lock_guard lock(mu_);
    overflow = count_ >= max_parked_;
    if (!overflow) {
      ++count_;
      parked_[&loop].push_back(p);
    }
  }
  if (overflow) {
    overflow_.Inc();
    TryAnswer(*p, /*may_wait=*/false);
    return;
  }
  waited_.Inc();
  loop.RunAfter(deadline_ms_, [this, &loop, p] { Expire(loop, p); });
}

void QueryWaiter::Expire(common::EventLoop& loop, const std::shared_ptr<Parked>& p) {
  if (p->done) return;
  TryAnswer(*p, /*may_wait=*/false);
  timed_out_.Inc();
  std::lock_guard lock(mu_);
  auto& list = parked_[&loop];
  list.erase(std::remove(list.begin(), list.end(), p), list.end());
  --count_;
}

void QueryWaiter::Retry(common::EventLoop& loop) {
  std::vector<std::shared_ptr<Parked>> list;
  {
    std::lock_guard lock(mu_);
    retry_posted_.erase(&loop);  // a Wake from now on posts again: its data may be newer
    list = parked_[&loop];
  }
  size_t answered = 0;
  for (const auto& p : list) {
    if (!p->done && TryAnswer(*p, /*may_wait=*/true)) ++answered;
  }
  if (answered == 0) return;
  answered_in_time_.Inc(answered);
  std::lock_guard lock(mu_);
  auto& parked = parked_[&loop];
  const size_t before = parked.size();
  parked.erase(std::remove_if(parked.begin(), parked.end(), [](const auto& p) { return p->done; }),
               parked.end());
  count_ -= before - parked.size();
}

void QueryWaiter::Wake() {
  std::lock_guard lock(mu_);
  for (auto& [loop, list] : parked_) {
    // Lists arriving in a burst (a reconnection resubscribes everything) wake each loop once.
    if (list.empty() || !retry_posted_.insert(loop).second) continue;
    common::EventLoop* target = loop;
    loop->Post([this, target] { Retry(*target); });
  }
}

size_t QueryWaiter::parked() const {
  std::lock_guard lock(mu_);
  return count_;
}

}  // namespace dnsd::agent
