#include "api/grpc_auth.h"

#include "api/grpc_payload.h"
#include "auth/audit.h"
#include "common/strings.h"
#include "config/config_model.h"

namespace dnsd::api {
namespace {

using auth::Action;
using auth::Resource;
using Kind = AccessNeed::Kind;

Resource NamingResource(const Json::Value& body) {
  return auth::NamingResource(JsonString(body, "namespace"), JsonString(body, "groupName"),
                              JsonString(body, "serviceName"));
}

Resource ConfigResource(const Json::Value& object) {
  return auth::ConfigResource(config::NormalizeTenant(JsonString(object, "tenant")),
                              JsonString(object, "group"), JsonString(object, "dataId"));
}

}  // namespace

AccessNeed RequiredGrpcAccess(std::string_view type, const Json::Value& body) {
  AccessNeed need;
  need.kind = Kind::kResources;
  if (type == "HealthCheckRequest" || type == "ServerCheckRequest" ||
      type == "ConnectionSetupRequest") {
    need.kind = Kind::kOpen;
  } else if (type == "InstanceRequest" || type == "BatchInstanceRequest" ||
             type == "PersistentInstanceRequest") {
    need.resources.emplace_back(NamingResource(body), Action::kWrite);
  } else if (type == "ServiceQueryRequest" || type == "SubscribeServiceRequest" ||
             type == "ServiceListRequest") {
    need.resources.emplace_back(NamingResource(body), Action::kRead);
  } else if (type == "ConfigQueryRequest") {
    need.resources.emplace_back(ConfigResource(body), Action::kRead);
  } else if (type == "ConfigPublishRequest" || type == "ConfigRemoveRequest") {
    need.resources.emplace_back(ConfigResource(body), Action::kWrite);
  } else if (type == "ConfigBatchListenRequest") {
    const Json::Value& contexts = body["configListenContexts"];
    if (contexts.isArray()) {
      for (const auto& context : contexts) {
        if (context.isObject()) need.resources.emplace_back(ConfigResource(context), Action::kRead);
      }
    }
  } else {
    need.kind = Kind::kUser;  // types without data of their own
  }
  return need;
}

GrpcAuthorizer MakeGrpcAuthorizer(auth::Authenticator& authenticator) {
  return [&authenticator](const GrpcCaller& caller) -> absl::StatusOr<std::string> {
    static const Json::Value kEmpty(Json::objectValue);
    const AccessNeed need = RequiredGrpcAccess(caller.type, caller.body ? *caller.body : kEmpty);
    // Audited writes: those that need write access somewhere, but not ephemeral instances
    // (a connection's own, coming and going with it; see IsAuditedWrite on the HTTP side).
    const bool churn = caller.type == "InstanceRequest" || caller.type == "BatchInstanceRequest";
    const auth::Resource* written = nullptr;
    for (const auto& [resource, action] : need.resources) {
      if (action == Action::kWrite && !churn) written = &resource;
    }
    auto audit = [&](std::string_view user) {
      if (written)
        auth::AuditWrite(user, caller.connection_id, caller.type, JoinResource(*written));
    };
    if (!authenticator.enabled() || need.kind == Kind::kOpen) {
      audit("");
      return std::string();
    }
    auto who = authenticator.Authenticate(caller.access_token, "", "");
    if (!who.ok()) {
      auth::AuditRefusal("", caller.connection_id, caller.type,
                         common::ToStd(who.status().message()));
      return who.status();
    }
    for (const auto& [resource, action] : need.resources) {
      if (auto s = authenticator.Authorize(*who, resource, action); !s.ok()) {
        auth::AuditRefusal(who->username, caller.connection_id, caller.type,
                           common::ToStd(s.message()));
        return s;
      }
    }
    audit(who->username);
    return who->username;
  };
}

}  // namespace dnsd::api
