// Membership change entries (raft_types.h). Layout: the marker byte, u8 version, u8 type,
// u64 node, u32 context length, context.
#include <algorithm>

#include "raft/raft_types.h"

namespace dnsd::raft {
namespace {

constexpr uint8_t kVersion = 1;

void PutU64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t GetU64(std::string_view in) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  return v;
}

void Erase(std::vector<NodeId>& ids, NodeId id) { std::erase(ids, id); }

bool Contains(const std::vector<NodeId>& ids, NodeId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

std::string EncodeConfChange(const ConfChange& change) {
  std::string out(1, kConfChangeMarker);
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(change.type));
  PutU64(out, change.node);
  PutU64(out, change.context.size());
  out += change.context;
  PutU64(out, change.voters.size());
  for (NodeId id : change.voters) PutU64(out, id);
  return out;
}

absl::StatusOr<ConfChange> DecodeConfChange(std::string_view data) {
  if (data.size() < 19 || data[0] != kConfChangeMarker || data[1] != kVersion) {
    return absl::DataLossError("not a membership change entry");
  }
  ConfChange change;
  const auto type = static_cast<uint8_t>(data[2]);
  if (type < 1 || type > 4) return absl::DataLossError("unknown membership change");
  change.type = static_cast<ConfChangeType>(type);
  change.node = GetU64(data.substr(3));
  const uint64_t length = GetU64(data.substr(11));
  if (length > data.size() - 19 || data.size() - 19 - length < 8) {
    return absl::DataLossError("malformed membership change entry");
  }
  change.context = std::string(data.substr(19, length));
  std::string_view rest = data.substr(19 + length);
  const uint64_t voters = GetU64(rest);
  rest.remove_prefix(8);
  if (voters != rest.size() / 8 || rest.size() % 8 != 0) {
    return absl::DataLossError("malformed membership change entry");
  }
  for (uint64_t i = 0; i < voters; ++i) change.voters.push_back(GetU64(rest.substr(8 * i)));
  if ((change.type == ConfChangeType::kSet) != (change.node == 0) ||
      (change.type == ConfChangeType::kSet && change.voters.empty())) {
    return absl::DataLossError("malformed membership change entry");
  }
  return change;
}

void ApplyConfChange(ConfState& conf, const ConfChange& change) {
  switch (change.type) {
    case ConfChangeType::kAddLearner:
      if (!Contains(conf.voters, change.node) && !Contains(conf.learners, change.node)) {
        conf.learners.push_back(change.node);
      }
      if (!change.context.empty()) conf.contexts[change.node] = change.context;
      break;
    case ConfChangeType::kPromote:
      if (Contains(conf.learners, change.node)) {
        Erase(conf.learners, change.node);
        conf.voters.push_back(change.node);
      }
      break;
    case ConfChangeType::kRemove:
      Erase(conf.voters, change.node);
      Erase(conf.learners, change.node);
      conf.contexts.erase(change.node);
      break;
    case ConfChangeType::kSet:
      conf.voters = change.voters;
      conf.learners.clear();
      break;
  }
  std::sort(conf.voters.begin(), conf.voters.end());
  std::sort(conf.learners.begin(), conf.learners.end());
}

}  // namespace dnsd::raft
