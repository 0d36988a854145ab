#include "raft/raft_node.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "common/crash_point.h"
#include "common/storage_failure.h"
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
  uint64_t restored_bytes = 0;
  if (state->snapshot) {
    if (!options.restore)
      return absl::InternalError("a snapshot is stored but nothing restores it");
    restored_bytes = state->snapshot->data->size();
    if (auto s = options.restore(*state->snapshot->data); !s.ok()) return s;
    // Read back from disk when a follower needs it (SendMessage): a million instances make
    // hundreds of MB of snapshot that a single node never sends.
    state->snapshot->data.reset();
  }
  if (!options.fatal) {
    options.fatal = [](const absl::Status& s) {
      spdlog::critical("state machine failed: {}", common::ToStd(s.message()));
      std::abort();
    };
  }
  const uint64_t restored = state->snapshot ? state->snapshot->index : 0;
  auto node = std::unique_ptr<RaftNode>(new RaftNode(
      std::move(options), transport, std::move(apply), std::move(*storage), std::move(*state)));
  node->state_applied_ = restored;
  node->last_snapshot_bytes_ = restored_bytes;
  node->replay_until_ = node->storage_->last_index();
  return node;
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
  CancelCompaction();  // the driver is gone: its compaction is this thread's to end
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
    } else if (log_unwritable_) {
      refused = absl::UnavailableError(
          "writes are paused: this node's Raft log cannot be written (disk full or failing)");
    } else if (stalled_) {
      refused = absl::UnavailableError(
          "writes are paused: the state machine is waiting for the data disk to accept writes");
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
    // A node that cannot write its log or apply takes no part (Raft retransmits).
    if (stopping_ || log_unwritable_ || stalled_) return;
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
  RaftStatus status = status_;
  status.stalled = stalled_;
  status.log_unwritable = log_unwritable_;
  status.storage_stalls = storage_stalls_;
  status.log_write_failures = log_write_failures_;
  status.low_space_refusals = low_space_refusals_;
  status.compacting = compacting_;
  status.snapshots_taken = snapshots_taken_;
  status.snapshot_failures = snapshot_failures_;
  return status;
}

bool RaftNode::alone() const {
  const ConfState& conf = core_->conf();
  return conf.learners.empty() && conf.voters.size() == 1 && conf.voters[0] == options_.core.id;
}

absl::Status RaftNode::CheckFreeSpace() const {
  if (options_.min_free_bytes == 0) return absl::OkStatus();
  struct statvfs fs {};
  if (statvfs(options_.dir.c_str(), &fs) != 0) return absl::OkStatus();
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= options_.min_free_bytes) return absl::OkStatus();
  return absl::UnavailableError(common::StrCat(
      "the data disk is almost full (", free_bytes / 1024,
      " KiB free; writes need storage.min_free_bytes = ", options_.min_free_bytes / 1024, " KiB)"));
}

void RaftNode::OnLogWriteFailure(const absl::Status& cause) {
  spdlog::error("Raft node {}: {}; writes pause until the log can be written again",
                options_.core.id, common::ToStd(cause.message()));
  // Entries the log holds stay pending: they commit (or are replaced) once it is back.
  const uint64_t durable = storage_->last_index();
  const absl::Status lost =
      alone() ? absl::UnavailableError(
                    common::StrCat("the write was not stored: ", common::ToStd(cause.message())))
              : absl::UnavailableError(
                    "this node could not write its Raft log; the write's outcome is unknown "
                    "(the other members may still commit it)");
  for (auto it = pending_.upper_bound(durable); it != pending_.end();) {
    it->second.done(lost, 0);
    it = pending_.erase(it);
  }
  for (auto& [context, read] : pending_reads_) {
    read.done(absl::UnavailableError("this node cannot write its Raft log"));
  }
  pending_reads_.clear();
  {
    std::lock_guard lock(mu_);
    log_unwritable_ = true;
    ++log_write_failures_;
  }
  recover_backoff_ms_ = 20;
  next_recover_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
}

