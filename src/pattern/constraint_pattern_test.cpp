#include "pattern/constraint_pattern.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace berth::pattern {
namespace {

using ::testing::HasSubstr;

bool matches(std::string_view pattern, std::string_view text) {
  Result<ConstraintPattern> compiled = ConstraintPattern::compile(pattern);
  EXPECT_TRUE(compiled.ok()) << compiled.error().message;
  return compiled.ok() && compiled->full_match(text);
}

std::string refusal(std::string_view pattern) {
  Result<ConstraintPattern> compiled = ConstraintPattern::compile(pattern);
  EXPECT_FALSE(compiled.ok()) << pattern;
  return compiled.ok() ? "" : compiled.error().message;
}

TEST(ConstraintPattern, MatchesTheWholeValueOnly) {
  EXPECT_TRUE(matches("us-east-.*", "us-east-1"));
  EXPECT_FALSE(matches("us-east", "us-east-1"));
  EXPECT_FALSE(matches("east", "us-east"));
  EXPECT_TRUE(matches("web[0-9]+\\.example", "web12.example"));
  EXPECT_TRUE(matches("srv(1|2)|db", "db"));
  EXPECT_FALSE(matches("srv(1|2)|db", "srv1x"));
  EXPECT_TRUE(matches("\\d{2}-\\w+", "42-rack_a"));
  EXPECT_FALSE(matches("a.b", "a\nb"));
}

TEST(ConstraintPattern, AnswersABacktrackingPatternInLinearTime) {
  std::string hostname(30, 'a');
  EXPECT_FALSE(matches("(((.*)*)*)*x", hostname));
  EXPECT_TRUE(matches("(((.*)*)*)*x", hostname + "x"));
  EXPECT_FALSE(matches("(a+)+b", std::string(5000, 'a')));
  EXPECT_FALSE(matches("(a|aa)*c", std::string(5000, 'a')));
}

TEST(ConstraintPattern, RefusesBackreferencesAndLookaroundWithAReason) {
  EXPECT_EQ(refusal("(a)\\1"),
            "'(a)\\1' is not a valid regular expression: invalid escape sequence: \\1 "
            "(backreferences and lookaround are not supported)");
  EXPECT_THAT(
      refusal("web(?=1)"),
      HasSubstr("'web(?=1)' is not a valid regular expression: invalid perl operator: (?="));
  EXPECT_THAT(refusal("(?<!a)b"), HasSubstr("is not a valid regular expression"));
  EXPECT_EQ(refusal("[a-"), "'[a-' is not a valid regular expression: missing ]: [a-");
}

TEST(ConstraintPattern, RefusesPatternsBeyondItsBounds) {
  EXPECT_EQ(refusal(""), "LIKE and UNLIKE require a non-empty, regular expression value");
  EXPECT_EQ(refusal(std::string(kMaxPatternLength + 1, 'a')),
            "is 1025 characters long; LIKE and UNLIKE patterns may have at most 1024");
  EXPECT_TRUE(ConstraintPattern::compile(std::string(kMaxPatternLength, 'a')).ok());
  EXPECT_THAT(refusal("\\pL{1000}"),
              HasSubstr("is not a valid regular expression: it compiles to more than 1024 KiB"));
  // A long refused pattern is cut in the message so a huge field does not make a huge answer.
  std::string long_bad = std::string(200, 'a') + "(";
  EXPECT_EQ(
      refusal(long_bad).find("'" + std::string(64, 'a') + "...' is not a valid regular expression"),
      0u);
  // ...and cut between characters, never inside one: "é" is two bytes, bytes 63 and 64 here.
  std::string accented = std::string(63, 'a') + "\xc3\xa9(";
  EXPECT_EQ(
      refusal(accented).find("'" + std::string(63, 'a') + "...' is not a valid regular expression"),
      0u);
}

TEST(ConstraintPattern, StaysUsableAfterAMove) {
  Result<ConstraintPattern> compiled = ConstraintPattern::compile("r[0-9]");
  ASSERT_TRUE(compiled.ok());
  ConstraintPattern moved = std::move(compiled).value();
  EXPECT_TRUE(moved.full_match("r1"));
  EXPECT_FALSE(moved.full_match("r10"));
}

}  // namespace
}  // namespace berth::pattern
