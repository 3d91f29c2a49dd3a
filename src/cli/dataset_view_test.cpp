#include "cli/dataset_view.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

using nlohmann::json;

TEST(DatasetView, ParsesBytesAndBinarySuffixes) {
  EXPECT_EQ(parse_size("1073741824"), 1073741824u);
  EXPECT_EQ(parse_size("64K"), 65536u);
  EXPECT_EQ(parse_size("512M"), 536870912u);
  EXPECT_EQ(parse_size("1G"), 1073741824u);
  EXPECT_EQ(parse_size("1g"), 1073741824u);
  EXPECT_EQ(parse_size("1GiB"), 1073741824u);
  EXPECT_EQ(parse_size("2TB"), 2199023255552u);
}

TEST(DatasetView, RejectsSizesThatAreNotWholeBytesOrDoNotFit) {
  for (const std::string text : {"", "G", "1.5G", "-1", "12X", "1Gx", "1 G", " 1G", "99999999999T",
                                 "123456789012345678901234"}) {
    EXPECT_FALSE(parse_size(text).has_value()) << text;
  }
}

TEST(DatasetView, HumanSizeUsesTheLargestBinaryUnit) {
  EXPECT_EQ(human_size(100), "100B");
  EXPECT_EQ(human_size(65536), "64.0K");
  EXPECT_EQ(human_size(536870912), "512.0M");
  EXPECT_EQ(human_size(1610612736), "1.5G");
  EXPECT_EQ(human_size(2199023255552), "2.0T");
}

const json kNodes = json::array(
    {{{"uuid", "u1"}, {"hostname", "node-a"}}, {{"uuid", "u2"}, {"hostname", "node-b"}}});

TEST(DatasetView, JoinTakesAttachmentFromStateAndHostnamesFromNodes) {
  json configuration = {
      {{"dataset_id", "d2"},
       {"primary", "u2"},
       {"deleted", false},
       {"metadata", {{"name", "web"}}},
       {"maximum_size", 1073741824},
       {"driver", "shared"}},
      {{"dataset_id", "d1"}, {"primary", "u9"}, {"deleted", false}, {"metadata", {{"name", "db"}}}},
      {{"dataset_id", "d3"},
       {"primary", "u1"},
       {"deleted", true},
       {"metadata", {{"name", "old"}}}}};
  json state = {{{"dataset_id", "d2"}, {"primary", "u1"}, {"path", "/data/d2"}},
                {{"dataset_id", "d1"}, {"maximum_size", 67108864}}};
  auto rows = join_datasets(configuration, state, kNodes, false);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].name, "db");
  EXPECT_EQ(rows[0].primary_host, "u9") << "a node missing from /v1/state/nodes shows as its uuid";
  EXPECT_EQ(rows[0].attached_host, "");
  EXPECT_EQ(rows[0].size_bytes, 67108864u) << "the state's size when the configuration has none";
  EXPECT_EQ(rows[1].name, "web");
  EXPECT_EQ(rows[1].primary_host, "node-b");
  EXPECT_EQ(rows[1].attached_host, "node-a");
  EXPECT_EQ(rows[1].path, "/data/d2");
  EXPECT_EQ(join_datasets(configuration, state, kNodes, true).size(), 3u);
}

TEST(DatasetView, FindsADatasetByIdOrByTheNameOfALiveOne) {
  json configuration = {{{"dataset_id", "d1"}, {"deleted", true}, {"metadata", {{"name", "web"}}}},
                        {{"dataset_id", "d2"}, {"deleted", false}, {"metadata", {{"name", "web"}}}},
                        {{"dataset_id", "d3"}, {"deleted", false}, {"metadata", {{"name", "db"}}}},
                        {{"dataset_id", "d4"}, {"deleted", false}, {"metadata", {{"name", "db"}}}}};
  EXPECT_EQ(find_dataset(configuration, "d1")->at("dataset_id"), "d1");
  EXPECT_EQ(find_dataset(configuration, "web")->at("dataset_id"), "d2");
  auto ambiguous = find_dataset(configuration, "db");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.error().message,
            "the name 'db' belongs to 2 datasets (d3, d4); give the id instead");
  auto missing = find_dataset(configuration, "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST(DatasetView, FindsANodeByIdOrHostname) {
  EXPECT_EQ(find_node(kNodes, "uuid", "u2")->at("hostname"), "node-b");
  EXPECT_EQ(find_node(kNodes, "uuid", "node-a")->at("uuid"), "u1");
  json twins = {{{"id", "n1"}, {"hostname", "same"}}, {{"id", "n2"}, {"hostname", "same"}}};
  auto ambiguous = find_node(twins, "id", "same");
  ASSERT_FALSE(ambiguous.ok());
  EXPECT_EQ(ambiguous.error().message,
            "the hostname 'same' names 2 nodes (n1, n2); give the node id instead");
  EXPECT_EQ(find_node(twins, "id", "n2")->at("id"), "n2");
  EXPECT_FALSE(find_node(kNodes, "uuid", "node-c").ok());
}

}  // namespace
}  // namespace berth::cli
