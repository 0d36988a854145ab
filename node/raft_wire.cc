#include "node/raft_wire.h"

#include <algorithm>

#include "common/strings.h"

namespace dnsd::node {

dnsd::peer::RaftBatch ToRaftBatch(const std::vector<raft::Message>& messages) {
  dnsd::peer::RaftBatch batch;
  for (const raft::Message& m : messages) {
    auto* out = batch.add_messages();
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
    if (m.snapshot) out->set_snapshot(*m.snapshot);
    if (m.type == raft::MessageType::kSnapshot) {
      for (raft::NodeId id : m.conf.voters) out->add_conf_voters(id);
      for (raft::NodeId id : m.conf.learners) out->add_conf_learners(id);
      for (const auto& [id, context] : m.conf.contexts)
        (*out->mutable_conf_contexts())[id] = context;
    }
    for (const raft::Entry& e : m.entries) {
      auto* entry = out->add_entries();
      entry->set_term(e.term);
      entry->set_index(e.index);
      entry->set_data(e.data);
    }
  }
  return batch;
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
        in.type() > dnsd::peer::RaftMessage::SNAPSHOT) {
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
    if (in.type() == dnsd::peer::RaftMessage::SNAPSHOT) {
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
