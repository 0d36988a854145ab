#include "node/raft_wire.h"

#include <algorithm>

#include "common/strings.h"

namespace dnsd::node {

namespace {

void FillRaftMessage(const raft::Message& m, dnsd::peer::RaftMessage* out) {
  out->set_type(static_cast<dnsd::peer::RaftMessage::Type>(m.type));
  out->set_from(m.from);
  out->set_to(m.to);
  out->set_term(m.term);
  out->set_log_term(m.log_term);
  out->set_index(m.index);
  out->set_commit(m.commit);
  out->set_reject(m.reject);
  out->set_reject_hint(m.reject_hint);
  out->set_reject_hint_term(m.reject_hint_term);
  out->set_transfer(m.transfer);
  if (!m.context.empty()) out->set_context(m.context);
  if (m.snapshot) out->set_snapshot(*m.snapshot);
  if (m.type == raft::MessageType::kSnapshot) {
    for (raft::NodeId id : m.conf.voters) out->add_conf_voters(id);
    for (raft::NodeId id : m.conf.learners) out->add_conf_learners(id);
    for (const auto& [id, context] : m.conf.contexts) (*out->mutable_conf_contexts())[id] = context;
  }
  for (const raft::Entry& e : m.entries) {
    auto* entry = out->add_entries();
    entry->set_term(e.term);
    entry->set_index(e.index);
    entry->set_data(e.data);
  }
}

}  // namespace

dnsd::peer::RaftBatch ToRaftBatch(const std::vector<raft::Message>& messages) {
  dnsd::peer::RaftBatch batch;
  for (const raft::Message& m : messages) FillRaftMessage(m, batch.add_messages());
  return batch;
}

std::vector<dnsd::peer::RaftMessage> ToWireMessages(const raft::Message& message,
                                                    size_t chunk_bytes) {
  std::vector<dnsd::peer::RaftMessage> out(1);
  const bool chunked = message.type == raft::MessageType::kSnapshot && message.snapshot &&
                       chunk_bytes > 0 && message.snapshot->size() > chunk_bytes;
  if (!chunked) {
    FillRaftMessage(message, &out[0]);
    return out;
  }
  raft::Message header = message;
  header.snapshot.reset();
  FillRaftMessage(header, &out[0]);
  const std::string& data = *message.snapshot;
  out.resize((data.size() + chunk_bytes - 1) / chunk_bytes, out[0]);
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].set_chunk_offset(i * chunk_bytes);
    out[i].set_snapshot_size(data.size());
    out[i].set_snapshot(data.substr(i * chunk_bytes, chunk_bytes));
  }
  return out;
}

absl::StatusOr<std::optional<dnsd::peer::RaftMessage>> SnapshotAssembler::Add(
    dnsd::peer::RaftMessage chunk) {
  const uint64_t total = chunk.snapshot_size();
  if (total > kMaxSnapshotBytes || chunk.chunk_offset() > total ||
      chunk.snapshot().size() > total - chunk.chunk_offset() || chunk.snapshot().empty()) {
    partial_.reset();
    return absl::InvalidArgumentError("a snapshot chunk out of bounds");
  }
  const bool continues =
      partial_ && partial_->from() == chunk.from() && partial_->term() == chunk.term() &&
      partial_->index() == chunk.index() && partial_->log_term() == chunk.log_term() &&
      partial_->snapshot_size() == total && partial_->snapshot().size() == chunk.chunk_offset();
  if (chunk.chunk_offset() == 0) {
    partial_ = std::move(chunk);  // a (new) snapshot starts
  } else if (continues) {
    partial_->mutable_snapshot()->append(chunk.snapshot());
  } else {
    partial_.reset();  // a gap (a lost call): wait for the leader to send it again
    return std::nullopt;
  }
  if (partial_->snapshot().size() < total) return std::nullopt;
  dnsd::peer::RaftMessage whole = std::move(*partial_);
  partial_.reset();
  whole.clear_chunk_offset();
  whole.clear_snapshot_size();
  return whole;
}

std::string EncodeRaftBatch(const std::vector<raft::Message>& messages) {
  return ToRaftBatch(messages).SerializeAsString();
}

absl::StatusOr<std::vector<raft::Message>> DecodeRaftBatch(std::string_view bytes) {
  dnsd::peer::RaftBatch batch;
  if (!batch.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("Raft batch does not parse");
  }
  return FromRaftBatch(batch);
}

absl::StatusOr<std::vector<raft::Message>> FromRaftBatch(const dnsd::peer::RaftBatch& batch) {
  if (static_cast<size_t>(batch.messages_size()) > kMaxRaftMessagesPerBatch) {
    return absl::InvalidArgumentError("Raft batch has too many messages");
  }
  std::vector<raft::Message> out;
  out.reserve(batch.messages_size());
  for (const auto& in : batch.messages()) {
    if (!dnsd::peer::RaftMessage::Type_IsValid(in.type()) ||
        in.type() > dnsd::peer::RaftMessage::READ_INDEX_RESPONSE) {
      return absl::InvalidArgumentError("Raft message of an unknown type");
    }
    if (in.from() == 0 || in.to() == 0 || in.from() == in.to()) {
      return absl::InvalidArgumentError("Raft message without a proper sender and receiver");
    }
    if (static_cast<size_t>(in.entries_size()) > kMaxRaftEntriesPerMessage) {
      return absl::InvalidArgumentError("Raft message with too many entries");
    }
    raft::Message m;
    m.type = static_cast<raft::MessageType>(in.type());
    m.from = in.from();
    m.to = in.to();
    m.term = in.term();
    m.log_term = in.log_term();
    m.index = in.index();
    m.commit = in.commit();
    m.reject = in.reject();
    m.reject_hint = in.reject_hint();
    m.reject_hint_term = in.reject_hint_term();
    m.transfer = in.transfer();
    if (in.context().size() > 64) return absl::InvalidArgumentError("Raft read context too long");
    m.context = in.context();
    if (in.type() == dnsd::peer::RaftMessage::SNAPSHOT) {
      if (in.snapshot_size() != 0) {
        return absl::InvalidArgumentError("a snapshot chunk outside a snapshot assembler");
      }
      m.snapshot = std::make_shared<const std::string>(in.snapshot());
      if (in.conf_voters_size() == 0) {
        return absl::InvalidArgumentError("Raft snapshot without a configuration");
      }
      m.conf.voters.assign(in.conf_voters().begin(), in.conf_voters().end());
      m.conf.learners.assign(in.conf_learners().begin(), in.conf_learners().end());
      for (const auto& [id, context] : in.conf_contexts()) m.conf.contexts[id] = context;
      std::sort(m.conf.voters.begin(), m.conf.voters.end());
      std::sort(m.conf.learners.begin(), m.conf.learners.end());
    }
    for (const auto& e : in.entries()) {
      if (e.term() == 0 || e.index() == 0) {
        return absl::InvalidArgumentError("Raft entry without a term or index");
      }
      m.entries.push_back(raft::Entry{e.term(), e.index(), e.data()});
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace dnsd::node
