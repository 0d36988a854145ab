// ConfigHttpApi serves the Nacos config HTTP Open API, v1 (/nacos/v1/cs/...) and v2
// (/nacos/v2/cs/...), the long-polling listener, and the console namespace endpoints (the
// config store owns the namespaces that naming shares). Reads come from the ConfigStore in
// memory; writes become ConfigCommands proposed to the node's Proposer (node/proposer.h) and are
// answered once applied. Long polls are parked in a ListenerIndex (no thread or timer per poll) and
// answered on a change or when their hold time ends.
//
// Threading: handlers run on HTTP loop threads; the store and the listener index are
// thread-safe; Expire() is driven by a timer on any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_status.h"
#include "api/http_server.h"
#include "common/clock.h"
#include "common/event_loop.h"
#include "common/metrics.h"
#include "config/config_store.h"
#include "config/listener_index.h"
#include "node/proposer.h"
#include "registry/registry.h"

namespace dnsd::api {

// Listening-Configs of a long poll: records "dataId ^B group ^B md5 [^B tenant] ^A" (protocol
// reference §4.3), at most 10,000; kInvalidArgument with the reason otherwise.
absl::StatusOr<std::vector<config::ListenerIndex::Interest>> ParseListeningConfigs(
    std::string_view text);

struct ConfigApiOptions {
  int64_t max_content_bytes = 10 << 20;
};

class ConfigHttpApi {
 public:
  // `registry` is read to refuse deleting a namespace that still has services. Listeners
  // are notified of changes on `notify_loop`, so a publish is acknowledged without waiting
  // for thousands of long polls to be answered.
  ConfigHttpApi(config::ConfigStore& store, const registry::Registry& registry,
                node::Proposer& proposer, common::EventLoop& notify_loop,
                const common::Clock& clock, common::MetricsRegistry& metrics,
                ConfigApiOptions options);
  void RegisterRoutes(HttpServer& server);
  // Answers long polls whose hold time has ended; call every ~100 ms.
  void ExpireListeners() { listeners_.Expire(clock_.NowMs()); }
  // Answers every parked long poll now (empty: nothing changed), and every later one at
  // once, so clients poll again elsewhere. Used at shutdown.
  void ReleaseListeners() {
    releasing_ = true;
    listeners_.Expire(std::numeric_limits<int64_t>::max());
  }
  config::ListenerIndex& listeners() { return listeners_; }

 private:
  using Req = const HttpRequest&;
  using Resp = Responder&;

  void Configs(ApiVersion v, Req req, Resp resp);
  void GetConfig(ApiVersion v, Req req, Resp resp);
  HttpResponse ConfigReadResponse(ApiVersion v, const config::ConfigKey& key, bool tagged) const;
  void GetConfigDetail(Req req, Resp resp);
  void SearchConfigs(Req req, Resp resp);
  void PublishConfig(ApiVersion v, Req req, Resp resp);
  void RemoveConfig(ApiVersion v, Req req, Resp resp);
  void RemoveConfigsById(Req req, Resp resp);
  void Listen(Req req, Resp resp);
  void ListenerStatus(Req req, Resp resp);
  void History(ApiVersion v, Req req, Resp resp, bool list);
  void HistoryPrevious(ApiVersion v, Req req, Resp resp);
  void HistoryConfigs(ApiVersion v, Req req, Resp resp);
  void SendHistoryRow(ApiVersion v, Req req, Resp resp,
                      absl::StatusOr<std::optional<config::HistoryEntry>> entry,
                      std::string not_found);
  void NamespacesV1(Req req, Resp resp);
  void NamespacesV2(Req req, Resp resp, bool list);

  absl::StatusOr<config::ConfigKey> KeyFrom(ApiVersion v, const Params& params) const;
  std::string NamespaceJson(const config::NamespaceInfo& info) const;
  std::string NamespaceListJson() const;
  absl::Status CheckNamespaceDeletable(const config::ConfigCommand& command) const;
  void Propose(ApiVersion v, config::ConfigCommand command, Resp resp,
               std::function<HttpResponse()> on_success);
  void Reject(ApiVersion v, Resp resp, const absl::Status& status);

  config::ConfigStore& store_;
  const registry::Registry& registry_;
  node::Proposer& proposer_;
  common::EventLoop& notify_loop_;
  const common::Clock& clock_;
  common::MetricsRegistry& metrics_;
  const ConfigApiOptions options_;
  config::ListenerIndex listeners_;
  std::atomic<bool> releasing_{false};
  common::Counter& published_;
  common::Counter& long_polls_;
  common::Counter& long_polls_answered_early_;
};

}  // namespace dnsd::api
