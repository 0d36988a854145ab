// QueryWaiter parks the DNS queries the agent's zone cannot answer yet: the first query for a
// service starts its subscription, and waits here (not in a worker: the answer path never
// blocks on the network) until the service's first list arrives or `deadline_ms` passes
// (reference dns.md part D rule 10). Either way the pipeline answers it again: with the data,
// or, past the deadline, with whatever the follower says (SERVFAIL + EDE 14/22).
//
// It is the DNS server's waiter (a dns::Forwarder): Resolve runs on a worker's event loop and
// its parked queries stay with that loop. Wake may be called from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "common/event_loop.h"
#include "common/metrics.h"
#include "dnsd/dns_server.h"
#include "dnsd/query_pipeline.h"

namespace dnsd::agent {

class QueryWaiter final : public dns::Forwarder {
 public:
  // Beyond `max_parked` queries in all, a new one is answered at once.
  QueryWaiter(int64_t deadline_ms, size_t max_parked, common::MetricsRegistry& metrics);
  // Before the DNS server starts.
  void SetPipeline(const dns::QueryPipeline* pipeline) { pipeline_ = pipeline; }

  void Resolve(common::EventLoop& loop, const dns::Query& q, size_t response_limit,
               Reply reply) override;
  // Some service got its first data: every loop tries its parked queries again.
  void Wake();
  size_t parked() const;

 private:
  struct Parked {
    dns::Query q;
    size_t limit = 0;
    Reply reply;
    bool done = false;
  };
  // Answers `p` unless it still has to wait (`may_wait`); true when answered.
  bool TryAnswer(Parked& p, bool may_wait);
  void Retry(common::EventLoop& loop);
  void Expire(common::EventLoop& loop, const std::shared_ptr<Parked>& p);

  const int64_t deadline_ms_;
  const size_t max_parked_;
  const dns::QueryPipeline* pipeline_ = nullptr;
  mutable std::mutex mu_;
  std::map<common::EventLoop*, std::vector<std::shared_ptr<Parked>>> parked_;
  size_t count_ = 0;
  std::set<common::EventLoop*> retry_posted_;  // loops with a Retry posted and not yet run
  common::Counter& waited_;
  common::Counter& answered_in_time_;
  common::Counter& timed_out_;
  common::Counter& overflow_;
};

}  // namespace dnsd::agent
