// The TLS contexts of a server's three ports, built from [tls] (see DaemonConfig): HTTP with
// ALPN http/1.1, Nacos gRPC with h2, and for a cluster member the peer port with h2 and
// mutual TLS against tls.ca_file, plus the PEM its peer clients present and trust.
// Reload (on SIGHUP) reads every certificate again; a context whose files do not load keeps
// its old certificate. Peer clients keep the credentials they started with until restart.
// Thread-safety: build at start-up; Reload from any thread.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "common/tls.h"
#include "dnsd/daemon_config.h"
#include "node/peer_client.h"

namespace dnsd {

struct ServerTls {
  std::shared_ptr<common::TlsServerContext> http;
  std::shared_ptr<common::TlsServerContext> grpc;
  std::shared_ptr<common::TlsServerContext> peer;
  node::PeerTlsCredentials peer_client;

  void Reload() const;
};

absl::StatusOr<ServerTls> MakeServerTls(const DaemonConfig& config, bool clustered);

}  // namespace dnsd
