#include "api/config_http_api.h"

#include <algorithm>
#include <ctime>
#include <random>

#include "api/json_writer.h"
#include "api/request_parsing.h"
#include "common/strings.h"
#include "node/log_entries.h"

namespace dnsd::api {

using config::ConfigCommand;
using config::ConfigCommandType;
using config::ConfigItem;
using config::ConfigKey;
using config::HistoryEntry;

namespace {

constexpr char kWordSeparator = '\x02';
constexpr char kLineSeparator = '\x01';
constexpr size_t kMaxListenedKeys = 10'000;
constexpr int64_t kMinHoldMs = 10'000;
constexpr int64_t kHoldMarginMs = 500;
constexpr int kMaxSearchPageSize = 1000;
constexpr int kMaxHistoryPageSize = 500;

#define API_TRY(v, resp, lhs, expr) \
  auto lhs = (expr);                \
  if (!lhs.ok()) {                  \
    Reject(v, resp, lhs.status());  \
    return;                         \
  }

// "Sat, 21 Nov 2026 21:30:42 GMT". Gets of configs written in the same second share the
// text, so each thread keeps the last one it formatted.
std::string HttpDate(int64_t ms) {
  thread_local time_t formatted_secs = -1;
  thread_local std::string formatted;
  const time_t secs = static_cast<time_t>(ms / 1000);
  if (secs != formatted_secs) {
    struct tm tm;
    gmtime_r(&secs, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    formatted = buf;
    formatted_secs = secs;
  }
  return formatted;
}

// "2026-11-21T21:30:42.123+0000", the history timestamp format.
std::string NacosTime(int64_t ms) {
  const time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  const size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof(buf) - n, ".%03d+0000", static_cast<int>(ms % 1000));
  return buf;
}

std::string ContentTypeOf(std::string_view type) {
  if (type == "json") return "application/json;charset=UTF-8";
  if (type == "xml") return "application/xml;charset=UTF-8";
  if (type == "html") return "text/html;charset=UTF-8";
  return "text/plain;charset=UTF-8";
}

void AddNoCacheHeaders(HttpResponse& r) {
  r.headers.emplace_back("Pragma", "no-cache");
  r.headers.emplace_back("Expires", "0");
  r.headers.emplace_back("Cache-Control", "no-cache,no-store");
}

std::string Param(const Params& params, std::initializer_list<std::string_view> names) {
  return ParamAny(params, names).value_or("");
}

// A publish or remove of `key` on behalf of the HTTP client (its address and src_user).
ConfigCommand WriteCommand(ConfigCommandType type, const ConfigKey& key, const HttpRequest& req) {
  ConfigCommand c;
  c.type = type;
  c.key = key;
  c.src_ip = req.remote_ip;
  // With auth on, the history names the authenticated user, not what the client claims.
  c.src_user = req.principal.empty() ? Param(req.params, {"src_user", "srcUser"}) : req.principal;
  return c;
}

absl::StatusOr<int> PageParam(const Params& params, std::string_view name, int fallback, int max) {
  auto value = IntParam(params, name, fallback);
  if (!value.ok()) return value.status();
  if (*value < 1 || *value > max) {
    return InvalidParam(kParameterValidateError,
                        common::StrCat(name, " must be between 1 and ", max));
  }
  return static_cast<int>(*value);
}

void WriteConfigInfo(JsonWriter& w, const ConfigItem& item, bool with_content) {
  w.Key("id").String(common::StrCat(item.id));
  w.Key("dataId").String(item.key.data_id);
  w.Key("group").String(item.key.group);
  if (with_content) w.Key("content").String(item.content);
  w.Key("md5").String(item.md5);
  w.Key("encryptedDataKey").String(item.encrypted_data_key);
  w.Key("tenant").String(item.key.tenant);
  w.Key("appName").String(item.app_name);
  w.Key("type").String(item.type);
}

std::string ConfigAllInfoJson(const ConfigItem& item) {
  JsonWriter w;
  w.BeginObject();
  WriteConfigInfo(w, item, true);
  w.Key("createTime").Int(item.create_time_ms);
  w.Key("modifyTime").Int(item.modify_time_ms);
  w.Key("createUser").String(item.create_user);
  w.Key("createIp").String(item.create_ip);
  w.Key("desc").String(item.description);
  w.Key("use").String(item.use);
  w.Key("effect").String(item.effect);
  w.Key("schema").String(item.schema);
  w.Key("configTags").String(item.tags);
  w.EndObject();
  return w.Take();
}

void WriteHistory(JsonWriter& w, const HistoryEntry& h) {
  w.BeginObject();
  w.Key("id").String(common::StrCat(h.id));
  w.Key("lastId").Int(-1);
  w.Key("dataId").String(h.key.data_id);
  w.Key("group").String(h.key.group);
  w.Key("tenant").String(h.key.tenant);
  w.Key("appName").String(h.app_name);
  w.Key("md5").String(h.md5);
  w.Key("content").String(h.content);
  w.Key("srcIp").String(h.src_ip);
  w.Key("srcUser").String(h.src_user);
  w.Key("opType").String(std::string(1, h.op_type));
  w.Key("publishType").String("formal");
  w.Key("grayName").String("");
  w.Key("extInfo").String("");
  w.Key("createdTime").String(NacosTime(h.created_time_ms));
  w.Key("lastModifiedTime").String(NacosTime(h.modified_time_ms));
  w.Key("encryptedDataKey").String(h.encrypted_data_key);
  w.EndObject();
}

}  // namespace

absl::StatusOr<std::vector<config::ListenerIndex::Interest>> ParseListeningConfigs(
    std::string_view text) {
  std::vector<config::ListenerIndex::Interest> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(kLineSeparator, start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view record = text.substr(start, end - start);
    start = end + 1;
    if (record.empty()) continue;
    const auto fields = common::Split(record, kWordSeparator, /*skip_empty=*/false);
    if (fields.size() < 3 || fields.size() > 4) {
      return InvalidParam(kParameterValidateError,
                          "Listening-Configs: a record needs dataId, group, md5 and an optional "
                          "tenant separated by %02");
    }
    if (out.size() == kMaxListenedKeys) {
      return InvalidParam(kParameterValidateError,
                          common::StrCat("Listening-Configs: more than ", kMaxListenedKeys,
                                         " configs in one request"));
    }
    config::ListenerIndex::Interest interest;
    interest.key.data_id = std::string(fields[0]);
    interest.key.group = std::string(fields[1]);
    interest.md5 = std::string(fields[2]);
    if (fields.size() == 4) interest.key.tenant = config::NormalizeTenant(fields[3]);
    out.push_back(std::move(interest));
  }
  return out;
}

namespace {

HttpResponse ChangedKeysResponse(const std::vector<ConfigKey>& changed) {
  std::string plain;
  for (const auto& key : changed) {
    common::StrAppend(&plain, key.data_id, std::string_view(&kWordSeparator, 1), key.group);
    if (!key.tenant.empty()) {
      common::StrAppend(&plain, std::string_view(&kWordSeparator, 1), key.tenant);
    }
    plain += kLineSeparator;
  }
  HttpResponse r = HttpResponse::Text(200, changed.empty() ? "" : UrlEncode(plain) + "\n");
  r.content_type = "text/html;charset=UTF-8";
  AddNoCacheHeaders(r);
  return r;
}

std::string NormalizeNamespaceId(std::string_view id) {
  return config::NamespaceIdOfTenant(config::NormalizeTenant(id));
}

absl::Status ValidateNamespaceInput(std::string_view id, std::string_view name) {
  if (id.size() > config::kMaxTenantLength) {
    return InvalidParam(kIllegalNamespace, "namespaceId is longer than 128 characters");
  }
  for (char c : id) {
    if (!common::IsAlnum(c) && c != '_' && c != '-') {
      return InvalidParam(
          kIllegalNamespace,
          common::StrCat("namespaceId '", id, "' may only contain letters, digits, '_' and '-'"));
    }
  }
  if (name.empty()) return MissingParam("namespaceName");
  if (name.find_first_of("@#$%^&*") != std::string_view::npos) {
    return InvalidParam(kIllegalNamespace,
                        common::StrCat("namespaceName '", name, "' contains one of @#$%^&*"));
  }
  return absl::OkStatus();
}

std::string RandomNamespaceId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

}  // namespace

ConfigHttpApi::ConfigHttpApi(config::ConfigStore& store, const registry::Registry& registry,
                             node::Proposer& proposer, common::EventLoop& notify_loop,
                             const common::Clock& clock, common::MetricsRegistry& metrics,
                             ConfigApiOptions options)
    : store_(store),
      registry_(registry),
      proposer_(proposer),
      notify_loop_(notify_loop),
      clock_(clock),
      metrics_(metrics),
      options_(options),
      published_(metrics.GetCounter("dnsd_config_publishes_total",
                                    "Config publishes applied (including CAS failures)")),
      long_polls_(metrics.GetCounter("dnsd_config_long_polls_total", "Long polls parked")),
      long_polls_answered_early_(metrics.GetCounter("dnsd_config_long_polls_changed_total",
                                                    "Long polls answered with changed configs")) {
  metrics.AddGauge("dnsd_config_listeners", "Long polls currently parked",
                   [this] { return static_cast<double>(listeners_.size()); });
  metrics.AddGauge("dnsd_config_configs", "Configs stored",
                   [this] { return static_cast<double>(store_.config_count()); });
  store_.AddListener([this](const config::ConfigChange& change) {
    notify_loop_.Post([this, key = change.key] { listeners_.Notify(key); });
  });
}

void ConfigHttpApi::Reject(ApiVersion v, Resp resp, const absl::Status& status) {
  resp.Send(CountedErrorResponse(metrics_, v, status));
}

absl::StatusOr<ConfigKey> ConfigHttpApi::KeyFrom(ApiVersion v, const Params& params) const {
  const auto data_id = ParamAny(params, {"dataId"});
  if (!data_id || common::Trim(*data_id).empty()) return MissingParam("dataId");
  ConfigKey key =
      config::MakeConfigKey(*data_id, Param(params, {"group"}),
                            v == ApiVersion::kV2 ? Param(params, {"namespaceId", "tenant"})
                                                 : Param(params, {"tenant", "namespaceId"}));
  // Nacos tells a bad tenant (20001) from other bad parameters (20002).
  if (auto s = config::ValidateTenant(key.tenant); !s.ok()) {
    return InvalidParam(kTenantParamError, std::string(s.message()));
  }
  if (auto s = config::ValidateKey(key); !s.ok()) {
    return InvalidParam(kParameterValidateError, std::string(s.message()));
  }
  return key;
}

void ConfigHttpApi::Propose(ApiVersion v, ConfigCommand command, Resp resp,
                            std::function<HttpResponse()> on_success) {
  command.timestamp_ms = clock_.NowMs();
  if (auto s = store_.Precheck(command); !s.ok()) return Reject(v, resp, s);
  const bool is_publish = command.type == ConfigCommandType::kPublish;
  DeferredReply reply = resp.Defer();
  proposer_.Propose(
      node::ConfigLogEntry(command),
      [this, reply, v, is_publish, on_success = std::move(on_success)](absl::Status s) {
        if (is_publish) published_.Inc();
        reply.Send(s.ok() ? on_success() : CountedErrorResponse(metrics_, v, s));
      });
}

// ---------------------------------------------------------------- configs

void ConfigHttpApi::Configs(ApiVersion v, Req req, Resp resp) {
  switch (req.method) {
    case Method::kGet:
      if (v == ApiVersion::kV1 && req.params.Has("search")) return SearchConfigs(req, resp);
      if (v == ApiVersion::kV1 && req.params.Get("show") == "all") {
        return GetConfigDetail(req, resp);
      }
      return GetConfig(v, req, resp);
    case Method::kPost:
      return PublishConfig(v, req, resp);
    case Method::kDelete:
      if (v == ApiVersion::kV1 && req.params.Get("delType") == "ids") {
        return RemoveConfigsById(req, resp);
      }
      return RemoveConfig(v, req, resp);
    default:
      resp.Send(HttpResponse::Text(405, "method not allowed"));
  }
}

void ConfigHttpApi::GetConfig(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, KeyFrom(v, req.params));
  // Gray releases by tag are not kept, so a tagged read finds nothing, as in Nacos when no
  // tagged version exists.
  const bool tagged = !Param(req.params, {"tag"}).empty();
  // dnsd's extension: consistency=linearizable reads after Raft's ReadIndex, so the
  // answer holds every write acknowledged before the read, through any node. The default
  // (local) answers from this node's state at once, as Nacos does.
  const std::string consistency = Param(req.params, {"consistency"});
  if (consistency.empty() || consistency == "local") {
    return resp.Send(ConfigReadResponse(v, *key, tagged));
  }
  if (consistency != "linearizable") {
    return Reject(v, resp, absl::InvalidArgumentError("consistency must be local or linearizable"));
  }
  DeferredReply reply = resp.Defer();
  proposer_.Barrier([this, reply, v, key = *key, tagged](absl::Status s) {
    reply.Send(s.ok() ? ConfigReadResponse(v, key, tagged) : CountedErrorResponse(metrics_, v, s));
  });
}

