#include "raft/local_driver.h"

#include "common/thread_name.h"

namespace dnsd::raft {

LocalDriver::LocalDriver(LogStore& log, ApplyFn apply) : log_(log), apply_(std::move(apply)) {}

LocalDriver::~LocalDriver() { Stop(); }

absl::Status LocalDriver::Replay() {
  // An entry that fails to apply failed the same way when it was first applied; it stays a
  // no-op, which keeps replay deterministic.
  auto s = log_.ForEach(1, [&](uint64_t index, std::string_view entry) {
    apply_(index, entry).IgnoreError();
    applied_index_ = index;
    return absl::OkStatus();
  });
  return s;
}

void LocalDriver::Start() {
  thread_ = std::thread([this] {
    common::SetThreadName("log-apply");
    Run();
  });
}

void LocalDriver::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LocalDriver::Propose(std::string entry, DoneFn done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back({std::move(entry), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(absl::UnavailableError("server is shutting down"));
}

uint64_t LocalDriver::applied_index() const {
  std::lock_guard lock(mu_);
  return applied_index_;
}

void LocalDriver::Run() {
  for (;;) {
    std::vector<Proposal> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      batch.swap(queue_);
      if (batch.empty() && stopping_) return;
    }
    std::vector<std::string> entries;
    entries.reserve(batch.size());
    for (auto& p : batch) entries.push_back(std::move(p.entry));
    auto first = log_.Append(entries);
    if (!first.ok()) {
      for (auto& p : batch) p.done(first.status());
      continue;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const uint64_t index = *first + i;
      absl::Status result = apply_(index, entries[i]);
      {
        std::lock_guard lock(mu_);
        applied_index_ = index;
      }
      batch[i].done(std::move(result));
    }
  }
}

}  // namespace dnsd::raft
