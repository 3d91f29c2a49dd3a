// Table: plain, left-aligned text columns with a header row, as the `berth` client commands
// print them (`berth app list`, `berth task list`, `berth node list`).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace berth::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers);

  // A row shorter than the header is padded with empty cells; a longer one is a bug.
  void add_row(std::vector<std::string> cells);
  size_t row_count() const { return rows_.size(); }

  // Every line ends in '\n'. Columns are separated by two spaces and the last column is not
  // padded, so lines carry no trailing blanks. Widths count UTF-8 code points, not bytes.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// `text` cut to at most `max_width` code points, ending in "..." when it was cut. Newlines and
// tabs become spaces so one cell stays on one line.
std::string truncate_cell(const std::string& text, size_t max_width);

}  // namespace berth::cli
