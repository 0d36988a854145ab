// Probe: one health check of one address, run on a libevent loop without blocking it. TCP
// connects (non-blocking) and succeeds once the connection is established; HTTP then sends a
// prepared request and compares the status line's code with the expected one. Either has one
// deadline for the whole check. The connection is closed as soon as the answer is known.
//
// Thread-safety: a Probe belongs to the loop thread that started it.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/event_loop.h"
#include "common/socket_address.h"
#include "registry/naming_model.h"

namespace dnsd::health {

struct ProbeSpec {
  common::SocketAddress address;
  registry::HealthCheckType type = registry::HealthCheckType::kTcp;  // kTcp or kHttp
  std::string request;  // HTTP: the whole request (see HttpCheckRequest)
  int expected_code = 200;

  friend bool operator==(const ProbeSpec& a, const ProbeSpec& b) {
    return a.address.length == b.address.length &&
           std::equal(reinterpret_cast<const char*>(&a.address.storage),
                      reinterpret_cast<const char*>(&a.address.storage) + a.address.length,
                      reinterpret_cast<const char*>(&b.address.storage)) &&
           a.type == b.type && a.request == b.request && a.expected_code == b.expected_code;
  }
};

struct ProbeResult {
  bool ok = false;
  registry::HealthCause cause = registry::HealthCause::kCheckError;  // when !ok
  std::string detail;  // "connection refused", "HTTP 503", ...; empty when ok
};

// The GET request an HTTP check sends: `path` ("" is "/"), the Host header, Nacos's
// "name|value|..." extra headers, and Connection: close.
std::string HttpCheckRequest(const std::string& path, const std::string& headers,
                             const common::SocketAddress& address);

class Probe {
 public:
  using Done = std::function<void(const ProbeResult&)>;
  // Starts the check; `done` runs once, later, on the loop (never inside Start). Destroying
  // the Probe first cancels it without calling `done`.
  static std::unique_ptr<Probe> Start(event_base* base, const ProbeSpec& spec, int64_t timeout_ms,
                                      Done done);
  ~Probe();
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

 private:
  Probe(event_base* base, const ProbeSpec& spec, Done done);
  static void OnEvent(evutil_socket_t fd, short what, void* self);
  void Handle(short what);
  void Finish(ProbeResult result);
  void Wait(short what);
  int64_t RemainingMs() const;

  event_base* base_;
  const ProbeSpec spec_;  // a copy: the target may be redefined while the probe runs
  std::optional<ProbeResult> immediate_;  // a failure known in Start, reported from the loop
  Done done_;
  int fd_ = -1;
  bool connected_ = false;
  size_t sent_ = 0;
  std::string answer_;
  int64_t deadline_ms_ = 0;
  common::EventPtr event_;
};

}  // namespace dnsd::health
