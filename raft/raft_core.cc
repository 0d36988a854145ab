#include "raft/raft_core.h"

#include <algorithm>

#include "common/strings.h"

namespace dnsd::raft {

const char* MessageTypeName(MessageType type) {
  switch (type) {
    case MessageType::kPreVote:
      return "PreVote";
    case MessageType::kPreVoteResponse:
      return "PreVoteResponse";
    case MessageType::kVote:
      return "Vote";
    case MessageType::kVoteResponse:
      return "VoteResponse";
    case MessageType::kAppend:
      return "Append";
    case MessageType::kAppendResponse:
      return "AppendResponse";
    case MessageType::kHeartbeat:
      return "Heartbeat";
    case MessageType::kHeartbeatResponse:
      return "HeartbeatResponse";
    case MessageType::kTimeoutNow:
      return "TimeoutNow";
    case MessageType::kSnapshot:
      return "Snapshot";
    case MessageType::kReadIndex:
      return "ReadIndex";
    case MessageType::kReadIndexResponse:
      return "ReadIndexResponse";
  }
  return "?";
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower:
      return "FOLLOWER";
    case Role::kPreCandidate:
      return "PRE_CANDIDATE";
    case Role::kCandidate:
      return "CANDIDATE";
    case Role::kLeader:
      return "LEADER";
  }
  return "?";
}

RaftCore::RaftCore(RaftConfig config, RaftStorageState stored) : config_(std::move(config)) {
  if (!config_.random) config_.random = [](uint64_t) { return uint64_t{0}; };
  term_ = stored.hard_state.term;
  vote_ = stored.hard_state.vote;
  if (stored.snapshot) {
    // The driver restores the state machines from it before anything is applied.
    offset_ = stored.snapshot->index;
    offset_term_ = stored.snapshot->term;
    snapshot_ = *stored.snapshot;
    applied_ = offset_;
    base_conf_ = stored.snapshot->conf;
  } else {
    base_conf_.voters = config_.voters;
    std::sort(base_conf_.voters.begin(), base_conf_.voters.end());
  }
  log_ = std::move(stored.entries);
  for (const Entry& e : log_) NoteConfEntries(e);
  RebuildConf();
  // What the state machines hold is committed, whatever the stored commit index says.
  applied_ = std::clamp<uint64_t>(stored.applied, applied_, last_index());
  commit_ =
      std::clamp<uint64_t>(std::max(stored.hard_state.commit, applied_), offset_, last_index());
  stable_ = persisting_ = last_index();
  persisted_hs_ = stored.hard_state;
  ResetTimers();
}

bool RaftCore::IsVoter(NodeId id) const {
  return std::find(conf_.voters.begin(), conf_.voters.end(), id) != conf_.voters.end();
}

bool RaftCore::IsMember(NodeId id) const {
  return IsVoter(id) ||
         std::find(conf_.learners.begin(), conf_.learners.end(), id) != conf_.learners.end();
}

uint64_t RaftCore::match_of(NodeId id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? 0 : it->second.match;
}

void RaftCore::NoteConfEntries(const Entry& e) {
  if (!IsConfChange(e.data)) return;
  // A change that does not decode came from a broken leader; it changes nothing, everywhere.
  if (auto change = DecodeConfChange(e.data); change.ok()) conf_log_[e.index] = *change;
}

ConfState RaftCore::conf_at(uint64_t index) const {
  ConfState conf = base_conf_;
  for (auto it = conf_log_.begin(); it != conf_log_.end() && it->first <= index; ++it) {
    ApplyConfChange(conf, it->second);
  }
  return conf;
}

void RaftCore::RebuildConf() {
  conf_ = base_conf_;
  for (const auto& [index, change] : conf_log_) ApplyConfChange(conf_, change);
  if (role_ != Role::kLeader) return;
  for (auto it = progress_.begin(); it != progress_.end();) {
    it = IsMember(it->first) ? std::next(it) : progress_.erase(it);
  }
  auto track = [&](NodeId peer) {
    if (progress_.contains(peer)) return;
    Progress& pr = progress_[peer];
    pr.next = last_index() + 1;
    pr.match = peer == config_.id ? stable_ : 0;
    pr.recent_active = true;
  };
  for (NodeId peer : conf_.voters) track(peer);
  for (NodeId peer : conf_.learners) track(peer);
}

