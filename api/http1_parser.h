// Http1Parser reads HTTP/1.1 requests (RFC 9112) from a byte stream, incrementally: feed it
// what arrived, it says whether a whole request is there, how many bytes it used, or what is
// wrong with it. It is strict where leniency lets one message be read two ways (request
// smuggling): conflicting Content-Length values, Content-Length together with
// Transfer-Encoding, a coding other than a final "chunked", whitespace before a header's
// colon, obsolete line folding, bare CR, and HTTP/1.1 without exactly one Host are all
// errors, and an error always closes the connection.
//
// Pure (no I/O, no clock): the server owns sockets and deadlines; the fuzzer drives it with
// arbitrary bytes split at arbitrary points.
// Thread-safety: one parser per connection, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dnsd::api {

struct Http1Limits {
  size_t max_header_bytes = 64 * 1024;  // request line + headers
  size_t max_headers = 128;
  size_t max_body_bytes = 64 << 20;  // beyond: 413
};

struct Http1Request {
  std::string method;
  std::string target;  // as sent: origin-form path?query
  int version_minor = 1;
  // Names lowercased; values with surrounding whitespace removed; in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = true;
  bool expects_continue = false;

  // The first value of `name` (lowercase), or "".
  std::string_view Header(std::string_view name) const;
};

class Http1Parser {
 public:
  enum class State { kNeedMore, kHeadersDone, kDone, kError };

  explicit Http1Parser(Http1Limits limits) : limits_(limits) {}

  // Consumes bytes of `data` and returns the new state. kHeadersDone is reported once per
  // request, when its headers are complete and a body is still to come (the server answers
  // "100 Continue" then, and starts the body deadline); call Feed again to go on.
  // `consumed` is the number of bytes of `data` used; unused bytes belong to the next request
  // (pipelining) and must be fed again after Reset().
  State Feed(std::string_view data, size_t& consumed);

  // Starts on the next request of the same connection.
  void Reset();

  State state() const { return state_; }
  // True once any byte of the current request has arrived.
  bool started() const { return started_; }
  Http1Request& request() { return request_; }
  // On kError: the status to answer (400, 413, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error() const { return error_; }

 private:
  enum class Phase { kHead, kFixedBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kDone };
  State Fail(int status, std::string why);
  State ParseHead(std::string_view head);
  // Reads one CRLF-terminated line from `data` at `pos` into line_ (may span calls): 1 when
  // complete, 0 when more bytes are needed, -1 on an error (state is then kError).
  int TakeLine(std::string_view data, size_t& pos, size_t limit);

  Http1Limits limits_;
  State state_ = State::kNeedMore;
  Phase phase_ = Phase::kHead;
  bool started_ = false;
  std::string head_;  // request line + headers, until the blank line
  std::string line_;  // chunk-size and trailer lines
  size_t trailer_bytes_ = 0;
  uint64_t remaining_ = 0;  // body bytes left in the fixed body or the current chunk
  Http1Request request_;
  int error_status_ = 0;
  std::string error_;
};

}  // namespace dnsd::api
