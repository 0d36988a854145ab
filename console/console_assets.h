// The console's files, compiled into the binary (console/embed.cmake writes the definition).
#pragma once

#include <string_view>
#include <vector>

namespace dnsd::console {

struct Asset {
  std::string_view name;  // file name: index.html, app.js, app.css
  std::string_view content;
};

const std::vector<Asset>& Assets();

}  // namespace dnsd::console
