#include "console/console.h"

#include <string>

#include "console/console_assets.h"

namespace dnsd::console {
namespace {

std::string ContentTypeOf(std::string_view name) {
  if (name.ends_with(".js")) return "text/javascript;charset=utf-8";
  if (name.ends_with(".css")) return "text/css;charset=utf-8";
  return "text/html;charset=utf-8";
}

api::HttpResponse Serve(const Asset& asset) {
  api::HttpResponse response;
  response.status = 200;
  response.content_type = ContentTypeOf(asset.name);
  response.body = std::string(asset.content);
  // Only our own files run in the page: no inline script, nothing from elsewhere.
  response.headers.emplace_back("Content-Security-Policy",
                                "default-src 'self'; frame-ancestors 'none'");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Cache-Control", "no-cache");
  return response;
}

}  // namespace

void RegisterConsoleRoutes(api::HttpServer& server) {
  for (const Asset& asset : Assets()) {
    auto handler = [&asset](const api::HttpRequest&, api::Responder& resp) {
      resp.Send(Serve(asset));
    };
    if (asset.name == "index.html") {
      for (const char* path : {"/", "/nacos", "/nacos/index.html"}) {
        server.Route(path, handler, api::kGetMethod);
      }
    } else {
      server.Route("/console/" + std::string(asset.name), handler, api::kGetMethod);
    }
  }
}

}  // namespace dnsd::console
