#include "cli/table.h"

#include <algorithm>
#include <utility>

#include "base/check.h"

namespace berth::cli {
namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

size_t display_width(const std::string& text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation_byte(c); }));
}

}  // namespace

Table::Table(std::vector<std::string> headers) : headers_(std::move(headers)) {
  BERTH_CHECK(!headers_.empty());
}

void Table::add_row(std::vector<std::string> cells) {
  BERTH_CHECK(cells.size() <= headers_.size());
  cells.resize(headers_.size());
  rows_.push_back(std::move(cells));
}

std::string Table::render() const {
  std::vector<size_t> widths;
  for (const auto& header : headers_) widths.push_back(display_width(header));
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], display_width(row[i]));
  }
  std::string out;
  auto append_line = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line.append(widths[i] - display_width(cells[i]) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  append_line(headers_);
  for (const auto& row : rows_) append_line(row);
  return out;
}

std::string truncate_cell(const std::string& text, size_t max_width) {
  std::string flat = text;
  std::replace_if(
      flat.begin(), flat.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  if (display_width(flat) <= max_width) return flat;
  const std::string ellipsis = "...";
  size_t keep = max_width > ellipsis.size() ? max_width - ellipsis.size() : 0;
  std::string out;
  size_t points = 0;
  for (size_t i = 0; i < flat.size(); ++i) {
    if (!is_continuation_byte(flat[i])) {
      if (points == keep) break;
      ++points;
    }
    out.push_back(flat[i]);
  }
  return out + ellipsis.substr(0, std::min(ellipsis.size(), max_width));
}

}  // namespace berth::cli
