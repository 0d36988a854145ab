#include "common/event_loop.h"

#include <event2/thread.h>

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

void EventLoop::OnTimer(evutil_socket_t, short, void* arg) { static_cast<Timer*>(arg)->fn(); }

}  // namespace dnsd::common
