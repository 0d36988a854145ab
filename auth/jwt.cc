#include "auth/jwt.h"

#include <json/json.h>

#include <memory>

#include "common/crypto.h"
#include "common/strings.h"

namespace dnsd::auth {
namespace {

constexpr std::string_view kHeader = R"({"alg":"HS256"})";

std::string Signature(std::string_view key, std::string_view signing_input) {
  const auto mac = common::HmacSha256(key, signing_input);
  return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
}

absl::Status Invalid(std::string_view why) {
  return absl::UnauthenticatedError(common::StrCat("token invalid!: ", why));
}

// A JSON object, strictly parsed (no comments, no duplicate keys, nothing after it).
bool ParseObject(std::string_view text, Json::Value& out) {
  Json::CharReaderBuilder builder;
  Json::CharReaderBuilder::strictMode(&builder.settings_);
  const std::unique_ptr<Json::CharReader> reader(builder.newCharReader());
  std::string errors;
  return reader->parse(text.data(), text.data() + text.size(), &out, &errors) && out.isObject();
}

}  // namespace

std::string SignToken(std::string_view key, const TokenClaims& claims) {
  Json::Value payload(Json::objectValue);
  payload["sub"] = claims.subject;
  payload["exp"] = static_cast<Json::Int64>(claims.expires_at_s);
  Json::StreamWriterBuilder writer;
  writer["indentation"] = "";
  std::string input = common::StrCat(common::Base64UrlEncode(kHeader), ".",
                                     common::Base64UrlEncode(Json::writeString(writer, payload)));
  const std::string signature = common::Base64UrlEncode(Signature(key, input));
  return common::StrCat(input, ".", signature);
}

absl::StatusOr<TokenClaims> VerifyToken(std::string_view key, std::string_view token,
                                        int64_t now_s) {
  if (token.empty()) return Invalid("empty");
  if (token.size() > kMaxTokenBytes) return Invalid("too long");
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Invalid("not three dot-separated parts");
  }
  const std::string_view signing_input = token.substr(0, second);
  const auto signature = common::Base64UrlDecode(token.substr(second + 1));
  if (!signature) return Invalid("the signature is not base64url");
  // The signature is checked before anything the token says is believed or even parsed.
  if (!common::ConstantTimeEquals(*signature, Signature(key, signing_input))) {
    return Invalid("bad signature");
  }
  const auto header_text = common::Base64UrlDecode(token.substr(0, first));
  const auto payload_text = common::Base64UrlDecode(token.substr(first + 1, second - first - 1));
  Json::Value header, payload;
  if (!header_text || !ParseObject(*header_text, header)) return Invalid("bad header");
  if (!header["alg"].isString() || header["alg"].asString() != "HS256") {
    return Invalid("algorithm is not HS256");
  }
  if (header.isMember("crit")) return Invalid("unsupported critical header");
  if (!payload_text || !ParseObject(*payload_text, payload)) return Invalid("bad payload");
  const Json::Value& sub = payload["sub"];
  const Json::Value& exp = payload["exp"];
  if (!sub.isString() || sub.asString().empty()) return Invalid("no subject");
  // An integer as written (1.8e9 is a number, not NumericDate spelled as Nacos writes it).
  const bool integer =
      exp.type() == Json::intValue || (exp.type() == Json::uintValue && exp.isInt64());
  if (!integer) return Invalid("no expiry");
  TokenClaims claims;
  claims.subject = sub.asString();
  claims.expires_at_s = exp.asInt64();
  if (claims.expires_at_s <= now_s) return absl::UnauthenticatedError("token expired!");
  return claims;
}

}  // namespace dnsd::auth
