#include "raft/local_driver.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>

#include "common/crash_point.h"
#include "common/storage_failure.h"
#include "common/strings.h"
#include "common/thread_name.h"
#include "spdlog/spdlog.h"

namespace dnsd::raft {

LocalDriver::LocalDriver(LogStore& log, ApplyFn apply, LocalDriverOptions options)
    : log_(log), apply_(std::move(apply)), options_(std::move(options)) {
  if (!options_.fatal) {
    options_.fatal = [](const absl::Status& s) {
      spdlog::critical("state machine failed: {}", common::ToStd(s.message()));
      std::abort();
    };
  }
}

LocalDriver::~LocalDriver() { Stop(); }

absl::Status LocalDriver::Replay() {
  // An entry whose command failed failed the same way when it was first applied; it stays a
  // no-op, which keeps replay deterministic. A storage failure or a damaged state is not a
  // result: stop (the next start rebuilds a damaged store from the log).
  return log_.ForEach(1, [&](uint64_t index, std::string_view entry) {
    absl::Status result = apply_(index, entry);
    common::CrashPoint("replay.after_apply");
    if (common::IsStorageFailure(result) || common::IsStateDamaged(result)) {
      return absl::UnavailableError(
          common::StrCat("applying log entry ", index, ": ", result.message()));
    }
    applied_index_ = index;
    return absl::OkStatus();
  });
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
  absl::Status refused;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      refused = absl::UnavailableError("server is shutting down");
    } else if (stalled()) {
      refused = absl::UnavailableError(
          "writes are paused: the state machine is waiting for the data disk to accept writes");
    } else {
      queue_.push_back({std::move(entry), std::move(done)});
      cv_.notify_one();
      return;
    }
  }
  done(refused);
}

uint64_t LocalDriver::applied_index() const {
  std::lock_guard lock(mu_);
  return applied_index_;
}

absl::Status LocalDriver::CheckFreeSpace() const {
  if (options_.min_free_bytes == 0) return absl::OkStatus();
  struct statvfs fs {};
  if (statvfs(log_.dir().c_str(), &fs) != 0) return absl::OkStatus();
  const uint64_t free_bytes = static_cast<uint64_t>(fs.f_bavail) * fs.f_frsize;
  if (free_bytes >= options_.min_free_bytes) return absl::OkStatus();
  return absl::UnavailableError(common::StrCat(
      "the data disk is almost full (", free_bytes / 1024,
      " KiB free; writes need storage.min_free_bytes = ", options_.min_free_bytes / 1024, " KiB)"));
}

bool LocalDriver::ApplyWithRetry(uint64_t index, std::string_view entry, absl::Status& result) {
  auto backoff = std::chrono::milliseconds(20);
  for (;;) {
    result = apply_(index, entry);
    if (!common::IsStorageFailure(result)) {
      if (stalled()) {
        spdlog::info("log entry {} applied; the state machine goes on", index);
        stalled_.store(false, std::memory_order_relaxed);
      }
      return true;
    }
    if (!stalled()) {
      spdlog::error("cannot apply log entry {}: {}; retrying until the disk accepts writes", index,
                    common::ToStd(result.message()));
      stalled_.store(true, std::memory_order_relaxed);
      storage_stalls_.fetch_add(1, std::memory_order_relaxed);
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return false;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
  }
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
    if (auto space = CheckFreeSpace(); !space.ok()) {
      low_space_refusals_.fetch_add(batch.size(), std::memory_order_relaxed);
      for (auto& p : batch) p.done(space);
      continue;
    }
    std::vector<std::string> entries;
    entries.reserve(batch.size());
    for (auto& p : batch) entries.push_back(std::move(p.entry));
    common::CrashPoint("log.before_append");
    auto first = log_.Append(entries);
    common::CrashPoint("log.after_append");
    if (!first.ok()) {
      for (auto& p : batch) p.done(first.status());
      continue;
    }
    for (size_t i = 0; i < batch.size(); ++i) {
      const uint64_t index = *first + i;
      absl::Status result;
      if (!ApplyWithRetry(index, entries[i], result)) return;  // stopping; replayed at start
      if (common::IsStateDamaged(result)) {
        options_.fatal(result);
        return;
      }
      common::CrashPoint("log.after_apply");
      {
        std::lock_guard lock(mu_);
        applied_index_ = index;
      }
      batch[i].done(std::move(result));
      common::CrashPoint("log.after_answer");
    }
  }
}

}  // namespace dnsd::raft