uint64_t RaftCore::TermAt(uint64_t index) const {
  if (index == offset_) return offset_term_;
  if (index < offset_ || index > last_index()) return 0;
  return At(index).term;
}

bool RaftCore::UpToDate(uint64_t last_term, uint64_t last_index) const {
  return last_term > LastTerm() || (last_term == LastTerm() && last_index >= this->last_index());
}

void RaftCore::ResetTimers() {
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  randomized_timeout_ =
      config_.election_ticks +
      static_cast<int>(config_.random(static_cast<uint64_t>(config_.election_ticks)));
}

void RaftCore::BecomeFollower(uint64_t term, NodeId lead) {
  FailPendingReads();  // a leader stepping down can confirm no read any more
  if (term != term_) {
    term_ = term;
    vote_ = 0;
  }
  role_ = Role::kFollower;
  lead_ = lead;
  transferee_ = 0;
  votes_.clear();
  ResetTimers();
}

void RaftCore::BecomePreCandidate() {
  // Pre-vote changes neither the term nor the vote: a node that cannot win disturbs no one.
  role_ = Role::kPreCandidate;
  lead_ = 0;
  votes_.clear();
  ResetTimers();
}

void RaftCore::BecomeCandidate() {
  ++term_;
  vote_ = config_.id;
  role_ = Role::kCandidate;
  lead_ = 0;
  votes_.clear();
  ResetTimers();
}

void RaftCore::BecomeLeader() {
  role_ = Role::kLeader;
  lead_ = config_.id;
  transferee_ = 0;
  progress_.clear();
  RebuildConf();  // progress for every member
  ResetTimers();
  // An entry of the new term: committing it commits everything before it (paper 5.4.2). The
  // first leader of a new cluster writes the initial configuration there; others a no-op.
  std::string first;
  if (last_index() == 0) {
    ConfChange initial;
    initial.type = ConfChangeType::kSet;
    initial.voters = conf_.voters;
    first = EncodeConfChange(initial);
  }
  AppendLocal({Entry{term_, last_index() + 1, std::move(first)}});
  // No membership change until an entry of this term commits (thesis 4.1, the fix for
  // single-server changes across leader changes).
  pending_conf_index_ = last_index();
  BroadcastAppend();
}

void RaftCore::Campaign() {
  if (role_ == Role::kLeader || !IsVoter(config_.id)) return;
  StartElection(config_.pre_vote, false);
}

void RaftCore::StartElection(bool pre, bool transfer) {
  uint64_t term;
  if (pre) {
    BecomePreCandidate();
    term = term_ + 1;
  } else {
    BecomeCandidate();
    term = term_;
  }
  const int won = Poll(config_.id, true);
  if (won == 1) {  // a cluster of one
    if (pre) {
      StartElection(false, transfer);
    } else {
      BecomeLeader();
    }
    return;
  }
  for (NodeId peer : conf_.voters) {
    if (peer == config_.id) continue;
    Message m;
    m.type = pre ? MessageType::kPreVote : MessageType::kVote;
    m.to = peer;
    m.term = term;
    m.log_term = LastTerm();
    m.index = last_index();
    m.transfer = transfer;
    Send(std::move(m));
  }
}

int RaftCore::Poll(NodeId from, bool granted) {
  votes_.emplace(from, granted);
  size_t yes = 0, no = 0;
  for (const auto& [id, vote] : votes_) {
    if (IsVoter(id)) (vote ? yes : no)++;  // a learner's answer counts for nothing
  }
  if (yes >= Quorum()) return 1;
  if (no > conf_.voters.size() - Quorum()) return -1;
  return 0;
}

