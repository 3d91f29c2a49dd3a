#include "agent/task_env.h"

#include <gtest/gtest.h>

namespace berth::agent {

TEST(TaskEnvironment, GivesMarathonsVariables) {
  protocol::LaunchSpec spec;
  spec.task_id = "web.instance-1._app.1";
  spec.app_id = "/web";
  spec.version = "2026-01-01T00:00:00.000Z";
  spec.ports = {31001, 31002};
  spec.port_names = {"http", ""};
  spec.cpus = 0.5;
  spec.mem = 64;
  spec.labels = {{"tier", "front"}};
  spec.env = {{"GREETING", "hi"}};
  auto env = task_environment(spec, "10.0.0.1", "/sandbox", "/usr/bin:/bin");
  EXPECT_EQ(env["PORT0"], "31001");
  EXPECT_EQ(env["PORT1"], "31002");
  EXPECT_EQ(env["PORT"], "31001");
  EXPECT_EQ(env["PORTS"], "31001,31002");
  EXPECT_EQ(env["PORT_HTTP"], "31001");
  EXPECT_EQ(env["HOST"], "10.0.0.1");
  EXPECT_EQ(env["MARATHON_APP_ID"], "/web");
  EXPECT_EQ(env["MARATHON_APP_VERSION"], spec.version);
  EXPECT_EQ(env["MESOS_TASK_ID"], spec.task_id);
  EXPECT_EQ(env["MESOS_SANDBOX"], "/sandbox");
  EXPECT_EQ(env["MARATHON_APP_RESOURCE_CPUS"], "0.5");
  EXPECT_EQ(env["MARATHON_APP_LABEL_TIER"], "front");
  EXPECT_EQ(env["GREETING"], "hi");
  EXPECT_EQ(env["PATH"], "/usr/bin:/bin");
}

TEST(TaskEnvironment, AppEnvOverridesInheritedPath) {
  protocol::LaunchSpec spec;
  spec.env = {{"PATH", "/opt/bin"}};
  auto env = task_environment(spec, "h", "/s", "/usr/bin");
  EXPECT_EQ(env["PATH"], "/opt/bin");
  EXPECT_EQ(env.count("PORT"), 0u);
  EXPECT_EQ(env["PORTS"], "");
}

}  // namespace berth::agent
