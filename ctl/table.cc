#include "ctl/table.h"

#include <algorithm>
#include <cctype>

namespace dnsd::ctl {

std::string Cell(const Json::Value& value) {
  if (value.isString()) return value.asString();
  if (value.isNull()) return "";
  Json::StreamWriterBuilder builder;
  builder["indentation"] = "";
  return Json::writeString(builder, value);
}

std::string Table::ToText() const {
  std::vector<size_t> widths(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) widths[i] = columns[i].size();
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells, bool header) {
    std::string text;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      if (header) {
        for (char& c : cell) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      text += cell;
      if (i + 1 < widths.size()) text += std::string(widths[i] - cell.size() + 2, ' ');
    }
    out += text + "\n";
  };
  line(columns, true);
  for (const auto& row : rows) line(row, false);
  return out;
}

Json::Value Table::ToJson() const {
  Json::Value out(Json::arrayValue);
  for (const auto& row : rows) {
    Json::Value object(Json::objectValue);
    for (size_t i = 0; i < columns.size() && i < row.size(); ++i) object[columns[i]] = row[i];
    out.append(object);
  }
  return out;
}

}  // namespace dnsd::ctl