HttpResponse ConfigHttpApi::ConfigReadResponse(ApiVersion v, const config::ConfigKey& key,
                                               bool tagged) const {
  auto item = tagged ? nullptr : store_.Get(key);
  if (!item) {
    if (v == ApiVersion::kV1) {
      HttpResponse r = HttpResponse::Text(404, "config data not exist");
      AddNoCacheHeaders(r);
      return r;
    }
    return CountedErrorResponse(metrics_, v, absl::NotFoundError("config data not exist"));
  }
  if (v == ApiVersion::kV2) {
    std::string quoted;
    JsonWriter::AppendQuoted(quoted, item->content);
    return SuccessJson(v, std::move(quoted));
  }
  HttpResponse r = HttpResponse::Text(200, item->content);
  r.content_type = ContentTypeOf(item->type);
  r.headers.emplace_back("Content-MD5", item->md5);
  r.headers.emplace_back("Config-Type", item->type);
  r.headers.emplace_back("Last-Modified", HttpDate(item->modify_time_ms));
  if (!item->encrypted_data_key.empty()) {
    r.headers.emplace_back("Encrypted-Data-Key", item->encrypted_data_key);
  }
  AddNoCacheHeaders(r);
  return r;
}

void ConfigHttpApi::GetConfigDetail(Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV1;
  API_TRY(v, resp, key, KeyFrom(v, req.params));
  auto item = store_.Get(*key);
  // Nacos answers an unknown config here with 200 and an empty body.
  if (!item) return resp.Send(HttpResponse::Json(200, ""));
  resp.Send(HttpResponse::Json(200, ConfigAllInfoJson(*item)));
}

