// libFuzzer target for the HTTP/1.1 request parser and the form/query decoding behind every
// parameter. Properties checked beyond "no crash": a request read in one piece and the same
// bytes read in pieces of every size the input chooses give the same outcome (state, method,
// target, headers, body), and the parser never claims more bytes than it was given.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/http1_parser.h"
#include "api/http_types.h"

namespace {

struct Outcome {
  dnsd::api::Http1Parser::State state;
  size_t consumed;
  int error_status;
  std::string summary;
};

Outcome Run(std::string_view bytes, size_t step) {
  dnsd::api::Http1Limits limits;
  limits.max_header_bytes = 2048;
  limits.max_body_bytes = 4096;
  dnsd::api::Http1Parser parser(limits);
  size_t pos = 0;
  auto state = dnsd::api::Http1Parser::State::kNeedMore;
  while (pos < bytes.size()) {
    const size_t n = std::min(step, bytes.size() - pos);
    size_t consumed = 0;
    state = parser.Feed(bytes.substr(pos, n), consumed);
    if (consumed > n) std::abort();
    pos += consumed;
    if (state == dnsd::api::Http1Parser::State::kDone ||
        state == dnsd::api::Http1Parser::State::kError) {
      break;
    }
    if (consumed == 0 && state == dnsd::api::Http1Parser::State::kNeedMore) break;
  }
  Outcome out{state, pos, parser.error_status(), {}};
  if (state == dnsd::api::Http1Parser::State::kDone) {
    const auto& r = parser.request();
    out.summary = r.method + " " + r.target + " " + std::to_string(r.version_minor) + " ";
    for (const auto& [name, value] : r.headers) out.summary += name + ":" + value + "\n";
    out.summary += r.body;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t step = 1 + data[0] % 17;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const Outcome whole = Run(bytes, bytes.size() + 1);
  const Outcome pieces = Run(bytes, step);
  // Errors may be found at different points (a limit crossed mid-piece), but success and the
  // request read must not depend on how the bytes arrived.
  const bool whole_done = whole.state == dnsd::api::Http1Parser::State::kDone;
  const bool pieces_done = pieces.state == dnsd::api::Http1Parser::State::kDone;
  if (whole_done != pieces_done) std::abort();
  if (whole_done && (whole.summary != pieces.summary || whole.consumed != pieces.consumed)) {
    std::abort();
  }
  // Parameters: query strings and form bodies.
  dnsd::api::Params params;
  dnsd::api::ParseFormInto(bytes, params);
  const std::string decoded = dnsd::api::UrlDecode(bytes);
  if (decoded.size() > bytes.size()) std::abort();
  dnsd::api::Params round;
  dnsd::api::ParseFormInto("k=" + dnsd::api::UrlEncode(decoded), round);
  if (round.Get("k") != decoded) std::abort();
  return 0;
}