void RaftCore::Send(Message m) {
  m.from = config_.id;
  // Responses to pre-votes carry the term they answer; everything else our term.
  if (m.type != MessageType::kPreVote && m.type != MessageType::kPreVoteResponse &&
      m.type != MessageType::kVote) {
    m.term = term_;
  }
  outbox_.push_back(std::move(m));
}

void RaftCore::Tick() {
  if (role_ == Role::kLeader) {
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    if (election_elapsed_ >= config_.election_ticks) {
      election_elapsed_ = 0;
      if (config_.check_quorum && !QuorumActive()) {
        BecomeFollower(term_, 0);  // cut off from a quorum: stop acting as leader
        return;
      }
      transferee_ = 0;  // a transfer that did not finish within an election timeout
    }
    if (heartbeat_elapsed_ >= config_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      BroadcastHeartbeat();
    }
    return;
  }
  if (!IsVoter(config_.id)) {
    election_elapsed_ = 0;  // a learner, a joining or a removed node never campaigns
    return;
  }
  if (++election_elapsed_ >= randomized_timeout_) Campaign();
}

bool RaftCore::QuorumActive() {
  size_t active = 0;
  for (auto& [peer, pr] : progress_) {
    if (IsVoter(peer) && (peer == config_.id || pr.recent_active)) ++active;
    if (peer != config_.id) pr.recent_active = false;
  }
  return active >= Quorum();
}

absl::Status RaftCore::Step(const Message& m) {
  if (m.to != config_.id) return absl::InvalidArgumentError("message for another node");
  if (m.from == config_.id || m.from == 0) {
    return absl::InvalidArgumentError(common::StrCat("message from node ", m.from));
  }
  // Only voters may ask for votes. Anything else is heard from any node: this node's own
  // configuration may be stale (a change it has not heard of, or an uncommitted removal of the
  // current leader, which only that leader's appends can truncate). A node outside the
  // configuration cannot win an election (its log lacks the change, and single-node changes
  // keep old and new majorities overlapping); the transport keeps strangers out.
  if ((m.type == MessageType::kPreVote || m.type == MessageType::kVote) && IsMember(config_.id) &&
      !IsVoter(m.from)) {
    return absl::InvalidArgumentError(
        common::StrCat("vote request from node ", m.from, ", not a voter"));
  }
  if (m.type == MessageType::kAppend) {
    uint64_t expect = m.index + 1, prev_term = m.log_term;
    if (m.index > 0 && m.log_term == 0) return absl::InvalidArgumentError("append without a term");
    for (const Entry& e : m.entries) {
      if (e.index != expect++ || e.term < prev_term || e.term > m.term || e.term == 0) {
        return absl::InvalidArgumentError("append with entries out of order");
      }
      prev_term = e.term;
    }
  }

  if (m.type == MessageType::kSnapshot &&
      (m.index == 0 || m.log_term == 0 || !m.snapshot || m.conf.voters.empty())) {
    return absl::InvalidArgumentError("snapshot without an index, a term, data or voters");
  }
  if (m.term > term_) {
    const bool vote_request = m.type == MessageType::kVote || m.type == MessageType::kPreVote;
    if (vote_request && !m.transfer && config_.check_quorum && lead_ != 0 &&
        election_elapsed_ < config_.election_ticks) {
      // We heard from a leader less than an election timeout ago: a node asking for votes is
      // partitioned or late, not a sign the leader is gone (thesis 4.2.3).
      return absl::OkStatus();
    }
    if (m.type == MessageType::kPreVote || (m.type == MessageType::kPreVoteResponse && !m.reject)) {
      // Pre-votes are about a future term; they change nothing here.
    } else if (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
               m.type == MessageType::kSnapshot) {
      BecomeFollower(m.term, m.from);
    } else {
      BecomeFollower(m.term, 0);
    }
  } else if (m.term < term_) {
    if ((config_.check_quorum || config_.pre_vote) &&
        (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat ||
         m.type == MessageType::kSnapshot)) {
      // A leader of an older term: tell it our term so that it steps down (with pre-vote it
      // could otherwise never learn of it, its followers no longer campaigning).
      Message r;
      r.type = MessageType::kAppendResponse;
      r.to = m.from;
      Send(std::move(r));
    } else if (m.type == MessageType::kPreVote) {
      Message r;
      r.type = MessageType::kPreVoteResponse;
      r.to = m.from;
      r.term = term_;
      r.reject = true;
      Send(std::move(r));
    }
    return absl::OkStatus();
  }

  switch (m.type) {
    case MessageType::kPreVote:
    case MessageType::kVote:
      HandleVoteRequest(m);
      return absl::OkStatus();
    default:
      break;
  }
  switch (role_) {
    case Role::kLeader:
      StepLeader(m);
      break;
    case Role::kPreCandidate:
    case Role::kCandidate:
      StepCandidate(m);
      break;
    case Role::kFollower:
      StepFollower(m);
      break;
  }
  return absl::OkStatus();
}

