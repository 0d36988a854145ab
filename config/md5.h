// MD5 (RFC 1321, computed by OpenSSL) as Nacos uses it: the lowercase hex digest of a config's
// UTF-8 bytes is the config's version tag, compared by clients on every poll. MD5 is not used for
// security here. Thread-safety: pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace dnsd::config {

std::array<uint8_t, 16> Md5(std::string_view data);
// 32 lowercase hex characters.
std::string Md5Hex(std::string_view data);

}  // namespace dnsd::config
