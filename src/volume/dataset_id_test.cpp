#include "volume/dataset_id.h"

#include <gtest/gtest.h>

namespace berth {
namespace {

TEST(VolumeDatasetId, AcceptsALowercaseUuid) {
  EXPECT_TRUE(validate_dataset_id("3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10").ok());
  EXPECT_TRUE(validate_dataset_id("00000000-0000-0000-0000-000000000000").ok());
}

TEST(VolumeDatasetId, RejectsAnythingThatCouldEscapeThePoolOrIsNotAUuid) {
  for (const char* bad :
       {"", "..", "../../etc/passwd", "3F2A9C1E-0B7D-4E8F-9A61-5C2D8E4B7F10",
        "3f2a9c1e0b7d4e8f9a615c2d8e4b7f10", "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f1",
        "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f100", "3f2a9c1e-0b7d-4e8f-9a615-c2d8e4b7f10",
        "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f1g", "3f2a9c1e-0b7d-4e8f-9a61/5c2d8e4b7f10",
        "3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f1\n"}) {
    Status s = validate_dataset_id(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_EQ(s.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(s.error().message.find("UUID"), std::string::npos);
  }
}

TEST(VolumeDatasetId, NodeIdsMustBePrintableAndBounded) {
  EXPECT_TRUE(validate_node_id("agent-1.example.com").ok());
  EXPECT_FALSE(validate_node_id("").ok());
  EXPECT_FALSE(validate_node_id("has space").ok());
  EXPECT_FALSE(validate_node_id(std::string(257, 'a')).ok());
  EXPECT_TRUE(validate_node_id(std::string(256, 'a')).ok());
}

}  // namespace
}  // namespace berth
