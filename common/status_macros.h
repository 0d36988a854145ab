// Early-return helper for absl::Status, the project's only error-propagation macro.
#pragma once

#include "absl/status/status.h"

#define DNSD_RETURN_IF_ERROR(expr)                        \
  do {                                                    \
    if (auto dnsd_status_ = (expr); !dnsd_status_.ok()) { \
      return dnsd_status_;                                \
    }                                                     \
  } while (0)
