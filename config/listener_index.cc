#include "config/listener_index.h"

namespace dnsd::config {

uint64_t ListenerIndex::Park(std::vector<Interest> interests, std::string client_ip,
                             int64_t deadline_ms, Callback callback) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  for (const auto& interest : interests) by_key_[interest.key].insert(id);
  by_deadline_.emplace(deadline_ms, id);
  listeners_.emplace(
      id, Listener{std::move(interests), std::move(client_ip), deadline_ms, std::move(callback)});
  return id;
}

ListenerIndex::Callback ListenerIndex::TakeLocked(uint64_t id) {
  auto it = listeners_.find(id);
  if (it == listeners_.end()) return nullptr;
  for (const auto& interest : it->second.interests) {
    auto keyed = by_key_.find(interest.key);
    if (keyed == by_key_.end()) continue;
    keyed->second.erase(id);
    if (keyed->second.empty()) by_key_.erase(keyed);
  }
  by_deadline_.erase({it->second.deadline_ms, id});
  Callback callback = std::move(it->second.callback);
  listeners_.erase(it);
  return callback;
}

bool ListenerIndex::Answer(uint64_t id, std::vector<ConfigKey> changed) {
  Callback callback;
  {
    absl::MutexLock lock(&mu_);
    callback = TakeLocked(id);
  }
  if (!callback) return false;
  callback(std::move(changed));
  return true;
}

void ListenerIndex::Notify(const ConfigKey& key) {
  std::vector<Callback> fire;
  {
    absl::MutexLock lock(&mu_);
    auto keyed = by_key_.find(key);
    if (keyed == by_key_.end()) return;
    const std::vector<uint64_t> ids(keyed->second.begin(), keyed->second.end());
    fire.reserve(ids.size());
    for (uint64_t id : ids) fire.push_back(TakeLocked(id));
  }
  for (auto& callback : fire) {
    if (callback) callback({key});
  }
}

void ListenerIndex::Expire(int64_t now_ms) {
  std::vector<Callback> fire;
  {
    absl::MutexLock lock(&mu_);
    while (!by_deadline_.empty() && by_deadline_.begin()->first <= now_ms) {
      fire.push_back(TakeLocked(by_deadline_.begin()->second));
    }
  }
  for (auto& callback : fire) {
    if (callback) callback({});
  }
}

size_t ListenerIndex::size() const {
  absl::MutexLock lock(&mu_);
  return listeners_.size();
}

std::vector<std::pair<std::string, std::string>> ListenerIndex::ListenersOf(
    const ConfigKey& key) const {
  std::vector<std::pair<std::string, std::string>> out;
  absl::MutexLock lock(&mu_);
  auto keyed = by_key_.find(key);
  if (keyed == by_key_.end()) return out;
  for (uint64_t id : keyed->second) {
    const Listener& listener = listeners_.at(id);
    for (const auto& interest : listener.interests) {
      if (interest.key == key) out.emplace_back(listener.client_ip, interest.md5);
    }
  }
  return out;
}

}  // namespace dnsd::config