void ConfigHttpApi::SearchConfigs(Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV1;
  const std::string mode = req.params.Get("search");
  if (mode != "accurate" && mode != "blur") {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError, "search must be 'accurate' or 'blur'"));
  }
  config::SearchQuery q;
  q.blur = mode == "blur";
  q.tenant = config::NormalizeTenant(Param(req.params, {"tenant", "namespaceId"}));
  q.data_id = Param(req.params, {"dataId"});
  q.group = Param(req.params, {"group"});
  q.app_name = Param(req.params, {"appName"});
  q.tags = Param(req.params, {"config_tags", "configTags"});
  for (auto type : common::Split(Param(req.params, {"types", "type"}), ',')) {
    type = common::Trim(type);
    if (!type.empty()) q.types.push_back(std::string(type));
  }
  API_TRY(v, resp, page_no, PageParam(req.params, "pageNo", 1, 1 << 30));
  API_TRY(v, resp, page_size, PageParam(req.params, "pageSize", 100, kMaxSearchPageSize));
  q.page_no = *page_no;
  q.page_size = *page_size;
  const auto page = store_.Search(q);
  resp.Send(HttpResponse::Json(200, PageJson(page, [](JsonWriter& w, const auto& item) {
                                 w.BeginObject();
                                 WriteConfigInfo(w, *item, true);
                                 w.EndObject();
                               })));
}

