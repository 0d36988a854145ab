#include "raft/raft_node.h"

#include <chrono>
#include <cstdlib>

#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::raft {

namespace {
constexpr int64_t kReadTimeoutMs = 10000;
}  // namespace
namespace {
constexpr char kNotLeaderPayload[] = "dnsd.raft/not-leader";
}  // namespace

absl::Status NotLeaderError(NodeId leader) {
  absl::Status status = absl::FailedPreconditionError(
      leader == 0 ? std::string("no leader is known yet")
                  : common::StrCat("not the leader; the leader is node ", leader));
  status.SetPayload(kNotLeaderPayload, absl::Cord(std::to_string(leader)));
  return status;
}

bool IsNotLeader(const absl::Status& status, NodeId* leader) {
  auto payload = status.GetPayload(kNotLeaderPayload);
  if (!payload) return false;
  if (leader) *leader = std::strtoull(std::string(*payload).c_str(), nullptr, 10);
  return true;
}

absl::StatusOr<std::unique_ptr<RaftNode>> RaftNode::Create(RaftNodeOptions options,
                                                           RaftTransport& transport,
                                                           ApplyFn apply) {
  RaftStorageOptions storage_options;
  storage_options.env = options.env;
  auto storage = RaftStorage::Open(options.dir, storage_options);
  if (!storage.ok()) return storage.status();
  auto state = (*storage)->Load();
  if (!state.ok()) return state.status();
  if (state->snapshot) {
    if (!options.restore)
      return absl::InternalError("a snapshot is stored but nothing restores it");
    if (auto s = options.restore(*state->snapshot->data); !s.ok()) return s;
  }
  return std::unique_ptr<RaftNode>(new RaftNode(std::move(options), transport, std::move(apply),
                                                std::move(*storage), std::move(*state)));
}

RaftNode::RaftNode(RaftNodeOptions options, RaftTransport& transport, ApplyFn apply,
                   std::unique_ptr<RaftStorage> storage, RaftStorageState state)
    : options_(std::move(options)),
      transport_(transport),
      apply_(std::move(apply)),
      storage_(std::move(storage)),
      core_(std::make_unique<RaftCore>(options_.core, std::move(state))) {
  PublishStatus();
}

void RaftNode::PublishStatus() {
  std::lock_guard lock(mu_);
  status_ = RaftStatus{core_->role(),         core_->term(),          core_->leader(),
                       core_->commit_index(), core_->applied_index(), core_->snapshot().index,
                       core_->last_index(),   snapshots_restored_,    core_->conf()};
}

void RaftNode::ReadIndex(DoneFn done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_ && !failed_) {
      reads_.push_back(std::move(done));
      cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("this node is not running"));
}

void RaftNode::WhenApplied(uint64_t index, std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (status_.applied < index) {
      applied_waiters_.emplace(index, std::move(fn));
      return;
    }
  }
  fn();
}

void RaftNode::RunAppliedWaiters() {
  std::vector<std::function<void()>> due;
  {
    std::lock_guard lock(mu_);
    while (!applied_waiters_.empty() && applied_waiters_.begin()->first <= status_.applied) {
      due.push_back(std::move(applied_waiters_.begin()->second));
      applied_waiters_.erase(applied_waiters_.begin());
    }
  }
  for (auto& fn : due) fn();
}

RaftNode::~RaftNode() { Stop(); }

void RaftNode::Start() {
  thread_ = std::thread([this] {
    common::SetThreadName("raft-" + std::to_string(options_.core.id % 1000));
    Run();
  });
}

void RaftNode::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void RaftNode::Propose(std::string data, DoneFn done) {
  Propose(std::move(data), [done = std::move(done)](absl::Status s, uint64_t) { done(s); });
}