void RaftCore::HandleVoteRequest(const Message& m) {
  const bool pre = m.type == MessageType::kPreVote;
  const bool can_vote = vote_ == m.from || (vote_ == 0 && lead_ == 0) || (pre && m.term > term_);
  Message r;
  r.type = pre ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  r.to = m.from;
  if (can_vote && UpToDate(m.log_term, m.index)) {
    r.term = pre ? m.term : term_;
    if (!pre) {
      vote_ = m.from;
      election_elapsed_ = 0;
    }
  } else {
    r.term = term_;
    r.reject = true;
  }
  Send(std::move(r));
}

void RaftCore::StepCandidate(const Message& m) {
  const MessageType answer =
      role_ == Role::kPreCandidate ? MessageType::kPreVoteResponse : MessageType::kVoteResponse;
  if (m.type == MessageType::kAppend) {
    BecomeFollower(m.term, m.from);
    HandleAppend(m);
  } else if (m.type == MessageType::kHeartbeat) {
    BecomeFollower(m.term, m.from);
    HandleHeartbeat(m);
  } else if (m.type == MessageType::kSnapshot) {
    BecomeFollower(m.term, m.from);
    HandleSnapshot(m);
  } else if (m.type == answer) {
    const int result = Poll(m.from, !m.reject);
    if (result == 1) {
      if (role_ == Role::kPreCandidate) {
        StartElection(false, false);
      } else {
        BecomeLeader();
      }
    } else if (result == -1) {
      BecomeFollower(term_, 0);
    }
  }
}

void RaftCore::StepFollower(const Message& m) {
  switch (m.type) {
    case MessageType::kAppend:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleAppend(m);
      break;
    case MessageType::kHeartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleHeartbeat(m);
      break;
    case MessageType::kTimeoutNow:
      StartElection(false, true);
      break;
    case MessageType::kSnapshot:
      election_elapsed_ = 0;
      lead_ = m.from;
      HandleSnapshot(m);
      break;
    case MessageType::kReadIndexResponse:
      read_states_.push_back(ReadState{m.context, m.reject ? 0 : m.index});
      break;
    case MessageType::kReadIndex:
      ReadDone(m.from, m.context, 0);  // not the leader: the asker finds the right one
      break;
    default:
      break;
  }
}

void RaftCore::HandleSnapshot(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResponse;
  r.to = m.from;
  if (m.index <= commit_) {
    r.index = commit_;  // we have all of it already
  } else if (m.index <= last_index() && TermAt(m.index) == m.log_term) {
    // Our log holds the snapshot's last entry: those entries are committed; keep the log.
    commit_ = m.index;
    r.index = m.index;
  } else {
    // Replace the log and the state with the snapshot. The driver persists and restores it
    // (Ready::snapshot) before the acknowledgement leaves.
    log_.clear();
    offset_ = m.index;
    offset_term_ = m.log_term;
    snapshot_ = Snapshot{m.index, m.log_term, m.snapshot, m.conf};
    pending_snapshot_ = snapshot_;
    base_conf_ = m.conf;
    conf_log_.clear();
    RebuildConf();
    commit_ = applied_ = stable_ = persisting_ = m.index;
    r.index = m.index;
  }
  Send(std::move(r));
}