void ConfigHttpApi::PublishConfig(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, KeyFrom(v, req.params));
  const std::string* content = req.params.Find("content");
  if (content == nullptr) return Reject(v, resp, MissingParam("content"));
  if (auto s = config::ValidateContent(*content, options_.max_content_bytes); !s.ok()) {
    return Reject(v, resp, InvalidParam(kParameterValidateError, std::string(s.message())));
  }
  if (!Param(req.params, {"tag"}).empty() || !req.Header("betaIps").empty()) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError,
                               "gray releases (tag, betaIps) are not supported by this server"));
  }
  ConfigCommand c = WriteCommand(ConfigCommandType::kPublish, *key, req);
  c.item.content = *content;
  c.item.type = Param(req.params, {"type"});
  c.item.app_name = Param(req.params, {"appName"});
  c.item.tags = Param(req.params, {"config_tags", "configTags"});
  c.item.description = Param(req.params, {"desc"});
  c.item.use = Param(req.params, {"use"});
  c.item.effect = Param(req.params, {"effect"});
  c.item.schema = Param(req.params, {"schema"});
  c.item.encrypted_data_key = Param(req.params, {"encryptedDataKey"});
  std::string cas(req.Header("casMd5"));
  if (cas.empty()) cas = Param(req.params, {"casMd5"});
  c.has_cas = !cas.empty();
  c.cas_md5 = std::move(cas);
  Propose(v, std::move(c), resp, [v] { return SuccessJson(v, "true"); });
}

