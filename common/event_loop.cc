#include "common/event_loop.h"

#include <event2/thread.h>

#include <chrono>
#include <map>

#include "common/metrics.h"
#include "spdlog/spdlog.h"

namespace dnsd::common {

absl::StatusOr<std::unique_ptr<EventLoop>> EventLoop::Create() {
  static const int threads_ready = evthread_use_pthreads();
  if (threads_ready != 0) return absl::InternalError("libevent has no pthreads support");
  std::unique_ptr<EventLoop> loop(new EventLoop());
  // The epoll changelist merges the enable/disable pairs that buffered connections make around
  // every write into at most one epoll_ctl per loop iteration.
  event_config* config = event_config_new();
  event_config_set_flag(config, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
  loop->base_.reset(event_base_new_with_config(config));
  event_config_free(config);
  if (!loop->base_) return absl::InternalError("event_base_new failed");
  loop->wake_.reset(event_new(loop->base_.get(), -1, EV_PERSIST, &EventLoop::OnWake, loop.get()));
  if (!loop->wake_) return absl::InternalError("event_new failed");
  // A persistent pure-user event that is never added: event_active() alone wakes the loop.
  return loop;
}

EventLoop::~EventLoop() {
  timers_.clear();
  once_timers_.clear();
  wake_.reset();
}

void EventLoop::Run() { event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY); }

void EventLoop::Stop() {
  // A break requested before the thread enters event_base_loop() would be lost (the loop
  // clears the flag on entry), so the break itself runs as posted work on the loop.
  Post([base = base_.get()] { event_base_loopbreak(base); });
}

void EventLoop::Post(std::function<void()> fn) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    // Only the first closure of a batch needs to wake the loop: OnWake takes the whole queue,
    // and a closure posted after it took the queue finds it empty and wakes the loop again.
    wake = pending_.empty();
    pending_.push_back(std::move(fn));
  }
  if (wake) event_active(wake_.get(), EV_READ, 0);
}

void EventLoop::OnWake(evutil_socket_t, short, void* self) {
  auto* loop = static_cast<EventLoop*>(self);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(loop->mu_);
    batch.swap(loop->pending_);
  }
  for (auto& fn : batch) fn();
}

void EventLoop::RunEvery(int64_t period_ms, std::function<void()> fn) {
  auto timer = std::make_unique<Timer>();
  timer->loop = this;
  timer->fn = std::move(fn);
  timer->ev.reset(event_new(base_.get(), -1, EV_PERSIST, &EventLoop::OnTimer, timer.get()));
  timeval tv{static_cast<time_t>(period_ms / 1000),
             static_cast<suseconds_t>((period_ms % 1000) * 1000)};
  event_add(timer->ev.get(), &tv);
  timers_.push_back(std::move(timer));
}

void EventLoop::OnTimer(evutil_socket_t, short, void* arg) {
  auto* timer = static_cast<Timer*>(arg);
  if (!timer->once) {
    timer->fn();
    return;
  }
  auto& pending = timer->loop->once_timers_;
  auto node = pending.extract(timer);
  std::function<void()> fn = std::move(timer->fn);
  node.mapped().reset();  // frees the event (allowed inside its own callback) and the timer
  fn();
}

void EventLoop::RunAfter(int64_t delay_ms, std::function<void()> fn) {
  Post([this, delay_ms, fn = std::move(fn)]() mutable {
    auto once = std::make_unique<Timer>();
    Timer* raw = once.get();
    raw->loop = this;
    raw->once = true;  // owned by once_timers_ until it runs (see OnTimer)
    raw->fn = std::move(fn);
    raw->ev.reset(event_new(base_.get(), -1, 0, &EventLoop::OnTimer, raw));
    timeval tv{static_cast<time_t>(delay_ms / 1000),
               static_cast<suseconds_t>((delay_ms % 1000) * 1000)};
    event_add(raw->ev.get(), &tv);
    once_timers_.emplace(raw, std::move(once));
  });
}

namespace {

struct AcceptPause {
  Counter* errors;
  std::string what;
  std::chrono::steady_clock::time_point last_warning{};
};

std::mutex& PauseMutex() {
  static std::mutex mu;
  return mu;
}
std::map<evconnlistener*, AcceptPause>& Pauses() {
  static std::map<evconnlistener*, AcceptPause> pauses;
  return pauses;
}

void OnAcceptError(evconnlistener* listener, void*) {
  const int err = EVUTIL_SOCKET_ERROR();
  {
    std::lock_guard lock(PauseMutex());
    auto it = Pauses().find(listener);
    if (it != Pauses().end()) {
      it->second.errors->Inc();
      const auto now = std::chrono::steady_clock::now();
      if (now - it->second.last_warning > std::chrono::seconds(10)) {
        it->second.last_warning = now;
        spdlog::warn("{}: accept failed ({}); pausing new connections for 100 ms at a time",
                     it->second.what, evutil_socket_error_to_string(err));
      }
    }
  }
  evconnlistener_disable(listener);
  const timeval pause{0, 100'000};
  event_base_once(
      evconnlistener_get_base(listener), -1, EV_TIMEOUT,
      [](evutil_socket_t, short, void* arg) {
        auto* l = static_cast<evconnlistener*>(arg);
        std::lock_guard lock(PauseMutex());
        if (Pauses().contains(l)) evconnlistener_enable(l);  // not if freed meanwhile
      },
      listener, &pause);
}

}  // namespace

void PauseOnAcceptErrors(evconnlistener* listener, Counter& errors, std::string what) {
  {
    std::lock_guard lock(PauseMutex());
    Pauses()[listener] = AcceptPause{&errors, std::move(what)};
  }
  evconnlistener_set_error_cb(listener, &OnAcceptError);
}

void ForgetAcceptPause(evconnlistener* listener) {
  std::lock_guard lock(PauseMutex());
  Pauses().erase(listener);
}

}  // namespace dnsd::common
