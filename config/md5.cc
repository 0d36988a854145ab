// The digest comes from OpenSSL (common/crypto.h); this file keeps the config module's name for
// what MD5 means to Nacos.
#include "config/md5.h"

#include "common/crypto.h"

namespace dnsd::config {

std::array<uint8_t, 16> Md5(std::string_view data) { return common::Md5Digest(data); }

std::string Md5Hex(std::string_view data) { return common::HexLower(common::Md5Digest(data)); }

}  // namespace dnsd::config