void ConfigHttpApi::RemoveConfig(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, key, KeyFrom(v, req.params));
  if (!Param(req.params, {"tag"}).empty()) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError,
                               "gray releases (tag) are not supported by this server"));
  }
  Propose(v, WriteCommand(ConfigCommandType::kRemove, *key, req), resp,
          [v] { return SuccessJson(v, "true"); });
}

void ConfigHttpApi::RemoveConfigsById(Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV1;
  API_TRY(v, resp, ids_text, RequiredParam(req.params, "ids"));
  std::vector<int64_t> ids;
  for (auto part : common::Split(*ids_text, ',')) {
    int64_t id;
    if (!common::ParseInt64(common::Trim(part), id)) {
      return Reject(v, resp,
                    InvalidParam(kParameterValidateError,
                                 common::StrCat("ids: '", part, "' is not a config id")));
    }
    ids.push_back(id);
  }
  // Find the keys now; each removal is its own command, answered when the last is applied.
  // Configs may live in tenants that were never created as namespaces: look in all of them.
  const std::vector<ConfigKey> keys = store_.KeysWithIds(ids);
  auto ok = [] { return HttpResponse::Json(200, R"({"code":200,"message":null,"data":true})"); };
  if (keys.empty()) return resp.Send(ok());
  DeferredReply reply = resp.Defer();
  auto remaining = std::make_shared<std::atomic<size_t>>(keys.size());
  for (const auto& key : keys) {
    ConfigCommand c = WriteCommand(ConfigCommandType::kRemove, key, req);
    c.timestamp_ms = clock_.NowMs();
    proposer_.Propose(node::ConfigLogEntry(c), [reply, remaining, ok](absl::Status) {
      if (remaining->fetch_sub(1) == 1) reply.Send(ok());
    });
  }
}

// ---------------------------------------------------------------- listening

void ConfigHttpApi::Listen(Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV1;
  if (req.method != Method::kPost) return ListenerStatus(req, resp);
  const std::string* encoded = req.params.Find("Listening-Configs");
  if (encoded == nullptr) return Reject(v, resp, MissingParam("Listening-Configs"));
  API_TRY(v, resp, interests, ParseListeningConfigs(*encoded));

  auto changed_now = [this](const std::vector<config::ListenerIndex::Interest>& list) {
    std::vector<ConfigKey> changed;
    for (const auto& interest : list) {
      if (store_.Md5Of(interest.key) != interest.md5) changed.push_back(interest.key);
    }
    return changed;
  };
  const std::string_view timeout_header = req.Header("Long-Pulling-Timeout");
  const bool no_hangup = req.Header("Long-Pulling-Timeout-No-Hangup") == "true";
  std::vector<ConfigKey> changed = changed_now(*interests);
  if (timeout_header.empty() || no_hangup || !changed.empty() || releasing_) {
    if (!changed.empty()) long_polls_answered_early_.Inc();
    return resp.Send(ChangedKeysResponse(changed));
  }
  int64_t timeout_ms;
  if (!common::ParseInt64(common::Trim(timeout_header), timeout_ms) || timeout_ms < 0) {
    return Reject(v, resp,
                  InvalidParam(kParameterValidateError,
                               "Long-Pulling-Timeout must be a number of milliseconds"));
  }
  const int64_t hold_ms = std::max(kMinHoldMs, timeout_ms - kHoldMarginMs);
  long_polls_.Inc();
  DeferredReply reply = resp.Defer();
  const uint64_t id = listeners_.Park(
      *interests, req.remote_ip, clock_.NowMs() + hold_ms,
      [reply](std::vector<ConfigKey> keys) { reply.Send(ChangedKeysResponse(keys)); });
  reply.OnClientGone([this, id] { listeners_.Answer(id, {}); });
  // A publish applied between the first comparison and Park() notified nobody; compare again.
  // Likewise a shutdown that released the parked polls just before this one was parked.
  changed = changed_now(*interests);
  if (!changed.empty() && listeners_.Answer(id, changed)) long_polls_answered_early_.Inc();
  if (releasing_) listeners_.Answer(id, {});
}

