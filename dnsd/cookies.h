// DNS Cookies (RFC 7873) with the interoperable server cookie of RFC 9018: a client that sent
// a client cookie gets back its client cookie and a server cookie made of version 1, three
// reserved bytes, the time (seconds, 32 bits) and SipHash-2-4 over the client cookie, those 8
// bytes and the client's IP address, keyed with this server's secret. A query that returns a
// server cookie we made, for its address, within the last hour (and not more than five
// minutes ahead of our clock) proves that the client sees our answers at that address: rate
// limiting lets it through, as BIND does. Cookies never refuse an answer here (no BADCOOKIE):
// a query without one, or with a stale one, is answered as usual with a fresh cookie.
//
// Thread-safety: const after construction.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>

namespace dnsd::dns {

// SipHash-2-4 (Aumasson and Bernstein) of `data` with a 128-bit key.
uint64_t SipHash24(const uint8_t key[16], const uint8_t* data, size_t size);

class DnsCookies {
 public:
  DnsCookies();  // a random secret
  explicit DnsCookies(const uint8_t secret[16]);

  static constexpr size_t kServerCookieSize = 16;
  // The server cookie for `client_cookie` (8 bytes) from `client` at `now_s` (Unix seconds).
  void Make(const uint8_t* client_cookie, const sockaddr_storage& client, uint32_t now_s,
            uint8_t out[kServerCookieSize]) const;
  // Whether `server_cookie` (of `size` bytes) is one Make gave this client recently.
  bool Valid(const uint8_t* client_cookie, const uint8_t* server_cookie, size_t size,
             const sockaddr_storage& client, uint32_t now_s) const;

 private:
  uint8_t secret_[16];
};

}  // namespace dnsd::dns
