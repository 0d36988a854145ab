// ListenerIndex holds the config listeners that are waiting for a change: HTTP long polls
// today, gRPC listen registrations' one-shot waits tomorrow. A listener is parked on a set of
// keys with a deadline and a callback; the callback runs exactly once, with the keys that
// changed, or with none when the deadline passed (or the listener was cancelled).
//
// Nothing here owns a thread or reads a clock: Notify() is called by the config store's
// change listener, Expire(now) by a timer. A parked listener costs one map entry per key
// plus its callback; no thread or timer of its own.
//
// Thread-safety: every method is thread-safe. Callbacks run on the caller's thread after
// the index lock is released, so they may call back into the index.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "config/config_model.h"

namespace dnsd::config {

class ListenerIndex {
 public:
  using Callback = std::function<void(std::vector<ConfigKey> changed)>;
  struct Interest {
    ConfigKey key;
    std::string md5;  // what the client holds, for introspection only
  };

  // Returns the listener's id.
  uint64_t Park(std::vector<Interest> interests, std::string client_ip, int64_t deadline_ms,
                Callback callback);
  // Fires listener `id` now with `changed` if it is still parked; false if it already fired.
  bool Answer(uint64_t id, std::vector<ConfigKey> changed);
  // Fires every listener parked on `key`.
  void Notify(const ConfigKey& key);
  // Fires, with no keys, every listener whose deadline is at or before `now_ms`.
  void Expire(int64_t now_ms);

  size_t size() const;
  // ip -> md5 of the listeners currently parked on `key`.
  std::vector<std::pair<std::string, std::string>> ListenersOf(const ConfigKey& key) const;

 private:
  struct Listener {
    std::vector<Interest> interests;
    std::string client_ip;
    int64_t deadline_ms;
    Callback callback;
  };
  // Removes listener `id` from every structure and returns its callback.
  Callback TakeLocked(uint64_t id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<ConfigKey, absl::flat_hash_set<uint64_t>> by_key_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<int64_t, uint64_t>> by_deadline_ ABSL_GUARDED_BY(mu_);
};

}  // namespace dnsd::config
