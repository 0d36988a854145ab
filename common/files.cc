#include "common/files.h"

#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace dnsd::common {

absl::StatusOr<std::string> ReadFileToString(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::InvalidArgumentError(StrCat("cannot read ", what, " ", path));
  }
  return text.str();
}

}  // namespace dnsd::common
