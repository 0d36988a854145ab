// The web console's routes on the HTTP port: `/` and `/nacos` (where Nacos serves its console)
// answer the page, `/console/app.js` and `/console/app.css` its script and style. The page
// talks to the Open API like any client, so auth applies to what it does (it shows a login
// page when the server says auth is on); the files themselves are open.
// Thread-safety: register before the server starts; the assets are immutable.
#pragma once

#include "api/http_server.h"

namespace dnsd::console {

void RegisterConsoleRoutes(api::HttpServer& server);

}  // namespace dnsd::console
