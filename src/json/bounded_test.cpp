#include "json/bounded.h"

#include <gtest/gtest.h>

namespace berth::json {
namespace {

std::string nested(size_t depth, char open, char close) {
  return std::string(depth, open) + std::string(depth, close);
}

TEST(BoundedJson, ParsesOrdinaryDocuments) {
  auto parsed = parse(R"({"id":"/web","instances":2,"labels":{"a":"[{"}})");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ((*parsed)["labels"]["a"], "[{");
}

TEST(BoundedJson, AcceptsTheDepthLimitAndRefusesOneMore) {
  EXPECT_TRUE(parse(nested(64, '[', ']')));
  auto deep = parse(nested(65, '[', ']'));
  ASSERT_FALSE(deep);
  EXPECT_NE(deep.error().message.find("deeper than 64"), std::string::npos) << deep.error().message;
}

TEST(BoundedJson, RefusesAHundredThousandLevelsWithoutRecursing) {
  auto deep = parse(R"({"ids":)" + nested(100000, '[', ']') + "}");
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().code, ErrorCode::kInvalidArgument);
}

TEST(BoundedJson, BracketsInsideStringsDoNotCount) {
  std::string text = R"({"a":")" + std::string(200, '[') + R"(\"]"})";
  EXPECT_TRUE(parse(text));
}

TEST(BoundedJson, RefusesLargeDocuments) {
  Limits small;
  small.max_bytes = 10;
  auto big = parse(R"({"a":"0123456789"})", small);
  ASSERT_FALSE(big);
  EXPECT_NE(big.error().message.find("larger than the limit of 10 bytes"), std::string::npos);
}

TEST(BoundedJson, RefusesInvalidUtf8) {
  auto bad = parse("{\"id\":\"\xff\xfe\"}");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("UTF-8"), std::string::npos) << bad.error().message;
}

TEST(BoundedJson, RefusesNumbersBeyondADouble) {
  auto bad = parse(R"({"instances":1e400})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("invalid JSON"), std::string::npos) << bad.error().message;
}

TEST(BoundedJson, DumpReplacesInvalidUtf8) {
  nlohmann::json j = {{"message", std::string("app '\xff' not found")}};
  EXPECT_NE(dump(j).find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
}  // namespace berth::json