bool RaftNode::TryRecoverLog() {
  CancelCompaction();
  absl::Status s = storage_->Reopen();
  absl::StatusOr<RaftStorageState> state = s.ok() ? storage_->Load() : s;
  if (!state.ok()) {
    spdlog::debug("Raft node {}: log still unwritable: {}", options_.core.id,
                  common::ToStd(state.status().message()));
    recover_backoff_ms_ = std::min<int64_t>(recover_backoff_ms_ * 2, 2000);
    next_recover_ =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(recover_backoff_ms_);
    return false;
  }
  if (state->snapshot && state->snapshot->index > state_applied_) {
    // A leader's snapshot reached the disk although its write was reported failed.
    absl::Status restored = options_.restore
                                ? options_.restore(*state->snapshot->data)
                                : absl::InternalError("no state machine restores snapshots");
    if (!restored.ok()) {
      spdlog::error("Raft node {}: restoring a snapshot failed: {}; stopping this node",
                    options_.core.id, common::ToStd(restored.message()));
      FailAll(absl::UnavailableError("this node could not restore a snapshot"));
      return false;
    }
    state_applied_ = state->snapshot->index;
  }
  const uint64_t last =
      (state->snapshot ? state->snapshot->index : 0) + static_cast<uint64_t>(state->entries.size());
  if (state_applied_ > last) {
    // Applied entries were durable before they were applied: the disk lost them.
    spdlog::error("Raft node {}: the reopened log ends at {} but {} entries were applied",
                  options_.core.id, last, state_applied_);
    FailAll(absl::UnavailableError("this node's Raft log lost entries"));
    return false;
  }
  state->applied = state_applied_;
  // As after a restart: the core comes back from what is stored, a follower until it hears
  // from a leader or wins an election.
  core_ = std::make_unique<RaftCore>(options_.core, *std::move(state));
  {
    std::lock_guard lock(mu_);
    log_unwritable_ = false;
  }
  spdlog::info("Raft node {}: log writable again; rejoining at term {}", options_.core.id,
               core_->term());
  if (alone()) core_->Campaign();
  return true;
}

