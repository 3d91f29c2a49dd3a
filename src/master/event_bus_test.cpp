#include "master/event_bus.h"

#include <gtest/gtest.h>

namespace berth::master {
namespace {

using std::chrono::milliseconds;

std::vector<std::string> types_of(const std::vector<std::shared_ptr<const Event>>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e->type);
  return out;
}

}  // namespace

TEST(EventBus, DeliversOnlyTheRequestedTypesInOrder) {
  EventBus bus;
  auto all = bus.subscribe({});
  auto some = bus.subscribe({"status_update_event", "deployment_success"});
  bus.publish("api_post_event", R"({"a":1})");
  bus.publish("status_update_event", R"({"b":2})");
  bus.publish("deployment_success", R"({"c":3})");
  EXPECT_EQ(
      types_of(all->take(milliseconds(0))),
      (std::vector<std::string>{"api_post_event", "status_update_event", "deployment_success"}));
  auto got = some->take(milliseconds(0));
  EXPECT_EQ(types_of(got), (std::vector<std::string>{"status_update_event", "deployment_success"}));
  EXPECT_EQ(got[0]->data, R"({"b":2})");
  EXPECT_TRUE(all->take(milliseconds(0)).empty());
}

TEST(EventBus, BerthsOwnEventsGoOnlyToStreamsThatNameThem) {
  EventBus bus;
  auto marathon_client = bus.subscribe({});
  auto ui = bus.subscribe({"status_update_event", "berth_node_heartbeat"});
  bus.publish("berth_node_heartbeat", R"({"nodeId":"a"})");
  bus.publish("berth_dataset_changed", R"({"datasetId":"d"})");
  bus.publish("status_update_event", "{}");
  EXPECT_EQ(types_of(marathon_client->take(milliseconds(0))),
            (std::vector<std::string>{"status_update_event"}));
  EXPECT_EQ(types_of(ui->take(milliseconds(0))),
            (std::vector<std::string>{"berth_node_heartbeat", "status_update_event"}));
}

TEST(EventBus, AFullQueueDropsThatSubscriberAndNoOther) {
  EventBus bus(3);
  auto slow = bus.subscribe({});
  auto picky = bus.subscribe({"deployment_info"});
  for (int i = 0; i < 3; ++i) bus.publish("status_update_event", "{}");
  EXPECT_FALSE(slow->closed());
  EXPECT_EQ(bus.subscriber_count(), 2u);
  bus.publish("status_update_event", "{}");
  EXPECT_TRUE(slow->closed());
  EXPECT_TRUE(slow->overflowed());
  EXPECT_TRUE(slow->take(milliseconds(0)).empty())
      << "a dropped stream must not deliver a partial tail";
  EXPECT_EQ(bus.subscriber_count(), 1u);
  bus.publish("deployment_info", "{}");
  EXPECT_FALSE(picky->closed());
  EXPECT_EQ(picky->take(milliseconds(0)).size(), 1u);
}

TEST(EventBus, UnsubscribedStreamsGetNothingAndAreClosed) {
  EventBus bus;
  auto sub = bus.subscribe({});
  EXPECT_TRUE(bus.has_subscribers());
  bus.unsubscribe(sub);
  bus.unsubscribe(sub);
  EXPECT_FALSE(bus.has_subscribers());
  EXPECT_TRUE(sub->closed());
  EXPECT_FALSE(sub->overflowed());
  bus.publish("api_post_event", "{}");
  EXPECT_TRUE(sub->take(milliseconds(0)).empty());
}

TEST(EventBus, RefusesSubscribersPastItsLimitAndAfterClose) {
  EventBus bus(10, 2);
  auto a = bus.subscribe({});
  auto b = bus.subscribe({});
  EXPECT_EQ(bus.subscribe({}), nullptr);
  bus.unsubscribe(a);
  auto c = bus.subscribe({});
  ASSERT_NE(c, nullptr);
  bus.close();
  EXPECT_TRUE(b->closed());
  EXPECT_TRUE(c->closed());
  EXPECT_EQ(bus.subscribe({}), nullptr);
}

TEST(EventBus, TakeReturnsWhatIsQueuedWithoutWaiting) {
  EventBus bus;
  auto sub = bus.subscribe({});
  bus.publish("app_terminated_event", R"({"appId":"/x"})");
  // A long wait returns at once because an event is already queued.
  auto got = sub->take(milliseconds(60000));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]->data, R"({"appId":"/x"})");
}

}  // namespace berth::master
