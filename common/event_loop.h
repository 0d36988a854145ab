// EventLoop owns one libevent event_base that runs on exactly one thread. Other threads hand
// it work with Post(); the closure then runs on the loop thread, which is how work crosses
// threads in dnsd. Post() and Stop() are thread-safe; everything else belongs to the loop
// thread (or to set-up before Run()).
#pragma once

#include <event2/event.h>
#include <event2/listener.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::common {

struct EventBaseDeleter {
  void operator()(event_base* base) const { event_base_free(base); }
};
struct EventDeleter {
  void operator()(event* ev) const { event_free(ev); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;

class EventLoop {
 public:
  static absl::StatusOr<std::unique_ptr<EventLoop>> Create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Stop(). Blocks the calling thread, which becomes the loop thread.
  void Run();
  void Stop();
  void Post(std::function<void()> fn);
  // Calls fn every period_ms on the loop thread, first after one period.
  void RunEvery(int64_t period_ms, std::function<void()> fn);
  // Calls fn once on the loop thread after delay_ms. Thread-safe. A pending call is dropped
  // (never run) when the loop is destroyed first.
  void RunAfter(int64_t delay_ms, std::function<void()> fn);

  event_base* base() const { return base_.get(); }

 private:
  EventLoop() = default;
  static void OnWake(evutil_socket_t, short, void* self);
  static void OnTimer(evutil_socket_t, short, void* arg);

  struct Timer {
    EventLoop* loop;
    bool once = false;
    EventPtr ev;
    std::function<void()> fn;
  };

  EventBasePtr base_;
  EventPtr wake_;
  std::mutex mu_;
  std::vector<std::function<void()>> pending_;
  std::vector<std::unique_ptr<Timer>> timers_;
  std::map<Timer*, std::unique_ptr<Timer>> once_timers_;  // RunAfter calls not yet run
};

class Counter;

// After an accept() error (out of descriptors, typically) a level-triggered listener stays
// readable and its loop spins. This makes `listener` pause for 100 ms instead, counts each
// error in `errors` and logs once per 10 s. Works for listeners owned by evhttp too (the
// pause state is kept here, not in the listener's callback argument).
void PauseOnAcceptErrors(evconnlistener* listener, Counter& errors, std::string what);
// Call before freeing a listener given to PauseOnAcceptErrors.
void ForgetAcceptPause(evconnlistener* listener);

}  // namespace dnsd::common
