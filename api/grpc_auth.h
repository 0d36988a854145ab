// Nacos auth on the gRPC API: what each request type needs (the same resources and actions as
// the HTTP guard, auth_http_api.h) and the GrpcServer authorizer built on the Authenticator.
// The token comes from the request's `accessToken` header, as Nacos 2.x SDKs send it; a refusal
// answers errorCode 403, upon which the Java SDK logs in again.
// Connection set-up and health checks need nothing (they carry no data), as in Nacos.
// Thread-safety: the authorizer runs on the gRPC transport thread; pure otherwise.
#pragma once

#include <json/json.h>

#include <string_view>

#include "api/auth_http_api.h"
#include "api/grpc_server.h"
#include "auth/authenticator.h"

namespace dnsd::api {

AccessNeed RequiredGrpcAccess(std::string_view type, const Json::Value& body);
GrpcAuthorizer MakeGrpcAuthorizer(auth::Authenticator& authenticator);

}  // namespace dnsd::api