void RaftNode::Propose(std::string data, IndexedDoneFn done) {
  absl::Status refused;
  {
    std::lock_guard lock(mu_);
    if (data.empty()) {
      refused = absl::InvalidArgumentError("empty command");  // empty entries are no-ops
    } else if (stopping_ || failed_) {
      refused = absl::UnavailableError("this node is not running");
    } else if (status_.role != Role::kLeader) {
      refused = NotLeaderError(status_.leader);
    } else {
      proposals_.push_back({std::move(data), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(refused, 0);
}

void RaftNode::Receive(Message message) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    inbox_.push_back(std::move(message));
  }
  cv_.notify_one();
}

void RaftNode::TransferLeader(NodeId to) {
  {
    std::lock_guard lock(mu_);
    transfers_.push_back(to);
  }
  cv_.notify_one();
}

RaftStatus RaftNode::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void RaftNode::MaybeCompact() {
  if (options_.compact_every == 0 || !options_.take_snapshot) return;
  const uint64_t applied = core_->applied_index();
  if (applied < core_->snapshot().index + options_.compact_every) return;
  auto data = options_.take_snapshot();
  if (!data.ok()) {
    // The log stays as it is; the next apply tries again.
    spdlog::warn("Raft node {}: no snapshot at {}: {}", options_.core.id, applied,
                 common::ToStd(data.status().message()));
    return;
  }
  Snapshot snapshot{applied, core_->term_at(applied),
                    std::make_shared<const std::string>(*std::move(data)), core_->conf_at(applied)};
  if (auto s = storage_->Compact(snapshot); !s.ok()) {
    FailAll(absl::UnavailableError("this node's Raft log cannot be written"));
    return;
  }
  core_->Compact(applied, snapshot.data).IgnoreError();
}

void RaftNode::FailAll(const absl::Status& status) {
  for (auto& [index, pending] : pending_) pending.done(status, index);
  pending_.clear();
  std::vector<Proposal> proposals;
  {
    std::lock_guard lock(mu_);
    failed_ = true;
    proposals.swap(proposals_);
  }
  for (auto& p : proposals) p.done(status, 0);
}

void RaftNode::Run() {
  using Clock = std::chrono::steady_clock;
  const auto tick = std::chrono::milliseconds(options_.tick_ms);
  auto next_tick = Clock::now() + tick;
  for (;;) {
    std::deque<Message> inbox;
    std::vector<Proposal> proposals;
    std::vector<NodeId> transfers;
    std::vector<DoneFn> reads;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_tick, [&] {
        return stopping_ || !inbox_.empty() || !proposals_.empty() || !transfers_.empty() ||
               !reads_.empty();
      });
      if (stopping_) return;
      inbox.swap(inbox_);
      proposals.swap(proposals_);
      transfers.swap(transfers_);
      reads.swap(reads_);
    }
    if (Clock::now() >= next_tick) {
      core_->Tick();
      next_tick += tick;
      if (next_tick < Clock::now()) next_tick = Clock::now() + tick;  // fell behind: no burst
    }
    for (const Message& m : inbox) {
      if (!core_->Step(m).ok()) rejected_.fetch_add(1, std::memory_order_relaxed);
    }
    for (auto& p : proposals) {
      absl::StatusOr<uint64_t> index;
      if (IsConfChange(p.data)) {
        auto change = DecodeConfChange(p.data);
        index = change.ok() ? core_->ProposeConfChange(*change) : change.status();
        if (!index.ok() && core_->role() == Role::kLeader) {
          p.done(index.status(), 0);  // refused by the membership rules, not for leadership
          continue;
        }
      } else {
        index = core_->Propose(std::move(p.data));
      }
      if (!index.ok()) {
        // The core refuses when this node lost leadership meanwhile or is handing it over:
        // nothing was appended, the proposer may go to the (next) leader.
        p.done(NotLeaderError(core_->role() == Role::kLeader ? 0 : core_->leader()), 0);
      } else {
        pending_[*index] = Pending{core_->term(), std::move(p.done)};
      }
    }
    for (NodeId to : transfers) core_->TransferLeader(to).IgnoreError();
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
            .count();
    for (DoneFn& done : reads) {
      std::string context = std::to_string(++read_seq_);
      if (absl::Status s = core_->ReadIndex(context); !s.ok()) {
        done(s);
      } else {
        pending_reads_.emplace(std::move(context), PendingRead{std::move(done), now_ms});
      }
    }
    // A read whose request or answer was lost is answered, not forgotten.
    for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
      if (now_ms - it->second.started_ms < kReadTimeoutMs) {
        ++it;
        continue;
      }
      it->second.done(absl::UnavailableError("the leader did not confirm the read in time"));
      it = pending_reads_.erase(it);
    }
    HandleReady();
    if (failed_) return;
  }
}

