#include "api/http1_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace dnsd::api {
namespace {

using State = Http1Parser::State;

// Feeds `bytes` in pieces of `step` bytes (0: all at once); returns the final state.
State FeedAll(Http1Parser& parser, std::string_view bytes, size_t step = 0,
              size_t* total_consumed = nullptr) {
  size_t pos = 0;
  State state = State::kNeedMore;
  while (pos < bytes.size()) {
    const size_t n = step == 0 ? bytes.size() - pos : std::min(step, bytes.size() - pos);
    size_t consumed = 0;
    state = parser.Feed(bytes.substr(pos, n), consumed);
    pos += consumed;
    if (state == State::kDone || state == State::kError) break;
    // A parser that needs more bytes takes every byte it is given.
    EXPECT_TRUE(consumed == n || state == State::kHeadersDone) << consumed << " of " << n;
    if (consumed == 0 && state == State::kNeedMore) break;
  }
  if (total_consumed) *total_consumed = pos;
  return state;
}

State Parse(std::string_view bytes, Http1Parser& parser) { return FeedAll(parser, bytes); }

int ErrorOf(std::string_view bytes) {
  Http1Parser parser({});
  const State s = FeedAll(parser, bytes);
  return s == State::kError ? parser.error_status() : 0;
}

TEST(Http1ParserTest, SimpleGet) {
  Http1Parser parser({});
  ASSERT_EQ(Parse("GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Thing:  v  \r\n\r\n", parser), State::kDone);
  const auto& r = parser.request();
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/a?b=c");
  EXPECT_EQ(r.Header("x-thing"), "v");
  EXPECT_TRUE(r.keep_alive);
  EXPECT_TRUE(r.body.empty());
}

TEST(Http1ParserTest, EverySplitPointGivesTheSameRequest) {
  const std::string fixed = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world";
  const std::string chunked =
      "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\n";
  for (const std::string& message : {fixed, chunked}) {
    for (size_t step = 1; step <= message.size(); ++step) {
      Http1Parser parser({});
      size_t consumed = 0;
      ASSERT_EQ(FeedAll(parser, message, step, &consumed), State::kDone) << step;
      EXPECT_EQ(consumed, message.size());
      EXPECT_EQ(parser.request().body, "hello world") << step;
    }
  }
}

TEST(Http1ParserTest, PipelinedRequestsAreReadOneAtATime) {
  const std::string first = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string second = "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok";
  Http1Parser parser({});
  size_t consumed = 0;
  ASSERT_EQ(parser.Feed(first + second, consumed), State::kDone);
  EXPECT_EQ(consumed, first.size());
  EXPECT_EQ(parser.request().target, "/1");
  parser.Reset();
  ASSERT_EQ(FeedAll(parser, second), State::kDone);
  EXPECT_EQ(parser.request().target, "/2");
  EXPECT_EQ(parser.request().body, "ok");
}

TEST(Http1ParserTest, AmbiguousFramingIsRefused) {
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"),
            400);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 6\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n"), 400);
  EXPECT_EQ(
      ErrorOf(
          "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
      400);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"), 501);
  EXPECT_EQ(ErrorOf("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost : h\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01\r\n\r\n"), 400);
  // Identical repeated values are one length (RFC 9110 section 8.6).
  EXPECT_EQ(
      ErrorOf("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok"), 0);
}

TEST(Http1ParserTest, RequestLineAndHostRules) {
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.0\r\n\r\n"), 0);
  EXPECT_EQ(ErrorOf("GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
  EXPECT_EQ(ErrorOf("GET / HTTX/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
  EXPECT_EQ(ErrorOf("GET / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n"), 417);
  EXPECT_EQ(ErrorOf("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"), 0) << "leading blank lines";
}

TEST(Http1ParserTest, LimitsAreEnforced) {
  Http1Limits limits;
  limits.max_header_bytes = 100;
  limits.max_body_bytes = 10;
  limits.max_headers = 2;
  auto error = [&](std::string_view bytes, size_t step = 0) {
    Http1Parser parser(limits);
    return FeedAll(parser, bytes, step) == State::kError ? parser.error_status() : 0;
  };
  EXPECT_EQ(error("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'a') + "\r\n\r\n"), 431);
  EXPECT_EQ(error("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(200, 'a'), 7), 431)
      << "refused before the end of the headers arrives";
  EXPECT_EQ(error("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"), 431);
  EXPECT_EQ(error("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"), 413);
  EXPECT_EQ(
      error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n"
            "8\r\n12345678\r\n0\r\n\r\n"),
      413);
  EXPECT_EQ(error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "fffffffffffffffff\r\n"),
            400);
  EXPECT_EQ(error("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n"),
            400);
}

TEST(Http1ParserTest, ConnectionAndExpect) {
  Http1Parser parser({});
  size_t consumed = 0;
  ASSERT_EQ(
      parser.Feed("POST / HTTP/1.1\r\nHost: h\r\nConnection: Close\r\nExpect: 100-continue\r\n"
                  "Content-Length: 1\r\n\r\n",
                  consumed),
      State::kHeadersDone);
  EXPECT_TRUE(parser.request().expects_continue);
  EXPECT_FALSE(parser.request().keep_alive);
  ASSERT_EQ(parser.Feed("x", consumed), State::kDone);

  Http1Parser old({});
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\n\r\n", old), State::kDone);
  EXPECT_FALSE(old.request().keep_alive);
  Http1Parser old_keep({});
  ASSERT_EQ(Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", old_keep), State::kDone);
  EXPECT_TRUE(old_keep.request().keep_alive);
}

}  // namespace
}  // namespace dnsd::api
