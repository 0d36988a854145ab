// dnsctl's two output forms: an aligned text table (column names upper-cased, two spaces
// between columns) or JSON (an array of objects with the same columns, for scripts).
// Thread-safety: plain values.
#pragma once

#include <json/json.h>

#include <string>
#include <vector>

namespace dnsd::ctl {

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  void Add(std::vector<std::string> row) { rows.push_back(std::move(row)); }
  std::string ToText() const;
  Json::Value ToJson() const;
};

// A JSON value as one table cell: strings bare, others in JSON form.
std::string Cell(const Json::Value& value);

}  // namespace dnsd::ctl
