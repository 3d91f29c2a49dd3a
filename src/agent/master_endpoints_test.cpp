#include "agent/master_endpoints.h"

#include <gtest/gtest.h>

namespace berth::agent {
namespace {

TEST(MasterEndpoints, TakesOneUrlOrSeveralSeparatedByCommas) {
  auto one = MasterEndpoints::parse("http://m1:8080");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, std::vector<std::string>{"http://m1:8080"});
  auto three = MasterEndpoints::parse("http://m1:8080,https://m2:8443,http://10.0.0.3:8080");
  ASSERT_TRUE(three.ok());
  EXPECT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[1], "https://m2:8443");
}

TEST(MasterEndpoints, NamesTheEntryThatIsNotAUrl) {
  for (const char* bad : {"", "m1:8080", "http://m1:8080,", "http://m1:8080,ftp://m2", "http://"}) {
    auto parsed = MasterEndpoints::parse(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(parsed.error().message.find("is not an http:// or https:// URL"), std::string::npos)
        << parsed.error().message;
  }
}

TEST(MasterEndpoints, ACallNoMasterAnswersNamesEveryMasterTried) {
  MasterEndpoints masters("http://127.0.0.1:1,http://127.0.0.1:2");
  auto res = masters.request("GET", "/v2/info", "", 2000);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(res.error().message.find("http://127.0.0.1:1: "), std::string::npos);
  EXPECT_NE(res.error().message.find("http://127.0.0.1:2: "), std::string::npos);
}

}  // namespace
}  // namespace berth::agent
