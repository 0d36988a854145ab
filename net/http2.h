// HTTP/2 wire constants and small helpers (RFC 9113) shared by dnsd's gRPC server
// (grpc_transport) and client (grpc_client), plus the gRPC over HTTP/2 pieces both ends need:
// the 5-byte message prefix and grpc-message's percent encoding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dnsd::net::h2 {

// Frame types and flags (RFC 9113 6).
enum FrameType : uint8_t {
  kData = 0,
  kHeaders = 1,
  kPriority = 2,
  kRstStream = 3,
  kSettings = 4,
  kPushPromise = 5,
  kPing = 6,
  kGoaway = 7,
  kWindowUpdate = 8,
  kContinuation = 9,
};
inline constexpr uint8_t kEndStream = 0x1;
inline constexpr uint8_t kAck = 0x1;
inline constexpr uint8_t kEndHeaders = 0x4;
inline constexpr uint8_t kPadded = 0x8;
inline constexpr uint8_t kPriorityFlag = 0x20;

// SETTINGS identifiers (RFC 9113 6.5.2).
enum SettingId : uint16_t {
  kHeaderTableSize = 1,
  kEnablePush = 2,
  kMaxConcurrentStreams = 3,
  kInitialWindowSize = 4,
  kMaxFrameSizeSetting = 5,
  kMaxHeaderListSize = 6,
};

// Error codes (RFC 9113 7).
enum Error : uint32_t {
  kNoError = 0,
  kProtocolError = 1,
  kInternalError = 2,
  kFlowControlError = 3,
  kStreamClosed = 5,
  kFrameSizeError = 6,
  kRefusedStream = 7,
  kCancel = 8,
  kCompressionError = 9,
  kEnhanceYourCalm = 0xb,
};

inline constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
inline constexpr size_t kFrameHeader = 9;
inline constexpr uint32_t kDefaultMaxFrameSize = 16384;
inline constexpr uint32_t kLargestMaxFrameSize = (1u << 24) - 1;
inline constexpr int64_t kMaxWindow = 0x7fffffff;
inline constexpr int64_t kDefaultWindow = 65535;
// gRPC's message prefix: a compressed flag and a 4-byte big-endian length.
inline constexpr size_t kGrpcPrefix = 5;

inline uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}
// The 9-byte frame header.
inline void PutFrameHeader(uint8_t* header, size_t length, uint8_t type, uint8_t flags,
                           uint32_t stream_id) {
  header[0] = static_cast<uint8_t>(length >> 16);
  header[1] = static_cast<uint8_t>(length >> 8);
  header[2] = static_cast<uint8_t>(length);
  header[3] = type;
  header[4] = flags;
  PutBe32(header + 5, stream_id & 0x7fffffff);
}

// grpc-message is percent-encoded (gRPC over HTTP/2): printable ASCII but '%' as is, the
// rest as %XX. Encoding keeps the first 1 KB; decoding leaves a malformed escape as it is.
std::string PercentEncode(std::string_view s);
std::string PercentDecode(std::string_view s);

}  // namespace dnsd::net::h2
