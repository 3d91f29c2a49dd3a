#include "api/label_selector.h"

#include <gtest/gtest.h>

namespace berth::api {
namespace {

bool selects(const std::string& selector, const std::map<std::string, std::string>& labels) {
  auto parsed = LabelSelector::parse(selector);
  EXPECT_TRUE(parsed.ok()) << selector;
  return parsed.ok() && parsed->matches(labels);
}

TEST(LabelSelector, EveryFormOfMarathonsSelector) {
  std::map<std::string, std::string> front = {{"tier", "front"}, {"env", "prod"}};
  EXPECT_TRUE(selects("tier", front));
  EXPECT_FALSE(selects("owner", front));
  EXPECT_TRUE(selects("tier==front", front));
  EXPECT_FALSE(selects("tier==back", front));
  EXPECT_TRUE(selects("tier!=back", front));
  EXPECT_TRUE(selects("owner!=x", front)) << "a missing label differs from any value";
  EXPECT_TRUE(selects("env in (prod, staging)", front));
  EXPECT_FALSE(selects("env notin (prod, staging)", front));
  EXPECT_TRUE(selects("tier==front, env in (prod)", front));
  EXPECT_FALSE(selects("tier==front,env==dev", front));
  EXPECT_TRUE(selects(R"(path==\/srv\/a)", {{"path", "/srv/a"}}));
}

TEST(LabelSelector, AnUnreadableSelectorNamesItself) {
  auto bad = LabelSelector::parse("tier==front,env in prod");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("'env in prod'"), std::string::npos) << bad.error().message;
  EXPECT_FALSE(LabelSelector::parse("").ok());
  EXPECT_FALSE(LabelSelector::parse("a=b").ok());
}

}  // namespace
}  // namespace berth::api
