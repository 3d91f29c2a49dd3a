#include "cli/table.h"

#include <gtest/gtest.h>

namespace berth::cli {

TEST(Table, AlignsEveryColumnToItsWidestCell) {
  Table table({"ID", "INSTANCES", "CMD"});
  table.add_row({"/web", "3/5", "python -m http.server"});
  table.add_row({"/prod/api-gateway", "10/10", "./gw"});
  EXPECT_EQ(table.render(),
            "ID                 INSTANCES  CMD\n"
            "/web               3/5        python -m http.server\n"
            "/prod/api-gateway  10/10      ./gw\n");
}

TEST(Table, PadsShortRowsAndLeavesNoTrailingBlanks) {
  Table table({"A", "B", "C"});
  table.add_row({"x"});
  table.add_row({"", "", "z"});
  EXPECT_EQ(table.render(),
            "A  B  C\n"
            "x\n"
            "      z\n");
  EXPECT_EQ(table.row_count(), 2u);
}

TEST(Table, PrintsOnlyTheHeaderWhenEmpty) {
  Table table({"ID", "STATE"});
  EXPECT_EQ(table.render(), "ID  STATE\n");
}

TEST(Table, MeasuresUtf8TextInCodePoints) {
  Table table({"NAME", "X"});
  table.add_row({"héllo", "1"});
  EXPECT_EQ(table.render(),
            "NAME   X\n"
            "héllo  1\n");
}

TEST(TruncateCell, KeepsShortTextAndCutsLongTextWithAnEllipsis) {
  EXPECT_EQ(truncate_cell("short", 10), "short");
  EXPECT_EQ(truncate_cell("exactly10!", 10), "exactly10!");
  EXPECT_EQ(truncate_cell("python -m http.server 8080", 10), "python ...");
  EXPECT_EQ(truncate_cell("abcdef", 2), "..");
}

TEST(TruncateCell, FlattensNewlinesAndNeverSplitsACodePoint) {
  EXPECT_EQ(truncate_cell("a\nb\tc", 10), "a b c");
  EXPECT_EQ(truncate_cell("ééééééé", 5), "éé...");
}

}  // namespace berth::cli
