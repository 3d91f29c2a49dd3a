#include "model/dataset.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::model {
namespace {
const char* kNode = "0f0e0d0c-0b0a-4908-8706-050403020100";
const char* kId = "11111111-2222-4333-8444-555555555555";
}  // namespace

TEST(Dataset, CreateTakesFlockersFieldsAndGeneratesAnId) {
  auto d = parse_dataset_create(
      {{"primary", kNode}, {"maximum_size", 67108864}, {"metadata", {{"name", "db"}}}}, kId,
      "shared");
  ASSERT_TRUE(d.ok()) << d.error().message;
  EXPECT_EQ(d->dataset_id, kId);
  EXPECT_EQ(d->primary, kNode);
  EXPECT_EQ(*d->maximum_size, 67108864u);
  EXPECT_EQ(d->metadata.at("name"), "db");
  EXPECT_EQ(d->epoch, 1u);
  auto j = dataset_to_json(*d);
  EXPECT_EQ(j["deleted"], false);
  EXPECT_EQ(dataset_from_json(j).value(), *d);
}

TEST(Dataset, TheSourceOfAPendingLocalCopyIsStoredOnlyWhileThereIsOne) {
  auto d = parse_dataset_create({{"primary", kNode}, {"driver", "local"}}, kId, "shared");
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(dataset_to_json(*d).contains("moving_from"));
  d->moving_from = "a0a0a0a0-0b0a-4908-8706-050403020100";
  auto j = dataset_to_json(*d);
  EXPECT_EQ(j["moving_from"], d->moving_from);
  EXPECT_EQ(dataset_from_json(j).value(), *d);
}

TEST(Dataset, RejectsBadInputNamingTheProblem) {
  auto no_primary = parse_dataset_create({{"metadata", {{"name", "x"}}}}, kId, "shared");
  ASSERT_FALSE(no_primary.ok());
  EXPECT_NE(no_primary.error().message.find("primary"), std::string::npos);
  auto small = parse_dataset_create({{"primary", kNode}, {"maximum_size", 1024}}, kId, "shared");
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.error().message.find("too small"), std::string::npos);
  auto odd = parse_dataset_create({{"primary", kNode}, {"maximum_size", 67108865}}, kId, "shared");
  EXPECT_FALSE(odd.ok());
  auto bad_id = parse_dataset_create({{"primary", kNode}, {"dataset_id", "../etc"}}, kId, "shared");
  ASSERT_FALSE(bad_id.ok());
  EXPECT_NE(bad_id.error().message.find("dataset_id"), std::string::npos);
  nlohmann::json many = nlohmann::json::object();
  for (int i = 0; i < 17; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_FALSE(parse_dataset_create({{"primary", kNode}, {"metadata", many}}, kId, "shared").ok());
  EXPECT_FALSE(parse_dataset_create({{"primary", kNode}, {"driver", "nfs"}}, kId, "shared").ok());
  EXPECT_FALSE(parse_dataset_create({{"primary", kNode}, {"surprise", 1}}, kId, "shared").ok());
}

TEST(Dataset, UpdateAllowsOnlyPrimaryAndSize) {
  EXPECT_TRUE(parse_dataset_update({{"primary", kNode}}).ok());
  EXPECT_FALSE(parse_dataset_update({{"metadata", {{"a", "b"}}}}).ok());
  EXPECT_FALSE(parse_dataset_update({{"primary", "node-1"}}).ok());
}

TEST(Dataset, UuidsAreLowercaseAndWellFormed) {
  EXPECT_TRUE(is_uuid(kId));
  EXPECT_FALSE(is_uuid("11111111-2222-4333-8444-55555555555G"));
  EXPECT_FALSE(is_uuid("11111111222243338444555555555555"));
}

// Found by tests/fuzz/dataset_body: a damaged store record made dataset_from_json throw
// (a wrong type) or cast a float out of range into the epoch.
TEST(Dataset, ADamagedStoredCopyIsAnErrorNamingTheField) {
  auto read = [](const char* text) { return dataset_from_json(nlohmann::json::parse(text)); };
  auto message = [&](const char* text) -> std::string {
    auto d = read(text);
    if (d.ok()) return "ok";
    return d.error().message;
  };
  EXPECT_EQ(message(R"({"dataset_id":{"name":"db"},"epoch":3})"),
            "stored dataset  is damaged: dataset_id is not a string");
  EXPECT_EQ(message(R"({"dataset_id":"d1","epoch":1e300})"),
            "stored dataset d1 is damaged: epoch is not a whole number");
  EXPECT_EQ(message(R"({"dataset_id":"d1","epoch":-1})"),
            "stored dataset d1 is damaged: epoch is not a whole number");
  EXPECT_EQ(message(R"({"dataset_id":"d1","primary":null})"),
            "stored dataset d1 is damaged: primary is not a string");
  EXPECT_EQ(message(R"({"dataset_id":"d1","deleted":"no"})"),
            "stored dataset d1 is damaged: deleted is not true or false");
  EXPECT_EQ(message(R"({"dataset_id":"d1","metadata":{"name":1}})"),
            "stored dataset d1 is damaged: metadata name is not a string");
  auto minimal = read(R"({"dataset_id":"d1"})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_EQ(minimal->driver, "shared");
  EXPECT_EQ(minimal->epoch, 0u);
}

}  // namespace berth::model