void ConfigHttpApi::ListenerStatus(Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV1;
  API_TRY(v, resp, key, KeyFrom(v, req.params));
  JsonWriter w;
  w.BeginObject().Key("collectStatus").Int(200).Key("lisentersGroupkeyStatus").BeginObject();
  for (const auto& [ip, md5] : listeners_.ListenersOf(*key)) w.Key(ip).String(md5);
  w.EndObject().EndObject();
  resp.Send(HttpResponse::Json(200, w.Take()));
}

// ---------------------------------------------------------------- history

void ConfigHttpApi::History(ApiVersion v, Req req, Resp resp, bool list) {
  if (list) {
    API_TRY(v, resp, key, KeyFrom(v, req.params));
    API_TRY(v, resp, page_no, PageParam(req.params, "pageNo", 1, 1 << 30));
    API_TRY(v, resp, page_size, PageParam(req.params, "pageSize", 100, kMaxHistoryPageSize));
    API_TRY(v, resp, page, store_.History(*key, *page_no, *page_size));
    std::string json =
        PageJson(*page, [](JsonWriter& w, const HistoryEntry& h) { WriteHistory(w, h); });
    return resp.Send(SuccessJson(v, std::move(json)));
  }
  API_TRY(v, resp, nid_text, RequiredParam(req.params, "nid"));
  int64_t nid;
  if (!common::ParseInt64(*nid_text, nid)) {
    return Reject(v, resp, InvalidParam(kParameterValidateError, "nid must be a number"));
  }
  SendHistoryRow(v, req, resp, store_.HistoryById(nid),
                 common::StrCat("config history ", nid, " does not exist"));
}

void ConfigHttpApi::SendHistoryRow(ApiVersion v, Req req, Resp resp,
                                   absl::StatusOr<std::optional<HistoryEntry>> entry,
                                   std::string not_found) {
  if (!entry.ok()) return Reject(v, resp, entry.status());
  if (!entry->has_value()) return Reject(v, resp, absl::NotFoundError(not_found));
  // A row is only shown for the config it belongs to, when the request names one.
  if (req.params.Has("dataId")) {
    API_TRY(v, resp, key, KeyFrom(v, req.params));
    if ((*entry)->key != *key) {
      return Reject(v, resp,
                    absl::PermissionDeniedError(
                        "Please check dataId, group or namespaceId: they do not match the row"));
    }
  }
  JsonWriter w;
  WriteHistory(w, **entry);
  resp.Send(SuccessJson(v, w.Take()));
}

void ConfigHttpApi::HistoryPrevious(ApiVersion v, Req req, Resp resp) {
  API_TRY(v, resp, id_text, RequiredParam(req.params, "id"));
  int64_t nid;
  if (!common::ParseInt64(*id_text, nid)) {
    return Reject(v, resp, InvalidParam(kParameterValidateError, "id must be a number"));
  }
  SendHistoryRow(v, req, resp, store_.PreviousHistory(nid),
                 common::StrCat("no config history before ", nid));
}

void ConfigHttpApi::HistoryConfigs(ApiVersion v, Req req, Resp resp) {
  const std::string tenant =
      config::NormalizeTenant(v == ApiVersion::kV2 ? Param(req.params, {"namespaceId", "tenant"})
                                                   : Param(req.params, {"tenant", "namespaceId"}));
  if (auto s = config::ValidateTenant(tenant); !s.ok()) {
    return Reject(v, resp, InvalidParam(kTenantParamError, std::string(s.message())));
  }
  JsonWriter w;
  w.BeginArray();
  for (const auto& item : store_.ListTenant(tenant)) {
    w.BeginObject();
    WriteConfigInfo(w, *item, false);
    w.Key("lastModified").Int(item->modify_time_ms);
    w.EndObject();
  }
  w.EndArray();
  resp.Send(SuccessJson(v, w.Take()));
}

// ---------------------------------------------------------------- namespaces

std::string ConfigHttpApi::NamespaceJson(const config::NamespaceInfo& info) const {
  const bool is_default = info.id == config::kDefaultNamespaceId;
  JsonWriter w;
  w.BeginObject()
      .Key("namespace")
      .String(is_default ? "" : info.id)
      .Key("namespaceShowName")
      .String(info.name)
      .Key("namespaceDesc")
      .String(info.description)
      .Key("quota")
      .Int(200)
      .Key("configCount")
      .Int(store_.ConfigCount(config::TenantOfNamespaceId(info.id)))
      .Key("type")
      .Int(is_default ? 0 : 2)
      .EndObject();
  return w.Take();
}

