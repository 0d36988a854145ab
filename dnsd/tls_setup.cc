#include "dnsd/tls_setup.h"

#include "common/files.h"
#include "common/strings.h"
#include "spdlog/spdlog.h"

namespace dnsd {
absl::StatusOr<ServerTls> MakeServerTls(const DaemonConfig& config, bool clustered) {
  ServerTls tls;
  if (config.tls_cert_file.empty()) return tls;
  common::TlsServerFiles files{config.tls_cert_file, config.tls_key_file, ""};
  if (config.tls_http) {
    auto made = common::TlsServerContext::Create(files, {"http/1.1"});
    if (!made.ok()) return made.status();
    tls.http = *std::move(made);
  }
  if (config.tls_grpc) {
    auto made = common::TlsServerContext::Create(files, {"h2"});
    if (!made.ok()) return made.status();
    tls.grpc = *std::move(made);
  }
  if (clustered && config.tls_peer) {
    if (config.tls_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "TLS on the peer port needs tls.ca_file: the CA that signed every member's "
          "certificate (members verify each other with it)");
    }
    files.client_ca_file = config.tls_ca_file;
    auto made = common::TlsServerContext::Create(files, {"h2"});
    if (!made.ok()) return made.status();
    tls.peer = *std::move(made);
    auto ca = common::ReadFileToString(config.tls_ca_file, "tls.ca_file");
    auto cert = common::ReadFileToString(config.tls_cert_file, "tls.cert_file");
    auto key = common::ReadFileToString(config.tls_key_file, "tls.key_file");
    for (const auto* s : {&ca, &cert, &key}) {
      if (!s->ok()) return s->status();
    }
    tls.peer_client = {*ca, *cert, *key};
  }
  return tls;
}

void ServerTls::Reload() const {
  for (const auto& [name, context] : {std::pair{"HTTP", http.get()}, std::pair{"gRPC", grpc.get()},
                                      std::pair{"peer", peer.get()}}) {
    if (context == nullptr) continue;
    if (auto s = context->Reload(); !s.ok()) {
      spdlog::error("TLS ({} port): kept the old certificate: {}", name,
                    common::ToStd(s.message()));
    } else {
      spdlog::info("TLS ({} port): certificate reloaded from {}", name, context->files().cert_file);
    }
  }
}

}  // namespace dnsd
