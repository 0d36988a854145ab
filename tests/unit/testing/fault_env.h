// FaultEnv is a LevelDB Env over the real file system that fails on demand, the way a full or
// failing disk does: a byte budget after which writes fail with "No space left on device"
// (the write that crosses it is torn: its first bytes reach the file, the rest do not), and
// fsyncs that fail. It models what the kernel does to our files; LevelDB's own
// fault-injection tests are the model.
// Thread-safety: all methods may be called from any thread (LevelDB compacts in the
// background).
#pragma once

#include <leveldb/env.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace dnsd::testing {

class FaultEnv : public leveldb::EnvWrapper {
 public:
  FaultEnv() : EnvWrapper(leveldb::Env::Default()) {}

  // Bytes that may still be written before writes fail; negative: no limit.
  void SetWriteBudget(int64_t bytes) {
    std::lock_guard lock(mu_);
    budget_ = bytes;
  }
  void SetFailSyncs(bool fail) { fail_syncs_ = fail; }
  int64_t failures() const { return failures_; }

  leveldb::Status NewWritableFile(const std::string& name, leveldb::WritableFile** out) override {
    leveldb::WritableFile* base = nullptr;
    leveldb::Status s = target()->NewWritableFile(name, &base);
    if (s.ok()) *out = new File(*this, name, base);
    return s;
  }
  leveldb::Status NewAppendableFile(const std::string& name, leveldb::WritableFile** out) override {
    leveldb::WritableFile* base = nullptr;
    leveldb::Status s = target()->NewAppendableFile(name, &base);
    if (s.ok()) *out = new File(*this, name, base);
    return s;
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(FaultEnv& env, std::string name, leveldb::WritableFile* base)
        : env_(env), name_(std::move(name)), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      size_t allowed = data.size();
      {
        std::lock_guard lock(env_.mu_);
        if (env_.budget_ >= 0) {
          allowed = std::min<size_t>(allowed, static_cast<size_t>(env_.budget_));
          env_.budget_ -= static_cast<int64_t>(allowed);
        }
      }
      if (allowed == data.size()) return base_->Append(data);
      // Torn: the prefix reaches the file, as a short write() would leave it.
      base_->Append(leveldb::Slice(data.data(), allowed));
      base_->Flush();
      ++env_.failures_;
      return leveldb::Status::IOError(name_, "No space left on device");
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      if (env_.fail_syncs_) {
        base_->Flush();
        ++env_.failures_;
        return leveldb::Status::IOError(name_, "Input/output error");
      }
      return base_->Sync();
    }

   private:
    FaultEnv& env_;
    std::string name_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };

  std::mutex mu_;
  int64_t budget_ = -1;
  std::atomic<bool> fail_syncs_{false};
  std::atomic<int64_t> failures_{0};
};

}  // namespace dnsd::testing