absl::Status ConfigHttpApi::CheckNamespaceDeletable(const ConfigCommand& c) const {
  // The store's own rules first (default namespace, unknown id, configs left), then naming's.
  if (auto s = store_.Precheck(c); !s.ok()) return s;
  if (registry_.ListPage(c.namespace_info.id, std::nullopt, 0, 0).total > 0) {
    return absl::FailedPreconditionError(common::StrCat("namespace ", c.namespace_info.id,
                                                        " still has services, delete them first"));
  }
  return absl::OkStatus();
}

std::string ConfigHttpApi::NamespaceListJson() const {
  const auto namespaces = store_.namespaces();
  std::string out = "[";
  out += NamespaceJson(namespaces->at(std::string(config::kDefaultNamespaceId)));
  for (const auto& [id, info] : *namespaces) {
    if (id != config::kDefaultNamespaceId) common::StrAppend(&out, ",", NamespaceJson(info));
  }
  out += "]";
  return out;
}

void ConfigHttpApi::NamespacesV1(Req req, Resp resp) {
  const ApiVersion v = ApiVersion::kV1;
  if (req.method == Method::kGet) {
    if (req.params.Get("checkNamespaceIdExist") == "true") {
      const std::string id = NormalizeNamespaceId(req.params.Get("customNamespaceId"));
      return resp.Send(HttpResponse::Json(200, store_.NamespaceExists(id) ? "true" : "false"));
    }
    if (req.params.Get("show") == "all") {
      const std::string id = NormalizeNamespaceId(req.params.Get("namespaceId"));
      const auto namespaces = store_.namespaces();
      auto it = namespaces->find(id);
      if (it == namespaces->end()) {
        return Reject(v, resp,
                      absl::NotFoundError(common::StrCat("namespace ", id, " does not exist")));
      }
      return resp.Send(HttpResponse::Json(200, NamespaceJson(it->second)));
    }
    return resp.Send(HttpResponse::Json(
        200, common::StrCat(R"({"code":200,"message":null,"data":)", NamespaceListJson(), "}")));
  }
  ConfigCommand c;
  auto ok_true = [] { return HttpResponse::Json(200, "true"); };
  if (req.method == Method::kPost) {
    std::string id = std::string(common::Trim(req.params.Get("customNamespaceId")));
    if (id.empty()) id = RandomNamespaceId();
    const std::string name = req.params.Get("namespaceName");
    if (auto s = ValidateNamespaceInput(id, name); !s.ok()) return Reject(v, resp, s);
    c.type = ConfigCommandType::kCreateNamespace;
    c.namespace_info = {NormalizeNamespaceId(id), name, req.params.Get("namespaceDesc")};
    return Propose(v, std::move(c), resp, ok_true);
  }
  if (req.method == Method::kPut) {
    API_TRY(v, resp, id, RequiredParam(req.params, "namespace"));
    const std::string name = req.params.Get("namespaceShowName");
    if (auto s = ValidateNamespaceInput(*id, name); !s.ok()) return Reject(v, resp, s);
    c.type = ConfigCommandType::kUpdateNamespace;
    c.namespace_info = {NormalizeNamespaceId(*id), name, req.params.Get("namespaceDesc")};
    return Propose(v, std::move(c), resp, ok_true);
  }
  if (req.method == Method::kDelete) {
    API_TRY(v, resp, id, RequiredParam(req.params, "namespaceId"));
    c.type = ConfigCommandType::kDeleteNamespace;
    c.namespace_info.id = NormalizeNamespaceId(*id);
    if (auto s = CheckNamespaceDeletable(c); !s.ok()) return Reject(v, resp, s);
    return Propose(v, std::move(c), resp, ok_true);
  }
  resp.Send(HttpResponse::Text(405, "method not allowed"));
}

