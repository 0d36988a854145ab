// TLS for dnsd's listeners (HTTP, Nacos gRPC, peer port), on OpenSSL: a server context built
// from PEM files, swapped whole on Reload (SIGHUP) so that new connections use the new
// certificate while open ones keep theirs, and nothing changes when the new files do not load.
// Optionally it asks every client for a certificate signed by a given CA (mutual TLS, the
// peer port's option). ALPN: the server picks the first of its protocols the client offers
// ("h2" for gRPC, which gRPC clients require; "http/1.1" for HTTP).
// Thread-safety: NewSsl and Reload from any thread.
#pragma once

#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dnsd::common {

struct TlsServerFiles {
  std::string cert_file;       // PEM: the certificate chain, leaf first
  std::string key_file;        // PEM: its private key
  std::string client_ca_file;  // PEM: when set, clients must present a certificate it signed
};

class TlsServerContext {
 public:
  static absl::StatusOr<std::shared_ptr<TlsServerContext>> Create(
      TlsServerFiles files, std::vector<std::string> alpn_protocols);
  ~TlsServerContext();

  // A new server-side SSL object for one accepted connection, or nullptr.
  SSL* NewSsl();
  // Loads the files again; on failure the current certificate stays and the error says why.
  absl::Status Reload();
  const TlsServerFiles& files() const { return files_; }

 private:
  TlsServerContext(TlsServerFiles files, std::vector<std::string> alpn_protocols);
  absl::StatusOr<SSL_CTX*> Build() const;

  const TlsServerFiles files_;
  std::string alpn_wire_;  // protocols in ALPN wire format: length-prefixed names
  std::mutex mu_;
  SSL_CTX* current_ = nullptr;
};

// The bufferevent for an accepted connection `fd`: plain, or TLS (server side, the handshake
// run inside it) when `tls` is set; clients closing without a close_notify are accepted (the
// norm, not an attack). nullptr on failure (the caller closes `fd`).
bufferevent* NewServerBufferevent(event_base* base, int fd, TlsServerContext* tls);

// OpenSSL's queued error messages, joined (and the queue cleared); "" when there are none.
std::string TakeOpenSslErrors();

}  // namespace dnsd::common
