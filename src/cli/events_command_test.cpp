#include "cli/events_command.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(SseParser, EventsSplitAnywhereComeOutWholeAndKeepAlivesAreSkipped) {
  const std::string stream =
      "event: event_stream_attached\r\ndata: {\"remoteAddress\":\"127.0.0.1\"}\r\n\r\n"
      ":\n\n"
      "event: status_update_event\ndata: {\"a\":1,\ndata: \"b\":2}\n\n"
      "event: no_data\n\n"
      "event: deployment_success\ndata: {}\n";  // not ended yet
  for (size_t split = 0; split <= stream.size(); ++split) {
    SseParser parser;
    auto events = parser.feed(stream.substr(0, split));
    for (auto& e : parser.feed(stream.substr(split))) events.push_back(e);
    ASSERT_EQ(events.size(), 2u) << "split at " << split;
    EXPECT_EQ(events[0].type, "event_stream_attached");
    EXPECT_EQ(events[0].data, "{\"remoteAddress\":\"127.0.0.1\"}");
    EXPECT_EQ(events[1].type, "status_update_event");
    EXPECT_EQ(events[1].data, "{\"a\":1,\n\"b\":2}") << "data lines join with a newline";
    auto rest = parser.feed("\n");
    ASSERT_EQ(rest.size(), 1u) << "the blank line ends the pending event";
    EXPECT_EQ(rest[0].type, "deployment_success");
  }
}

TEST(DescribeEvent, ATaskStateChangeReadsAsOneLineWithItsReason) {
  nlohmann::json data = {{"timestamp", "2026-12-04T00:17:43.035Z"},
                         {"taskId", "web.1"},
                         {"appId", "/web"},
                         {"host", "10.0.0.2"},
                         {"taskStatus", "TASK_LOST"},
                         {"message", "agent a1 lost"}};
  EXPECT_EQ(describe_event("status_update_event", data),
            "2026-12-04T00:17:43.035Z status_update_event task web.1 of /web on 10.0.0.2: "
            "TASK_LOST (agent a1 lost)");
  nlohmann::json failed = {{"timestamp", "t"},
                           {"id", "d1"},
                           {"reason", "overridden"},
                           {"plan",
                            {{"affectedApps", {"/web"}},
                             {"steps", {{{"actions", {{{"action", "ScaleApplication"}}}}}}}}}};
  EXPECT_EQ(describe_event("deployment_failed", failed),
            "t deployment_failed deployment d1 failed: ScaleApplication /web (overridden)");
  EXPECT_EQ(describe_event("some_new_event",
                           {{"timestamp", "t"}, {"eventType", "some_new_event"}, {"x", 1}}),
            "t some_new_event {\"x\":1}");
  EXPECT_EQ(describe_event("status_update_event", nullptr),
            "- status_update_event task - of - on -: -")
      << "malformed data still prints a line";
}

}  // namespace
}  // namespace berth::cli