void ConfigHttpApi::NamespacesV2(Req req, Resp resp, bool list) {
  const ApiVersion v = ApiVersion::kV2;
  if (list) return resp.Send(SuccessJson(v, NamespaceListJson()));
  ConfigCommand c;
  auto ok_true = [] { return SuccessJson(ApiVersion::kV2, "true"); };
  switch (req.method) {
    case Method::kGet: {
      API_TRY(v, resp, id, RequiredParam(req.params, "namespaceId"));
      const auto namespaces = store_.namespaces();
      auto it = namespaces->find(NormalizeNamespaceId(*id));
      if (it == namespaces->end()) {
        return Reject(
            v, resp,
            WithCode(absl::NotFoundError(common::StrCat("namespace ", *id, " does not exist")),
                     kNamespaceNotExist));
      }
      return resp.Send(SuccessJson(v, NamespaceJson(it->second)));
    }
    case Method::kPost: {
      std::string id = std::string(common::Trim(req.params.Get("namespaceId")));
      if (id.empty()) id = RandomNamespaceId();
      const std::string name = req.params.Get("namespaceName");
      if (auto s = ValidateNamespaceInput(id, name); !s.ok()) return Reject(v, resp, s);
      if (store_.NamespaceExists(NormalizeNamespaceId(id))) {
        return Reject(
            v, resp,
            WithCode(absl::AlreadyExistsError(common::StrCat("namespace ", id, " already exists")),
                     kNamespaceAlreadyExist));
      }
      c.type = ConfigCommandType::kCreateNamespace;
      c.namespace_info = {NormalizeNamespaceId(id), name, req.params.Get("namespaceDesc")};
      return Propose(v, std::move(c), resp, ok_true);
    }
    case Method::kPut: {
      API_TRY(v, resp, id, RequiredParam(req.params, "namespaceId"));
      const std::string name = req.params.Get("namespaceName");
      if (auto s = ValidateNamespaceInput(*id, name); !s.ok()) return Reject(v, resp, s);
      c.type = ConfigCommandType::kUpdateNamespace;
      c.namespace_info = {NormalizeNamespaceId(*id), name, req.params.Get("namespaceDesc")};
      return Propose(v, std::move(c), resp, ok_true);
    }
    case Method::kDelete: {
      API_TRY(v, resp, id, RequiredParam(req.params, "namespaceId"));
      c.type = ConfigCommandType::kDeleteNamespace;
      c.namespace_info.id = NormalizeNamespaceId(*id);
      if (auto s = CheckNamespaceDeletable(c); !s.ok()) return Reject(v, resp, s);
      return Propose(v, std::move(c), resp, ok_true);
    }
    default:
      resp.Send(HttpResponse::Text(405, "method not allowed"));
  }
}

// ---------------------------------------------------------------- routes

void ConfigHttpApi::RegisterRoutes(HttpServer& server) {
  using V = ApiVersion;
  server.Route("/nacos/v1/cs/configs", [this](Req req, Resp resp) { Configs(V::kV1, req, resp); });
  server.Route("/nacos/v2/cs/config", [this](Req req, Resp resp) { Configs(V::kV2, req, resp); });
  server.Route("/nacos/v1/cs/configs/listener", [this](Req req, Resp resp) { Listen(req, resp); });

  server.Route("/nacos/v1/cs/history", [this](Req req, Resp resp) {
    History(V::kV1, req, resp, req.params.Get("search") == "accurate");
  });
  server.Route("/nacos/v1/cs/history/previous",
               [this](Req req, Resp resp) { HistoryPrevious(V::kV1, req, resp); });
  server.Route("/nacos/v1/cs/history/configs",
               [this](Req req, Resp resp) { HistoryConfigs(V::kV1, req, resp); });
  server.Route("/nacos/v2/cs/history/list",
               [this](Req req, Resp resp) { History(V::kV2, req, resp, true); });
  server.Route("/nacos/v2/cs/history",
               [this](Req req, Resp resp) { History(V::kV2, req, resp, false); });
  server.Route("/nacos/v2/cs/history/detail",
               [this](Req req, Resp resp) { History(V::kV2, req, resp, false); });
  server.Route("/nacos/v2/cs/history/previous",
               [this](Req req, Resp resp) { HistoryPrevious(V::kV2, req, resp); });
  server.Route("/nacos/v2/cs/history/configs",
               [this](Req req, Resp resp) { HistoryConfigs(V::kV2, req, resp); });

  server.Route("/nacos/v1/console/namespaces",
               [this](Req req, Resp resp) { NamespacesV1(req, resp); });
  server.Route("/nacos/v2/console/namespace",
               [this](Req req, Resp resp) { NamespacesV2(req, resp, false); });
  server.Route("/nacos/v2/console/namespace/list",
               [this](Req req, Resp resp) { NamespacesV2(req, resp, true); });
}

}  // namespace dnsd::api