absl::Status RaftCore::Compact(uint64_t index, std::shared_ptr<const std::string> data) {
  if (index <= offset_) return absl::OkStatus();
  if (index > applied_) {
    return absl::InvalidArgumentError(
        common::StrCat("cannot compact to ", index, ": only ", applied_, " applied"));
  }
  const uint64_t term = TermAt(index);
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(index - offset_));
  offset_ = index;
  offset_term_ = term;
  // The snapshot carries the configuration at its index.
  while (!conf_log_.empty() && conf_log_.begin()->first <= index) {
    ApplyConfChange(base_conf_, conf_log_.begin()->second);
    conf_log_.erase(conf_log_.begin());
  }
  snapshot_ = Snapshot{index, term, std::move(data), base_conf_};
  return absl::OkStatus();
}

void RaftCore::HandleAppend(const Message& m) {
  Message r;
  r.type = MessageType::kAppendResponse;
  r.to = m.from;
  if (m.index < commit_) {
    r.index = commit_;  // everything up to our commit matches the leader's log already
    Send(std::move(r));
    return;
  }
  if (m.index <= last_index() && TermAt(m.index) == m.log_term) {
    const uint64_t last_new = AppendFrom(m.index, m.entries);
    commit_ = std::max(commit_, std::min(m.commit, last_new));
    r.index = last_new;
    Send(std::move(r));
    return;
  }
  // Reject, with where the logs may agree: the last index at or before the leader's whose
  // term is at most the leader's term there, so the leader skips a whole term per round.
  const uint64_t hint = FindConflictByTerm(std::min(m.index, last_index()), m.log_term);
  r.reject = true;
  r.index = m.index;
  r.reject_hint = hint;
  r.reject_hint_term = TermAt(hint);
  Send(std::move(r));
}

void RaftCore::HandleHeartbeat(const Message& m) {
  // The leader sends at most what it knows we match, so this never passes our log's end.
  commit_ = std::max(commit_, std::min(m.commit, last_index()));
  Message r;
  r.type = MessageType::kHeartbeatResponse;
  r.to = m.from;
  r.context = m.context;  // confirms the leader's reads up to this one
  Send(std::move(r));
}

absl::Status RaftCore::ReadIndex(std::string context) {
  if (role_ == Role::kLeader) {
    if (TermAt(commit_) != term_) {
      return absl::UnavailableError("the leader has not committed an entry of its term yet");
    }
    StartRead(config_.id, std::move(context));
    return absl::OkStatus();
  }
  if (lead_ == 0) return absl::UnavailableError("no leader is known");
  Message m;
  m.type = MessageType::kReadIndex;
  m.to = lead_;
  m.context = std::move(context);
  Send(std::move(m));
  return absl::OkStatus();
}

void RaftCore::StartRead(NodeId requester, std::string context) {
  if (Quorum() == 1 && IsVoter(config_.id)) {
    ReadDone(requester, std::move(context), commit_);
    return;
  }
  pending_reads_.push_back(PendingRead{requester, std::move(context), commit_, {config_.id}});
  BroadcastHeartbeat();
}

void RaftCore::ReadDone(NodeId requester, std::string context, uint64_t index) {
  if (requester == config_.id) {
    read_states_.push_back(ReadState{std::move(context), index});
    return;
  }
  Message r;
  r.type = MessageType::kReadIndexResponse;
  r.to = requester;
  r.context = std::move(context);
  r.index = index;
  r.reject = index == 0;
  Send(std::move(r));
}

void RaftCore::FailPendingReads() {
  std::deque<PendingRead> reads;
  reads.swap(pending_reads_);
  for (PendingRead& read : reads) ReadDone(read.requester, std::move(read.context), 0);
}

