// A DNS responder that does no DNS work: it answers every query with its own question and a
// fixed set of A records, read and written with the same blocking recvmmsg/sendmmsg loop as
// dnsd's UDP worker. bench/dns/run.sh measures it beside the real servers to show what the
// kernel's UDP path and the benchmark's wake-up pattern cost on this machine by themselves:
// no server can use less CPU per query than this.
//
//   floor_responder <port> [answers]   (127.0.0.1; prints "ready" once bound)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int kBatch = 32;
constexpr size_t kIn = 512;
constexpr size_t kOut = 1232;

// Header, question copied from the query, then `answers` A records whose owner points at the
// question name. Returns 0 for packets that are too short to answer.
size_t Respond(const uint8_t* in, size_t size, uint8_t* out, int answers) {
  if (size < 17) return 0;
  size_t question_end = 12;
  while (question_end < size && in[question_end] != 0) question_end += in[question_end] + 1u;
  question_end += 5;  // root label, type, class
  if (question_end > size || question_end + 16u * static_cast<size_t>(answers) > kOut) return 0;
  std::memcpy(out, in, question_end);
  out[2] = static_cast<uint8_t>(0x84 | (in[2] & 0x01));  // QR, AA, RD as asked
  out[3] = 0;
  out[6] = 0;
  out[7] = static_cast<uint8_t>(answers);
  std::memset(out + 8, 0, 4);  // no authority or additional records (the query's OPT is dropped)
  uint8_t* p = out + question_end;
  for (int i = 0; i < answers; ++i) {
    static const uint8_t kRecord[16] = {0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1};
    std::memcpy(p, kRecord, sizeof(kRecord));
    p[15] = static_cast<uint8_t>(i + 1);
    p += sizeof(kRecord);
  }
  return static_cast<size_t>(p - out);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: floor_responder <port> [answers]\n");
    return 2;
  }
  const int answers = argc > 2 ? std::atoi(argv[2]) : 3;
  if (answers < 0 || answers > 60) {
    std::fprintf(stderr, "answers must be 0-60\n");
    return 2;
  }
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) {
    std::perror("socket");
    return 1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(argv[1])));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // DF without path-MTU state, as dnsd sends.
  const int probe = IP_PMTUDISC_PROBE;
  setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &probe, sizeof(probe));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    std::perror("bind");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);

  static uint8_t in[kBatch][kIn];
  static uint8_t out[kBatch][kOut];
  sockaddr_in peers[kBatch];
  iovec in_iov[kBatch], out_iov[kBatch];
  mmsghdr in_msgs[kBatch], out_msgs[kBatch];
  std::memset(in_msgs, 0, sizeof(in_msgs));
  std::memset(out_msgs, 0, sizeof(out_msgs));
  for (int i = 0; i < kBatch; ++i) {
    in_iov[i] = {in[i], kIn};
    in_msgs[i].msg_hdr.msg_name = &peers[i];
    in_msgs[i].msg_hdr.msg_iov = &in_iov[i];
    in_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  for (;;) {
    for (auto& m : in_msgs) m.msg_hdr.msg_namelen = sizeof(sockaddr_in);
    const int n = recvmmsg(fd, in_msgs, kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    int responses = 0;
    for (int i = 0; i < n; ++i) {
      const size_t size = Respond(in[i], in_msgs[i].msg_len, out[responses], answers);
      if (size == 0) continue;
      out_iov[responses] = {out[responses], size};
      out_msgs[responses].msg_hdr.msg_name = &peers[i];
      out_msgs[responses].msg_hdr.msg_namelen = in_msgs[i].msg_hdr.msg_namelen;
      out_msgs[responses].msg_hdr.msg_iov = &out_iov[responses];
      out_msgs[responses].msg_hdr.msg_iovlen = 1;
      ++responses;
    }
    for (int sent = 0; sent < responses;) {
      const int r = sendmmsg(fd, out_msgs + sent, static_cast<unsigned>(responses - sent), 0);
      if (r <= 0) break;
      sent += r;
    }
  }
}