bool RaftNode::ApplyWithRetry(const Entry& entry, absl::Status& result) {
  auto backoff = std::chrono::milliseconds(20);
  for (;;) {
    result = apply_(entry.index, entry.data);
    if (!common::IsStorageFailure(result)) {
      std::lock_guard lock(mu_);
      if (stalled_) {
        spdlog::info("Raft node {}: entry {} applied; going on", options_.core.id, entry.index);
        stalled_ = false;
      }
      return true;
    }
    std::unique_lock lock(mu_);
    if (!stalled_) {
      spdlog::error(
          "Raft node {}: cannot apply entry {}: {}; retrying until the disk accepts "
          "writes",
          options_.core.id, entry.index, common::ToStd(result.message()));
      stalled_ = true;
      ++storage_stalls_;
    }
    if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return false;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
}

void RaftNode::MaybeCompact() {
  if (compaction_) {
    if (compaction_->finished.load(std::memory_order_acquire)) FinishCompaction();
    return;
  }
  if (options_.compact_every == 0 || !options_.take_snapshot) return;
  if (std::chrono::steady_clock::now() < next_compaction_try_) return;
  const uint64_t applied = core_->applied_index();
  const uint64_t since = applied - std::min(applied, core_->snapshot().index);
  if (!CompactionDue(options_.compact_every, options_.compact_log_share,
                     options_.compact_share_above_bytes, since, bytes_since_snapshot_,
                     last_snapshot_bytes_)) {
    return;
  }
  auto encoder = options_.take_snapshot();
  if (!encoder.ok()) {
    spdlog::warn("Raft node {}: no snapshot at {}: {}", options_.core.id, applied,
                 common::ToStd(encoder.status().message()));
    next_compaction_try_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    std::lock_guard lock(mu_);
    ++snapshot_failures_;
    return;
  }
  {
    std::lock_guard lock(mu_);
    compacting_ = true;
  }
  // Encoding and writing a large state takes a second or more (a million instances): on this
  // thread it held up every append, heartbeat and vote meanwhile.
  compaction_ = std::make_unique<Compaction>();
  compaction_->snapshot =
      Snapshot{applied, core_->term_at(applied), nullptr, core_->conf_at(applied)};
  compaction_->bytes_applied = bytes_since_snapshot_;
  compaction_->worker = std::thread([this, job = compaction_.get(), encode = *std::move(encoder)] {
    common::SetThreadName("raft-snap-" + std::to_string(options_.core.id % 1000));
    auto data = encode();
    if (data.ok()) {
      job->snapshot.data = std::make_shared<const std::string>(*std::move(data));
      job->record = storage_->WriteSnapshotFile(job->snapshot);
    } else {
      job->record = data.status();
    }
    job->finished.store(true, std::memory_order_release);
  });
}

void RaftNode::FinishCompaction() {
  std::unique_ptr<Compaction> job = std::move(compaction_);
  job->worker.join();
  {
    std::lock_guard lock(mu_);
    compacting_ = false;
    if (!job->record.ok()) ++snapshot_failures_;
  }
  const uint64_t index = job->snapshot.index;
  if (!job->record.ok()) {
    // Nothing changed: the log stays whole until a later snapshot can be written.
    spdlog::warn("Raft node {}: no snapshot at {}: {}", options_.core.id, index,
                 common::ToStd(job->record.status().message()));
    next_compaction_try_ = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    return;
  }
  if (index <= core_->snapshot().index) return;  // a newer snapshot came meanwhile
  if (auto s = storage_->CommitSnapshot(index, *job->record); !s.ok()) {
    OnLogWriteFailure(s);
    return;
  }
  core_->Compact(index, nullptr).IgnoreError();  // the data is on disk (LoadSnapshot)
  {
    std::lock_guard lock(mu_);
    ++snapshots_taken_;
  }
  last_snapshot_bytes_ = job->snapshot.data->size();
  bytes_since_snapshot_ -= std::min(bytes_since_snapshot_, job->bytes_applied);
}

void RaftNode::CancelCompaction() {
  if (!compaction_) return;
  compaction_->worker.join();
  compaction_.reset();
  std::lock_guard lock(mu_);
  compacting_ = false;
}

bool CompactionDue(uint64_t compact_every, uint64_t log_share, uint64_t share_above_bytes,
                   uint64_t entries_since, uint64_t bytes_since, uint64_t last_snapshot_bytes) {
  if (compact_every == 0 || entries_since < compact_every) return false;
  if (log_share == 0 || last_snapshot_bytes <= share_above_bytes) return true;
  return bytes_since >= last_snapshot_bytes / log_share;
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
  if (options_.campaign_at_start) {
    core_->Campaign();
    HandleReady();
  }
  for (;;) {
    std::deque<Message> inbox;
    std::vector<Proposal> proposals;
    std::vector<NodeId> transfers;
    std::vector<DoneFn> reads;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, log_unwritable_ ? std::min(next_tick, next_recover_) : next_tick, [&] {
        return stopping_ || !inbox_.empty() || !proposals_.empty() || !transfers_.empty() ||
               !reads_.empty();
      });
      if (stopping_) return;
      inbox.swap(inbox_);
      proposals.swap(proposals_);
      transfers.swap(transfers_);
      reads.swap(reads_);
    }
    if (log_unwritable_) {
      const absl::Status paused = absl::UnavailableError(
          "writes are paused: this node's Raft log cannot be written (disk full or failing)");
      for (auto& p : proposals) p.done(paused, 0);
      for (DoneFn& done : reads) done(paused);
      if (Clock::now() >= next_tick) next_tick = Clock::now() + tick;
      if (Clock::now() < next_recover_ || !TryRecoverLog()) {
        if (failed_) return;
        continue;
      }
      HandleReady();
      if (failed_) return;
      continue;
    }
    if (!proposals.empty() && core_->role() == Role::kLeader) {
      if (absl::Status space = CheckFreeSpace(); !space.ok()) {
        {
          std::lock_guard lock(mu_);
          low_space_refusals_ += proposals.size();
        }
        for (auto& p : proposals) p.done(space, 0);
        proposals.clear();
      }
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
    // Once per turn, after the Readys: starts a compaction that is due, or finishes one.
    if (!log_unwritable_) MaybeCompact();
  }
}

