#include "api/http1_parser.h"

#include <algorithm>

#include "common/strings.h"

namespace dnsd::api {
namespace {

bool IsTokenChar(unsigned char c) {
  if (c >= '0' && c <= '9') return true;
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return IsTokenChar(static_cast<unsigned char>(c));
  });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls fn on each element of a comma-separated list (trimmed, empty ones skipped).
template <typename Fn>
void ForEachListItem(std::string_view list, Fn fn) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    std::string_view item = TrimOws(list.substr(start, comma - start));
    if (!item.empty()) fn(item);
    start = comma + 1;
  }
}

bool ParseDecimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

std::string_view Http1Request::Header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return {};
}

Http1Parser::State Http1Parser::Fail(int status, std::string why) {
  state_ = State::kError;
  error_status_ = status;
  error_ = std::move(why);
  return state_;
}

void Http1Parser::Reset() {
  state_ = State::kNeedMore;
  phase_ = Phase::kHead;
  started_ = false;
  head_.clear();
  line_.clear();
  trailer_bytes_ = 0;
  remaining_ = 0;
  request_ = Http1Request();
  error_status_ = 0;
  error_.clear();
}

int Http1Parser::TakeLine(std::string_view data, size_t& pos, size_t limit) {
  while (pos < data.size()) {
    const char c = data[pos++];
    if (c == '\n') {
      if (line_.empty() || line_.back() != '\r') {
        Fail(400, "line not terminated by CRLF");
        return -1;
      }
      line_.pop_back();
      if (line_.find('\r') != std::string::npos) {
        Fail(400, "bare CR in a line");
        return -1;
      }
      return 1;
    }
    if (line_.size() >= limit) {
      Fail(400, "line too long");
      return -1;
    }
    line_.push_back(c);
  }
  return 0;
}

Http1Parser::State Http1Parser::ParseHead(std::string_view head) {
  // head: request line and header lines, each ended by CRLF, without the final blank line.
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < head.size()) {
    const size_t lf = head.find('\n', start);
    if (lf == std::string_view::npos || lf == start || head[lf - 1] != '\r') {
      return Fail(400, "header lines must end with CRLF");
    }
    std::string_view line = head.substr(start, lf - 1 - start);
    if (line.find('\r') != std::string_view::npos) return Fail(400, "bare CR in the header");
    lines.push_back(line);
    start = lf + 1;
  }
  if (lines.empty()) return Fail(400, "empty request");

  // Request line: method SP request-target SP HTTP-version
  const std::string_view request_line = lines[0];
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : request_line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || request_line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Fail(400, "malformed request line");
  }
  const std::string_view method = request_line.substr(0, sp1);
  const std::string_view target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = request_line.substr(sp2 + 1);
  if (!IsToken(method)) return Fail(400, "malformed method");
  if (target.empty()) return Fail(400, "empty request target");
  for (unsigned char c : target) {
    if (c <= 0x20 || c == 0x7f) return Fail(400, "control character in the request target");
  }
  if (version == "HTTP/1.1") {
    request_.version_minor = 1;
  } else if (version == "HTTP/1.0") {
    request_.version_minor = 0;
  } else if (version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[6] == '.' &&
             version[5] >= '0' && version[5] <= '9' && version[7] >= '0' && version[7] <= '9') {
    return Fail(505, "only HTTP/1.0 and HTTP/1.1 are served here");
  } else {
    return Fail(400, "malformed HTTP version");
  }
  request_.method = std::string(method);
  request_.target = std::string(target);

  if (lines.size() - 1 > limits_.max_headers) return Fail(431, "too many header fields");
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.front() == ' ' || line.front() == '\t') {
      return Fail(400, "obsolete line folding is not accepted");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return Fail(400, "header line without a colon");
    const std::string_view name = line.substr(0, colon);
    if (!IsToken(name)) return Fail(400, "malformed header name (or whitespace before its colon)");
    const std::string_view value = TrimOws(line.substr(colon + 1));
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return Fail(400, "control character in a header value");
      }
    }
    request_.headers.emplace_back(Lower(name), std::string(value));
  }

  // Message framing (RFC 9112 section 6.3).
  int hosts = 0;
  bool has_length = false, has_te = false;
  std::vector<std::string> codings;
  uint64_t length = 0;
  std::string connection;
  for (const auto& [name, value] : request_.headers) {
    if (name == "host") {
      ++hosts;
    } else if (name == "content-length") {
      bool bad = false;
      bool any = false;
      ForEachListItem(value, [&](std::string_view item) {
        uint64_t n = 0;
        any = true;
        if (!ParseDecimal(item, n) || (has_length && n != length)) bad = true;
        length = n;
        has_length = true;
      });
      if (bad || !any) return Fail(400, "invalid or conflicting Content-Length");
    } else if (name == "transfer-encoding") {
      has_te = true;
      ForEachListItem(value, [&](std::string_view item) { codings.push_back(Lower(item)); });
    } else if (name == "connection") {
      connection += ",";
      connection += Lower(value);
    } else if (name == "expect") {
      if (Lower(value) == "100-continue") {
        request_.expects_continue = request_.version_minor == 1;
      } else {
        return Fail(417, "only Expect: 100-continue is understood");
      }
    }
  }
  if (request_.version_minor == 1 && hosts != 1) {
    return Fail(400, hosts == 0 ? "HTTP/1.1 request without Host" : "more than one Host");
  }
  bool close = false, keep_alive = false;
  ForEachListItem(connection, [&](std::string_view token) {
    if (token == "close") close = true;
    if (token == "keep-alive") keep_alive = true;
  });
  request_.keep_alive = request_.version_minor == 1 ? !close : (keep_alive && !close);

  if (has_te) {
    if (request_.version_minor == 0) return Fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (has_length) return Fail(400, "both Transfer-Encoding and Content-Length");
    if (codings.empty() || codings.back() != "chunked") {
      return Fail(400, "Transfer-Encoding must end with chunked");
    }
    if (codings.size() != 1) return Fail(501, "unsupported transfer coding");
    phase_ = Phase::kChunkSize;
    return state_ = State::kHeadersDone;
  }
  if (has_length && length > 0) {
    if (length > limits_.max_body_bytes) return Fail(413, "request body too large");
    request_.body.reserve(static_cast<size_t>(length));
    remaining_ = length;
    phase_ = Phase::kFixedBody;
    return state_ = State::kHeadersDone;
  }
  phase_ = Phase::kDone;
  return state_ = State::kDone;
}