uint64_t RaftCore::AppendFrom(uint64_t prev, const std::vector<Entry>& entries) {
  for (const Entry& e : entries) {
    if (e.index <= offset_) continue;  // compacted: committed, so the same as the leader's
    if (e.index <= last_index()) {
      if (TermAt(e.index) == e.term) continue;  // already have it
      // A conflict: ours was never committed (leader completeness); drop it and what follows,
      // membership changes included.
      log_.resize(e.index - offset_ - 1);
      stable_ = std::min(stable_, e.index - 1);
      persisting_ = std::min(persisting_, e.index - 1);
      const bool had_changes = conf_log_.lower_bound(e.index) != conf_log_.end();
      conf_log_.erase(conf_log_.lower_bound(e.index), conf_log_.end());
      if (had_changes) RebuildConf();
    }
    log_.push_back(e);
    if (IsConfChange(e.data)) {
      NoteConfEntries(e);
      RebuildConf();
    }
  }
  return prev + entries.size();
}

uint64_t RaftCore::FindConflictByTerm(uint64_t index, uint64_t term) const {
  while (index > offset_ && TermAt(index) > term) --index;
  return index;
}

void RaftCore::StepLeader(const Message& m) {
  auto it = progress_.find(m.from);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  switch (m.type) {
    case MessageType::kAppendResponse: {
      pr.recent_active = true;
      if (m.reject) {
        if (m.index <= pr.match) return;                      // stale
        if (!pr.replicate && m.index + 1 != pr.next) return;  // stale probe answer
        uint64_t hint = m.reject_hint;
        if (m.reject_hint_term > 0) hint = FindConflictByTerm(m.reject_hint, m.reject_hint_term);
        pr.next = std::max(std::min(m.index, hint + 1), pr.match + 1);
        pr.replicate = false;
        pr.paused = false;
        pr.inflight.clear();
        SendAppend(m.from, true);
        return;
      }
      const bool updated = m.index > pr.match;
      if (updated) pr.match = m.index;
      if (pr.next < m.index + 1) pr.next = m.index + 1;
      pr.inflight.erase(std::remove_if(pr.inflight.begin(), pr.inflight.end(),
                                       [&](uint64_t last) { return last <= m.index; }),
                        pr.inflight.end());
      pr.paused = false;
      if (!pr.replicate) {
        pr.replicate = true;
        pr.next = pr.match + 1;
        pr.inflight.clear();
      }
      if (updated && MaybeCommit()) {
        BroadcastAppend();
      } else {
        while (SendAppend(m.from, false)) {
        }
      }
      if (transferee_ == m.from && pr.match == last_index()) {
        Message t;
        t.type = MessageType::kTimeoutNow;
        t.to = m.from;
        Send(std::move(t));
      }
      return;
    }
    case MessageType::kHeartbeatResponse:
      pr.recent_active = true;
      pr.paused = false;
      // Appends in flight may have been lost: with a full window nothing would ever be sent
      // again. Free one slot per heartbeat; the next append shows the follower's gap, its
      // rejection sends the peer back to probing.
      if (pr.replicate && pr.inflight.size() >= config_.max_inflight) {
        pr.inflight.erase(pr.inflight.begin());
      }
      if (pr.match < last_index()) SendAppend(m.from, true);
      if (!m.context.empty() && IsVoter(m.from)) {
        // The answer to the heartbeat sent for read `context` confirms it and every read
        // that arrived before it.
        auto it = std::find_if(pending_reads_.begin(), pending_reads_.end(),
                               [&](const PendingRead& r) { return r.context == m.context; });
        if (it != pending_reads_.end()) {
          for (auto r = pending_reads_.begin(); r != std::next(it); ++r) r->acks.insert(m.from);
        }
        while (!pending_reads_.empty() && pending_reads_.front().acks.size() >= Quorum()) {
          PendingRead read = std::move(pending_reads_.front());
          pending_reads_.pop_front();
          ReadDone(read.requester, std::move(read.context), read.index);
        }
      }
      return;
    case MessageType::kReadIndex:
      if (TermAt(commit_) != term_) {
        ReadDone(m.from, m.context, 0);  // not yet: the follower asks again
      } else {
        StartRead(m.from, m.context);
      }
      return;
    default:
      return;
  }
}