void RaftNode::HandleReady() {
  while (core_->HasReady()) {
    Ready ready = core_->GetReady();
    // The leader's appends go out first: its own fsync then overlaps its followers'.
    for (const Message& m : ready.early_messages) transport_.Send(m);
    if (auto s = storage_->Save(ready.snapshot, ready.hard_state, ready.entries, ready.must_sync);
        !s.ok()) {
      // Nothing of this Ready may leave the node: its promises are not durable.
      spdlog::error("Raft node {}: {}; stopping this node", options_.core.id,
                    common::ToStd(s.message()));
      FailAll(absl::UnavailableError("this node's Raft log cannot be written"));
      return;
    }
    if (ready.snapshot) {
      absl::Status restored = options_.restore
                                  ? options_.restore(*ready.snapshot->data)
                                  : absl::InternalError("no state machine restores snapshots");
      if (!restored.ok()) {
        spdlog::error("Raft node {}: restoring a snapshot failed: {}; stopping this node",
                      options_.core.id, common::ToStd(restored.message()));
        FailAll(absl::UnavailableError("this node could not restore a snapshot"));
        return;
      }
      ++snapshots_restored_;
      // Writes this node proposed up to there: their fate is in the snapshot, not knowable.
      while (!pending_.empty() && pending_.begin()->first <= ready.snapshot->index) {
        pending_.begin()->second.done(
            absl::UnavailableError(
                "this node caught up from a snapshot; whether the write was applied is unknown"),
            0);
        pending_.erase(pending_.begin());
      }
    }
    for (const Message& m : ready.messages) transport_.Send(m);
    for (const ReadState& read : ready.read_states) {
      auto it = pending_reads_.find(read.context);
      if (it == pending_reads_.end()) continue;  // timed out already
      DoneFn done = std::move(it->second.done);
      pending_reads_.erase(it);
      if (read.index == 0) {
        done(absl::UnavailableError("leadership changed before the read was confirmed; retry"));
      } else {
        WhenApplied(read.index, [done] { done(absl::OkStatus()); });
      }
    }
    for (const Entry& e : ready.committed) {
      // No-ops and membership changes are the core's; the state machines see the rest.
      absl::Status result =
          e.data.empty() || IsConfChange(e.data) ? absl::OkStatus() : apply_(e.index, e.data);
      // Proposals at or below this index are settled: ours if the term matches, lost if not.
      while (!pending_.empty() && pending_.begin()->first <= e.index) {
        auto node = pending_.extract(pending_.begin());
        Pending& pending = node.mapped();
        if (node.key() == e.index && pending.term == e.term) {
          pending.done(result, e.index);
        } else {
          pending.done(
              // Not kAborted: the APIs answer that with 409, which clients read as a lost
              // compare-and-set. This write simply did not happen and may be retried.
              absl::UnavailableError("another leader took over before this write committed; it "
                                     "was not applied, retry it"),
              0);
        }
      }
    }
    core_->Advance(ready);
    MaybeCompact();
    if (failed_) return;
  }
  PublishStatus();
  RunAppliedWaiters();
}

}  // namespace dnsd::raft
