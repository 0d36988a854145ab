// Per-thread scratch buffers allocated on a thread's first use. A plain
// `thread_local uint8_t buffer[65535]` sits in the static TLS block that glibc zeroes for every
// thread the process starts (gRPC's, HTTP workers', Raft's), 64 KB each whether the thread ever
// answers DNS or not; three of them made every thread cost ~200 KB of RSS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace dnsd::common {

// `Tag` tells buffers apart (each call site names its own), so two of them can be in use on
// one thread at once. Thread-safe: each thread has its own.
template <typename Tag, size_t kSize>
uint8_t* ThreadBuffer() {
  thread_local std::unique_ptr<uint8_t[]> buffer;
  if (!buffer) buffer.reset(new uint8_t[kSize]);  // not zeroed: callers write before reading
  return buffer.get();
}

}  // namespace dnsd::common