bool RaftCore::SendAppend(NodeId to, bool allow_empty) {
  Progress& pr = progress_[to];
  if (pr.paused || (pr.replicate && pr.inflight.size() >= config_.max_inflight)) return false;
  const uint64_t prev = pr.next - 1;
  if (prev < offset_) {
    // The entries it needs are compacted away: send the snapshot, then wait for its answer.
    Message m;
    m.type = MessageType::kSnapshot;
    m.to = to;
    m.index = snapshot_.index;
    m.log_term = snapshot_.term;
    m.snapshot = snapshot_.data;
    m.conf = snapshot_.conf;
    pr.replicate = false;
    pr.paused = true;
    pr.inflight.clear();
    Send(std::move(m));
    return false;
  }
  Message m;
  m.type = MessageType::kAppend;
  m.to = to;
  m.index = prev;
  m.log_term = TermAt(prev);
  m.commit = commit_;
  for (uint64_t i = pr.next;
       i <= last_index() && m.entries.size() < config_.max_entries_per_message; ++i) {
    m.entries.push_back(At(i));
  }
  if (m.entries.empty() && !allow_empty) return false;
  if (pr.replicate) {
    if (!m.entries.empty()) {
      pr.next = m.entries.back().index + 1;
      pr.inflight.push_back(m.entries.back().index);
    }
  } else {
    pr.paused = true;  // probe: one append until it is answered
  }
  const bool more = pr.replicate && !m.entries.empty();
  Send(std::move(m));
  return more;
}

void RaftCore::BroadcastAppend() {
  std::vector<NodeId> peers;
  for (const auto& [peer, pr] : progress_) {
    if (peer != config_.id) peers.push_back(peer);
  }
  for (NodeId peer : peers) SendAppend(peer, true);
}

void RaftCore::BroadcastHeartbeat() {
  for (auto& [peer, pr] : progress_) {
    if (peer == config_.id) continue;
    Message m;
    m.type = MessageType::kHeartbeat;
    m.to = peer;
    m.commit = std::min(pr.match, commit_);
    if (!pending_reads_.empty()) m.context = pending_reads_.back().context;
    Send(std::move(m));
  }
}

bool RaftCore::MaybeCommit() {
  std::vector<uint64_t> matches;
  for (const auto& [peer, pr] : progress_) {
    if (IsVoter(peer)) matches.push_back(pr.match);
  }
  if (matches.size() < Quorum()) return false;  // a leader that is not a voter commits nothing
  std::sort(matches.begin(), matches.end(), std::greater<>());
  const uint64_t candidate = matches[Quorum() - 1];
  // Only an entry of this term commits by counting replicas (figure 8 of the paper).
  if (candidate > commit_ && TermAt(candidate) == term_) {
    commit_ = candidate;
    return true;
  }
  return false;
}

void RaftCore::AppendLocal(std::vector<Entry> entries) {
  bool changed = false;
  for (Entry& e : entries) {
    if (IsConfChange(e.data)) {
      NoteConfEntries(e);
      changed = true;
    }
    log_.push_back(std::move(e));
  }
  if (changed) RebuildConf();
}

absl::StatusOr<uint64_t> RaftCore::Propose(std::string data) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("not the leader");
  if (transferee_ != 0) return absl::UnavailableError("leadership is being transferred");
  const uint64_t index = last_index() + 1;
  AppendLocal({Entry{term_, index, std::move(data)}});
  BroadcastAppend();
  return index;
}