Http1Parser::State Http1Parser::Feed(std::string_view data, size_t& consumed) {
  consumed = 0;
  if (state_ == State::kError || state_ == State::kDone) return state_;
  size_t pos = 0;
  while (pos < data.size() || phase_ == Phase::kDone) {
    switch (phase_) {
      case Phase::kHead: {
        // Empty lines before a request are ignored (RFC 9112 section 2.2).
        if (head_.empty()) {
          while (pos < data.size() && (data[pos] == '\r' || data[pos] == '\n')) ++pos;
          if (pos == data.size()) break;
        }
        started_ = true;
        const size_t old = head_.size();
        const size_t room = limits_.max_header_bytes + 4 - old;
        const size_t take = std::min(room, data.size() - pos);
        head_.append(data.data() + pos, take);
        const size_t end = head_.find("\r\n\r\n", old >= 3 ? old - 3 : 0);
        if (end == std::string::npos) {
          pos += take;
          if (head_.size() > limits_.max_header_bytes) {
            consumed = pos;
            return Fail(431, "request line and headers too large");
          }
          break;
        }
        pos += end + 4 - old;
        head_.resize(end + 2);
        const State s = ParseHead(head_);
        consumed = pos;
        if (s == State::kError || s == State::kHeadersDone) return s;
        continue;  // no body: kDone below
      }
      case Phase::kFixedBody: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - pos));
        request_.body.append(data.data() + pos, take);
        pos += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::kDone;
        continue;
      }
      case Phase::kChunkSize: {
        const int r = TakeLine(data, pos, 1024);
        if (r < 0) {
          consumed = pos;
          return state_;
        }
        if (r == 0) break;
        std::string_view line = line_;
        const size_t ext = line.find(';');
        if (ext != std::string_view::npos) line = line.substr(0, ext);
        line = TrimOws(line);
        if (line.empty() || line.size() > 15) {
          consumed = pos;
          return Fail(400, "malformed chunk size");
        }
        uint64_t size = 0;
        for (char c : line) {
          const int d = common::HexDigitValue(c);
          if (d < 0) {
            consumed = pos;
            return Fail(400, "malformed chunk size");
          }
          size = size * 16 + static_cast<uint64_t>(d);
        }
        line_.clear();
        if (size >
            limits_.max_body_bytes - std::min(limits_.max_body_bytes, request_.body.size())) {
          consumed = pos;
          return Fail(413, "request body too large");
        }
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailers : Phase::kChunkData;
        continue;
      }
      case Phase::kChunkData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - pos));
        request_.body.append(data.data() + pos, take);
        pos += take;
        remaining_ -= take;
        if (remaining_ == 0) phase_ = Phase::kChunkDataEnd;
        continue;
      }
      case Phase::kChunkDataEnd:
      case Phase::kTrailers: {
        const int r = TakeLine(data, pos, limits_.max_header_bytes);
        if (r < 0) {
          consumed = pos;
          return state_;
        }
        if (r == 0) break;
        const bool empty = line_.empty();
        trailer_bytes_ += line_.size() + 2;
        line_.clear();
        if (phase_ == Phase::kChunkDataEnd) {
          if (!empty) {
            consumed = pos;
            return Fail(400, "chunk data longer than its size");
          }
          phase_ = Phase::kChunkSize;
        } else if (empty) {
          phase_ = Phase::kDone;  // trailer fields are read and dropped
        } else if (trailer_bytes_ > limits_.max_header_bytes) {
          consumed = pos;
          return Fail(431, "trailers too large");
        }
        continue;
      }
      case Phase::kDone:
        consumed = pos;
        return state_ = State::kDone;
    }
    break;  // need more bytes
  }
  consumed = pos;
  return state_ = (phase_ == Phase::kDone ? State::kDone : State::kNeedMore);
}

}  // namespace dnsd::api
