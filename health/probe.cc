#include "health/probe.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/strings.h"

namespace dnsd::health {
namespace {

// Enough for any status line; the rest of the answer is never read.
constexpr size_t kMaxAnswerBytes = 1024;

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

ProbeResult Failure(registry::HealthCause cause, std::string detail) {
  return ProbeResult{false, cause, std::move(detail)};
}

ProbeResult ConnectFailure(int error) {
  if (error == ECONNREFUSED)
    return Failure(registry::HealthCause::kCheckRefused, "connection refused");
  if (error == ETIMEDOUT) return Failure(registry::HealthCause::kCheckTimeout, "connect timed out");
  return Failure(registry::HealthCause::kCheckError, common::StrCat("connect: ", strerror(error)));
}

// "HTTP/1.1 200 OK\r\n" -> 200; -1 when the line is not a status line.
int StatusCode(std::string_view answer) {
  const size_t eol = answer.find('\n');
  std::string_view line = answer.substr(0, eol);
  if (!line.starts_with("HTTP/") || line.size() < 12) return -1;
  const size_t space = line.find(' ');
  if (space == std::string_view::npos || space + 4 > line.size()) return -1;
  int code = 0;
  for (size_t i = space + 1; i < space + 4; ++i) {
    if (!common::IsDigit(line[i])) return -1;
    code = code * 10 + (line[i] - '0');
  }
  return code;
}

}  // namespace

std::string HttpCheckRequest(const std::string& path, const std::string& headers,
                             const common::SocketAddress& address) {
  std::string request =
      common::StrCat("GET ", path.empty() ? "/" : path, " HTTP/1.1\r\nHost: ", address.ToString(),
                     "\r\nUser-Agent: dnsd-health-check\r\nConnection: close\r\n");
  const auto parts = common::Split(headers, '|', /*skip_empty=*/false);
  for (size_t i = 0; i + 1 < parts.size(); i += 2) {
    common::StrAppend(&request, common::Trim(parts[i]), ": ", common::Trim(parts[i + 1]), "\r\n");
  }
  request += "\r\n";
  return request;
}

Probe::Probe(event_base* base, const ProbeSpec& spec, Done done)
    : base_(base), spec_(spec), done_(std::move(done)) {}

Probe::~Probe() {
  event_.reset();
  if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<Probe> Probe::Start(event_base* base, const ProbeSpec& spec, int64_t timeout_ms,
                                    Done done) {
  std::unique_ptr<Probe> probe(new Probe(base, spec, std::move(done)));
  probe->deadline_ms_ = SteadyMs() + timeout_ms;
  probe->fd_ = ::socket(spec.address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe->fd_ < 0) {
    probe->immediate_ =
        Failure(registry::HealthCause::kCheckError, common::StrCat("socket: ", strerror(errno)));
  } else if (::connect(probe->fd_, spec.address.get(), spec.address.length) == 0) {
    probe->connected_ = true;  // loopback may connect at once
  } else if (errno != EINPROGRESS) {
    probe->immediate_ = ConnectFailure(errno);
  }
  probe->event_.reset(event_new(base, probe->fd_, 0, &Probe::OnEvent, probe.get()));
  if (probe->immediate_) {
    const timeval now{0, 0};
    event_add(probe->event_.get(), &now);
  } else {
    probe->Wait(EV_WRITE);  // also when connected at once: the loop reports (or sends)
  }
  return probe;
}

int64_t Probe::RemainingMs() const { return std::max<int64_t>(0, deadline_ms_ - SteadyMs()); }

void Probe::Wait(short what) {
  const int64_t remaining = RemainingMs();
  const timeval timeout{static_cast<time_t>(remaining / 1000),
                        static_cast<suseconds_t>((remaining % 1000) * 1000)};
  event_del(event_.get());
  event_assign(event_.get(), base_, fd_, what, &Probe::OnEvent, this);
  event_add(event_.get(), &timeout);
}

void Probe::OnEvent(evutil_socket_t, short what, void* self) {
  static_cast<Probe*>(self)->Handle(what);
}

void Probe::Handle(short what) {
  if (immediate_) return Finish(std::move(*immediate_));
  if ((what & EV_TIMEOUT) != 0) {
    return Finish(Failure(registry::HealthCause::kCheckTimeout,
                          connected_ ? "no HTTP answer in time" : "connect timed out"));
  }
  if (!connected_) {
    int error = 0;
    socklen_t length = sizeof(error);
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) return Finish(ConnectFailure(error));
    connected_ = true;
  }
  if (spec_.type == registry::HealthCheckType::kTcp) {
    return Finish(ProbeResult{true, registry::HealthCause::kCheckPassed, ""});
  }
  if (sent_ < spec_.request.size()) {
    const ssize_t n =
        ::send(fd_, spec_.request.data() + sent_, spec_.request.size() - sent_, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Finish(
          Failure(registry::HealthCause::kCheckError, common::StrCat("send: ", strerror(errno))));
    }
    if (n > 0) sent_ += static_cast<size_t>(n);
    return Wait(sent_ < spec_.request.size() ? EV_WRITE : EV_READ);
  }
  char buffer[512];
  const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Wait(EV_READ);
  if (n < 0) {
    return Finish(
        Failure(registry::HealthCause::kCheckError, common::StrCat("receive: ", strerror(errno))));
  }
  answer_.append(buffer, static_cast<size_t>(n));
  const bool line_complete = answer_.find('\n') != std::string::npos;
  if (!line_complete && n > 0 && answer_.size() < kMaxAnswerBytes) return Wait(EV_READ);
  const int code = StatusCode(answer_);
  if (code < 0) {
    return Finish(Failure(
        registry::HealthCause::kCheckError,
        n == 0 && answer_.empty() ? "connection closed without an answer" : "not an HTTP answer"));
  }
  if (code != spec_.expected_code) {
    return Finish(Failure(registry::HealthCause::kCheckBadStatus,
                          common::StrCat("HTTP ", code, " (expected ", spec_.expected_code, ")")));
  }
  Finish(ProbeResult{true, registry::HealthCause::kCheckPassed, ""});
}

void Probe::Finish(ProbeResult result) {
  event_.reset();
  if (fd_ >= 0 && connected_) {
    // Close with a reset, as HAProxy's checks do: no FIN exchange and no TIME_WAIT socket per
    // check (thousands of checks a second would otherwise hold thousands of them).
    const linger reset{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  }
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(result);  // may destroy this probe: nothing after
}

}  // namespace dnsd::health