absl::StatusOr<uint64_t> RaftCore::ProposeConfChange(const ConfChange& change) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("not the leader");
  if (pending_conf_index_ > commit_) {
    return absl::FailedPreconditionError(
        "the previous membership change (or this leader's first entry) is not committed yet");
  }
  const bool learner = IsMember(change.node) && !IsVoter(change.node);
  switch (change.type) {
    case ConfChangeType::kAddLearner:
      if (change.node == 0 || IsMember(change.node)) {
        return absl::FailedPreconditionError("the node is a member already");
      }
      break;
    case ConfChangeType::kPromote: {
      if (!learner) return absl::FailedPreconditionError("the node is not a learner");
      // A voter that is far behind would hold back every commit until it caught up.
      const uint64_t match = match_of(change.node);
      if (match + config_.max_entries_per_message * 4 < commit_) {
        return absl::FailedPreconditionError(common::StrCat("the learner has not caught up yet (",
                                                            match, " of ", commit_, " entries)"));
      }
      break;
    }
    case ConfChangeType::kSet:
      return absl::InvalidArgumentError("the initial configuration is set by the first leader");
    case ConfChangeType::kRemove:
      if (!IsMember(change.node)) return absl::FailedPreconditionError("not a member");
      if (change.node == config_.id) {
        return absl::FailedPreconditionError(
            "the leader cannot remove itself: transfer leadership first");
      }
      if (IsVoter(change.node) && conf_.voters.size() == 1) {
        return absl::FailedPreconditionError("cannot remove the last voter");
      }
      break;
  }
  auto index = Propose(EncodeConfChange(change));
  if (index.ok()) pending_conf_index_ = *index;
  return index;
}

absl::Status RaftCore::TransferLeader(NodeId to) {
  if (role_ != Role::kLeader) return absl::FailedPreconditionError("not the leader");
  if (to == config_.id) return absl::OkStatus();
  auto it = progress_.find(to);
  if (it == progress_.end() || !IsVoter(to)) return absl::InvalidArgumentError("not a voter");
  transferee_ = to;
  election_elapsed_ = 0;
  if (it->second.match == last_index()) {
    Message t;
    t.type = MessageType::kTimeoutNow;
    t.to = to;
    Send(std::move(t));
  } else {
    SendAppend(to, true);
  }
  return absl::OkStatus();
}

bool RaftCore::HasReady() const {
  return !outbox_.empty() || !read_states_.empty() || persisting_ < last_index() ||
         pending_snapshot_.has_value() || HardState{term_, vote_, commit_} != persisted_hs_ ||
         applied_ < std::min(commit_, stable_);
}

Ready RaftCore::GetReady() {
  Ready ready;
  const HardState hs{term_, vote_, commit_};
  if (hs != persisted_hs_) ready.hard_state = hs;
  if (pending_snapshot_) {
    ready.snapshot = std::move(pending_snapshot_);
    pending_snapshot_.reset();
  }
  for (uint64_t i = persisting_ + 1; i <= last_index(); ++i) ready.entries.push_back(At(i));
  persisting_ = last_index();
  ready.messages.swap(outbox_);
  ready.read_states.swap(read_states_);
  // A leader's appends and heartbeats depend on nothing this Ready persists unless the term
  // or the vote changes in it (then everything waits, the rare case).
  const bool term_or_vote_changed =
      ready.hard_state && (ready.hard_state->term != persisted_hs_.term ||
                           ready.hard_state->vote != persisted_hs_.vote);
  ready.must_sync = term_or_vote_changed || ready.snapshot || !ready.entries.empty();
  if (role_ == Role::kLeader && !term_or_vote_changed) {
    std::vector<Message> later;
    for (Message& m : ready.messages) {
      const bool early =
          m.term == term_ && (m.type == MessageType::kAppend || m.type == MessageType::kHeartbeat);
      (early ? ready.early_messages : later).push_back(std::move(m));
    }
    ready.messages.swap(later);
  }
  const uint64_t apply_to = std::min(commit_, stable_);
  for (uint64_t i = applied_ + 1; i <= apply_to; ++i) ready.committed.push_back(At(i));
  applied_ = std::max(applied_, apply_to);
  return ready;
}

void RaftCore::Advance(const Ready& ready) {
  if (ready.hard_state) persisted_hs_ = *ready.hard_state;
  if (!ready.entries.empty()) {
    const Entry& last = ready.entries.back();
    // Unless a conflicting append replaced them meanwhile, those entries are durable now.
    if (TermAt(last.index) == last.term && last.index > stable_) stable_ = last.index;
  }
  if (role_ == Role::kLeader) {
    Progress& self = progress_[config_.id];
    if (stable_ > self.match) {
      self.match = stable_;
      if (MaybeCommit()) BroadcastAppend();
    }
  }
}

}  // namespace dnsd::raft
