#include "common/tls.h"

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "common/strings.h"

namespace dnsd::common {
namespace {

int SelectAlpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
               unsigned int in_len, void* arg) {
  const auto* ours = static_cast<const std::string*>(arg);
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(
          &selected, out_len, reinterpret_cast<const unsigned char*>(ours->data()),
          static_cast<unsigned int>(ours->size()), in, in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;  // no protocol in common: go on without ALPN
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out;
}

TlsServerContext::TlsServerContext(TlsServerFiles files, std::vector<std::string> alpn_protocols)
    : files_(std::move(files)) {
  for (const auto& p : alpn_protocols) {
    alpn_wire_.push_back(static_cast<char>(p.size()));
    alpn_wire_ += p;
  }
}

TlsServerContext::~TlsServerContext() {
  if (current_ != nullptr) SSL_CTX_free(current_);
}

absl::StatusOr<std::shared_ptr<TlsServerContext>> TlsServerContext::Create(
    TlsServerFiles files, std::vector<std::string> alpn_protocols) {
  std::shared_ptr<TlsServerContext> context(
      new TlsServerContext(std::move(files), std::move(alpn_protocols)));
  if (auto s = context->Reload(); !s.ok()) return s;
  return context;
}

absl::StatusOr<SSL_CTX*> TlsServerContext::Build() const {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return absl::InternalError("SSL_CTX_new failed: " + TakeOpenSslErrors());
  auto fail = [&](std::string_view what) -> absl::Status {
    const std::string errors = TakeOpenSslErrors();
    SSL_CTX_free(ctx);
    return absl::InvalidArgumentError(StrCat(what, errors.empty() ? "" : ": ", errors));
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // No renegotiation and no session tickets: nothing to rotate, nothing kept per client.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
  if (SSL_CTX_use_certificate_chain_file(ctx, files_.cert_file.c_str()) != 1) {
    return fail(StrCat("cannot load the TLS certificate chain ", files_.cert_file));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files_.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(StrCat("cannot load the TLS private key ", files_.key_file));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return fail(StrCat("the TLS key ", files_.key_file, " does not match the certificate ",
                       files_.cert_file));
  }
  if (!files_.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files_.client_ca_file.c_str(), nullptr) != 1) {
      return fail(StrCat("cannot load the client CA ", files_.client_ca_file));
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  if (!alpn_wire_.empty()) {
    SSL_CTX_set_alpn_select_cb(ctx, &SelectAlpn, const_cast<std::string*>(&alpn_wire_));
  }
  return ctx;
}

absl::Status TlsServerContext::Reload() {
  auto built = Build();
  if (!built.ok()) return built.status();
  std::lock_guard lock(mu_);
  if (current_ != nullptr) SSL_CTX_free(current_);  // open connections hold their own reference
  current_ = *built;
  return absl::OkStatus();
}

bufferevent* NewServerBufferevent(event_base* base, int fd, TlsServerContext* tls) {
  if (tls == nullptr) return bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
  SSL* ssl = tls->NewSsl();
  if (ssl == nullptr) return nullptr;
  bufferevent* bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                                    BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    SSL_free(ssl);
    return nullptr;
  }
  bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
  return bev;
}

SSL* TlsServerContext::NewSsl() {
  std::lock_guard lock(mu_);
  return current_ == nullptr ? nullptr : SSL_new(current_);
}

}  // namespace dnsd::common