void RaftNode::SendMessage(const Message& m) {
  if (m.type != MessageType::kSnapshot || m.snapshot) {
    transport_.Send(m);
    return;
  }
  auto stored = storage_->LoadSnapshot();
  if (!stored.ok() || !*stored || (*stored)->index != m.index) {
    // Not sent: the follower stays paused until its next heartbeat answer, and is sent the
    // snapshot again then.
    spdlog::warn("Raft node {}: cannot read snapshot {} for node {}: {}", options_.core.id, m.index,
                 m.to,
                 stored.ok() ? std::string("another snapshot is stored")
                             : std::string(common::ToStd(stored.status().message())));
    return;
  }
  Message with_data = m;
  with_data.snapshot = std::move((*stored)->data);
  transport_.Send(with_data);
}

void RaftNode::HandleReady() {
  while (core_->HasReady()) {
    Ready ready = core_->GetReady();
    // The leader's appends go out first: its own fsync then overlaps its followers'.
    for (const Message& m : ready.early_messages) SendMessage(m);
    // Crash points count writes of the state machines (not a leader's no-op or membership).
    const bool has_writes =
        std::any_of(ready.entries.begin(), ready.entries.end(),
                    [](const Entry& e) { return !e.data.empty() && !IsConfChange(e.data); });
    if (has_writes) common::CrashPoint("log.before_append");
    if (ready.snapshot) CancelCompaction();  // the leader's is newer than any this node takes
    if (auto s = storage_->Save(ready.snapshot, ready.hard_state, ready.entries, ready.must_sync);
        !s.ok()) {
      // Nothing of this Ready may leave the node: its promises are not durable.
      OnLogWriteFailure(s);
      return;
    }
    if (has_writes) common::CrashPoint("log.after_append");
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
      state_applied_ = ready.snapshot->index;
      last_snapshot_bytes_ = ready.snapshot->data->size();
      bytes_since_snapshot_ = 0;
      core_->ForgetSnapshotData();  // stored above
      // Writes this node proposed up to there: their fate is in the snapshot, not knowable.
      while (!pending_.empty() && pending_.begin()->first <= ready.snapshot->index) {
        pending_.begin()->second.done(
            absl::UnavailableError(
                "this node caught up from a snapshot; whether the write was applied is unknown"),
            0);
        pending_.erase(pending_.begin());
      }
    }
    for (const Message& m : ready.messages) SendMessage(m);
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
      absl::Status result;
      if (!e.data.empty() && !IsConfChange(e.data)) {
        if (!ApplyWithRetry(e, result)) return;  // stopping: the next start applies it
        if (common::IsStateDamaged(result)) {
          options_.fatal(result);
          FailAll(absl::UnavailableError("a state machine of this node failed"));
          return;
        }
      }
      state_applied_ = e.index;
      bytes_since_snapshot_ += e.data.size();
      if (!e.data.empty() && !IsConfChange(e.data)) {
        common::CrashPoint(e.index <= replay_until_ ? "replay.after_apply" : "log.after_apply");
      }
      // Proposals at or below this index are settled: ours if the term matches, lost if not.
      while (!pending_.empty() && pending_.begin()->first <= e.index) {
        auto node = pending_.extract(pending_.begin());
        Pending& pending = node.mapped();
        if (node.key() == e.index && pending.term == e.term) {
          pending.done(result, e.index);
          common::CrashPoint("log.after_answer");
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
    if (failed_ || log_unwritable_) break;
  }
  PublishStatus();
  RunAppliedWaiters();
}

}  // namespace dnsd::raft
