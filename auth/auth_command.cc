// Layout (version 1): u8 version, u8 op, then the strings username, password_hash, role,
// resource, action (each length-prefixed, common/byte_codec.h).
#include "auth/auth_command.h"

#include "common/byte_codec.h"
#include "common/status_macros.h"

namespace dnsd::auth {
namespace {
constexpr uint8_t kVersion = 1;
}

std::string EncodeAuthCommand(const AuthCommand& c) {
  common::ByteWriter w;
  w.PutU8(kVersion);
  w.PutU8(static_cast<uint8_t>(c.op));
  w.PutString(c.username);
  w.PutString(c.password_hash);
  w.PutString(c.role);
  w.PutString(c.resource);
  w.PutString(c.action);
  return w.Take();
}

absl::StatusOr<AuthCommand> DecodeAuthCommand(std::string_view bytes) {
  common::ByteReader r(bytes);
  uint8_t version = 0, op = 0;
  DNSD_RETURN_IF_ERROR(r.GetU8(version));
  if (version != kVersion) return absl::DataLossError("unknown auth command version");
  DNSD_RETURN_IF_ERROR(r.GetU8(op));
  if (op < static_cast<uint8_t>(AuthOp::kCreateUser) ||
      op > static_cast<uint8_t>(AuthOp::kCreateAdmin)) {
    return absl::DataLossError("unknown auth command");
  }
  AuthCommand c;
  c.op = static_cast<AuthOp>(op);
  DNSD_RETURN_IF_ERROR(r.GetString(c.username));
  DNSD_RETURN_IF_ERROR(r.GetString(c.password_hash));
  DNSD_RETURN_IF_ERROR(r.GetString(c.role));
  DNSD_RETURN_IF_ERROR(r.GetString(c.resource));
  DNSD_RETURN_IF_ERROR(r.GetString(c.action));
  if (!r.AtEnd()) return absl::DataLossError("trailing bytes after an auth command");
  return c;
}

}  // namespace dnsd::auth
