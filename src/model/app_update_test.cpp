// Versions, scale-vs-config changes, partial updates and round trips of app definitions.
#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "model/app.h"
#include "model/app_test_support.h"

namespace berth::model {
namespace {

using namespace app_testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------
// Rollback, versions, scale vs config changes

TEST(AppRollback, OnlyIdAndVersionMakeARollback) {
  EXPECT_TRUE(is_rollback_request({{"version", kVersion}}));
  EXPECT_TRUE(is_rollback_request({{"id", "/x"}, {"version", kVersion}}));
  EXPECT_FALSE(is_rollback_request({{"id", "/x"}}));
  EXPECT_FALSE(is_rollback_request({{"version", kVersion}, {"cmd", "c"}}));
  EXPECT_FALSE(is_rollback_request({{"version", 5}}));
  EXPECT_FALSE(is_rollback_request(json::array()));
}

TEST(AppVersions, ApplyVersionTellsScalingFromConfigChanges) {
  App before = parse_valid(minimal());
  App scaled = before;
  scaled.instances = 5;
  apply_version(scaled, &before, kLaterVersion);
  EXPECT_EQ(scaled.version, kLaterVersion);
  EXPECT_EQ(scaled.version_info, (VersionInfo{kLaterVersion, kVersion}));

  App changed = before;
  changed.cmd = "sleep 2";
  apply_version(changed, &before, kLaterVersion);
  EXPECT_EQ(changed.version_info, (VersionInfo{kLaterVersion, kLaterVersion}));

  App same = before;
  apply_version(same, &before, kLaterVersion);
  EXPECT_EQ(same.version, kLaterVersion);
  EXPECT_EQ(same.version_info, before.version_info);

  App created = before;
  apply_version(created, nullptr, kLaterVersion);
  EXPECT_EQ(created.version_info, (VersionInfo{kLaterVersion, kLaterVersion}));
}

TEST(AppChanges, OnlyAnInstancesChangeIsAScaleOnlyChange) {
  App before = parse_valid(minimal({{"healthChecks", {json::object()}}}));
  App after = before;
  after.instances = 3;
  after.version = kLaterVersion;
  EXPECT_TRUE(is_scale_only_change(before, after));
  EXPECT_FALSE(is_config_change(before, after));
  EXPECT_FALSE(is_scale_only_change(before, before));

  App resized = after;
  resized.cpus = 2;
  EXPECT_FALSE(is_scale_only_change(before, resized));
  EXPECT_TRUE(is_config_change(before, resized));

  App rechecked = after;
  rechecked.extra.get()["healthChecks"][0]["intervalSeconds"] = 10;
  EXPECT_FALSE(is_scale_only_change(before, rechecked));
  EXPECT_TRUE(is_config_change(before, rechecked));
  EXPECT_EQ(extra(before)["healthChecks"][0]["intervalSeconds"], 60);  // copies are deep
}

// ---------------------------------------------------------------------------------------
// Partial updates

App current_app() {
  return parse_valid(minimal({{"cpus", 0.5},
                              {"labels", {{"team", "core"}}},
                              {"env", {{"A", "1"}}},
                              {"constraints", json::array({json::array({"hostname", "UNIQUE"})})},
                              {"healthChecks", {json::object()}}}));
}

TEST(AppMerge, PatchReplacesOnlyTheFieldsItNames) {
  App current = current_app();
  ParseOutcome outcome = merge_app(current, {{"instances", 3}}, kLaterVersion);
  ASSERT_TRUE(outcome.app.has_value()) << validation_error_body(outcome.errors).dump();
  App merged = *outcome.app;
  EXPECT_EQ(merged.instances, 3u);
  EXPECT_EQ(merged.cpus, 0.5);
  EXPECT_EQ(merged.labels, current.labels);
  EXPECT_EQ(merged.env, current.env);
  EXPECT_EQ(merged.constraints, current.constraints);
  EXPECT_EQ(merged.extra, current.extra);
  EXPECT_TRUE(is_scale_only_change(current, merged));
  EXPECT_EQ(merged.version, kLaterVersion);
  EXPECT_EQ(merged.version_info, (VersionInfo{kLaterVersion, kVersion}));
}

TEST(AppMerge, IdNeverChanges) {
  ParseOutcome outcome =
      merge_app(current_app(), {{"id", "/other"}, {"cmd", "sleep 2"}}, kLaterVersion);
  ASSERT_TRUE(outcome.app.has_value());
  EXPECT_EQ(outcome.app->id, "/x");
  EXPECT_EQ(outcome.app->cmd, "sleep 2");
  EXPECT_EQ(outcome.app->version_info, (VersionInfo{kLaterVersion, kLaterVersion}));
}

TEST(AppMerge, NullFieldsInAPatchKeepTheCurrentValue) {
  ParseOutcome outcome = merge_app(current_app(), {{"cpus", nullptr}}, kLaterVersion);
  ASSERT_TRUE(outcome.app.has_value());
  EXPECT_EQ(outcome.app->cpus, 0.5);
}

TEST(AppMerge, InvalidPatchesAreRejectedWithPaths) {
  ParseOutcome outcome = merge_app(current_app(), {{"cpus", -1}}, kLaterVersion);
  EXPECT_FALSE(outcome.app.has_value());
  EXPECT_THAT(errors_at(outcome, "/cpus"), ElementsAre("got -1, expected 0 or more"));
  EXPECT_THAT(merge_app(current_app(), json::array(), kLaterVersion).errors,
              ElementsAre(FieldError{"/", {"error.expected.jsobject"}}));
}

TEST(AppMerge, ArgsInAPatchReplaceTheCurrentCmd) {
  ParseOutcome outcome = merge_app(current_app(), {{"args", {"/bin/true"}}}, kLaterVersion);
  ASSERT_TRUE(outcome.app.has_value()) << validation_error_body(outcome.errors).dump();
  EXPECT_FALSE(outcome.app->cmd.has_value());
  EXPECT_EQ(outcome.app->args, (std::vector<std::string>{"/bin/true"}));
}

TEST(AppMerge, DefaultsThatDependOnOtherFieldsAreRecomputed) {
  App current = parse_valid(minimal());
  json volume =
      json::parse(R"({"type":"MESOS","volumes":[{"containerPath":"/d","external":{"name":"v"}}]})");
  ParseOutcome with_volume = merge_app(current, {{"container", volume}}, kLaterVersion);
  ASSERT_TRUE(with_volume.app.has_value()) << validation_error_body(with_volume.errors).dump();
  EXPECT_EQ(with_volume.app->upgrade_strategy, (UpgradeStrategy{0.5, 0}));

  ParseOutcome bridged =
      merge_app(current, {{"networks", {{{"mode", "container/bridge"}}}}}, kLaterVersion);
  ASSERT_TRUE(bridged.app.has_value()) << validation_error_body(bridged.errors).dump();
  EXPECT_TRUE(bridged.app->port_definitions.empty());
}

TEST(AppMerge, ChosenValuesAreNotReplacedByDefaults) {
  App current = parse_valid(minimal({{"upgradeStrategy", {{"minimumHealthCapacity", 0.9}}}}));
  json volume =
      json::parse(R"({"type":"MESOS","volumes":[{"containerPath":"/d","external":{"name":"v"}}]})");
  ParseOutcome outcome = merge_app(current, {{"container", volume}}, kLaterVersion);
  EXPECT_THAT(errors_at(outcome, "/upgradeStrategy/maximumOverCapacity"),
              ElementsAre("got 1, expected 0 for apps with persistent or external volumes"));
}

// ---------------------------------------------------------------------------------------
// Round trips

// Marathon's full-field reference app (R:v2/examples/app.json) in its legacy network form.
const char* kRichApp = R"({
  "id": "/prod/foo", "instances": 1, "cmd": "sleep 1000", "cpus": 0.1, "disk": 0, "mem": 16,
  "acceptedResourceRoles": ["mesos_role"], "backoffFactor": 1.15, "backoffSeconds": 1,
  "maxLaunchDelaySeconds": 3600,
  "constraints": [["hostname", "like", "srv2.*"], ["rack", "GROUP_BY"]],
  "container": { "type": "DOCKER",
    "docker": { "image": "mesosphere:marathon/latest", "network": "BRIDGE", "forcePullImage": false,
      "privileged": false, "parameters": [ { "key": "name", "value": "kdc" } ],
      "portMappings": [ { "containerPort": 80, "hostPort": 0, "protocol": "tcp", "servicePort": 10019,
                          "name": "http", "labels": { "vip": "192.168.0.1:80" } } ] },
    "volumes": [ { "containerPath": "/docker_storage", "hostPath": "/hdd/tools/docker/registry", "mode": "RW" } ] },
  "dependencies": ["/prod/group", "cache"],
  "env": { "XPS1": "Test", "PASSWORD": { "secret": "secret1" } },
  "healthChecks": [ { "gracePeriodSeconds": 300, "ignoreHttp1xx": false, "intervalSeconds": 20,
                      "maxConsecutiveFailures": 3, "path": "/", "portIndex": 0, "protocol": "HTTP",
                      "timeoutSeconds": 20 },
                    { "protocol": "COMMAND", "command": { "value": "curl -f http://$HOST:$PORT0/" } } ],
  "readinessChecks": [ { "name": "myReadyCheck", "protocol": "HTTP", "path": "/v1/plan", "portName": "http",
                         "intervalSeconds": 10, "timeoutSeconds": 3, "httpStatusCodesForReady": [200],
                         "preserveLastResponse": true } ],
  "labels": { "owner": "zeus", "note": "Away from olympus" },
  "upgradeStrategy": { "maximumOverCapacity": 1, "minimumHealthCapacity": 1 },
  "fetch": [ { "uri": "https://foo.com/setup.py" },
             { "uri": "https://foo.com/archive.zip", "executable": false, "extract": true, "cache": true,
               "destPath": "newname.zip" } ],
  "user": "root", "secrets": { "secret1": { "source": "/db/password" } },
  "taskKillGracePeriodSeconds": 30, "tty": true, "killSelection": "OLDEST_FIRST",
  "unreachableStrategy": { "inactiveAfterSeconds": 300, "expungeAfterSeconds": 600 }
})";

TEST(AppRoundTrip, RichDefinitionSurvivesSerialisationAndParsing) {
  App app = parse_valid(json::parse(kRichApp));
  EXPECT_EQ(app.dependencies, (std::vector<std::string>{"/prod/group", "/prod/cache"}));
  EXPECT_EQ(app.constraints[0], (ConstraintSpec{"hostname", "LIKE", "srv2.*"}));
  EXPECT_EQ(network_mode(app), "container/bridge");
  json out = app_to_json(app);
  EXPECT_EQ(out["container"]["portMappings"][0]["name"], "http");
  EXPECT_EQ(out["acceptedResourceRoles"], json::array({"mesos_role"}));
  EXPECT_EQ(out["tty"], true);
  EXPECT_EQ(out["healthChecks"][1]["command"]["value"], "curl -f http://$HOST:$PORT0/");

  App reparsed = parse_valid(out);
  EXPECT_EQ(reparsed, app);
  EXPECT_EQ(app_to_json(reparsed), out);

  ParseOutcome restored = restore_app(out);
  ASSERT_TRUE(restored.app.has_value()) << validation_error_body(restored.errors).dump();
  EXPECT_EQ(*restored.app, app);
}

TEST(AppRoundTrip, ExtraHoldsOnlyTheDocumentedKeptFields) {
  App app = parse_valid(json::parse(kRichApp));
  for (const auto& [key, value] : extra(app).items()) {
    EXPECT_NE(std::find(std::begin(kKeptFields), std::end(kKeptFields), key), std::end(kKeptFields))
        << key;
  }
  EXPECT_EQ(extra(app).size(),
            9u);  // the six always present, container, acceptedResourceRoles, tty
}

TEST(AppRoundTrip, HostNetworkingDefinitionSurvivesSerialisationAndParsing) {
  App app =
      parse_valid(json::parse(R"({"id":"web","args":["serve"],"user":"nobody","requirePorts":true,
      "portDefinitions":[{"port":8080,"name":"http","labels":{"a":"b"}},{"port":0,"protocol":"udp"}],
      "healthChecks":[{"protocol":"MESOS_HTTP","portIndex":1,"path":"/health"}],
      "container":{"type":"MESOS","docker":{"image":"busybox"}},
      "executor":"//cmd","mem":64.5,"gpus":1})"));
  App reparsed = parse_valid(app_to_json(app));
  EXPECT_EQ(reparsed, app);
}

TEST(AppRoundTrip, RestoreKeepsTheStoredVersion) {
  App app = parse_valid(minimal());
  App scaled = app;
  scaled.instances = 2;
  apply_version(scaled, &app, kLaterVersion);
  ParseOutcome restored = restore_app(app_to_json(scaled));
  ASSERT_TRUE(restored.app.has_value());
  EXPECT_EQ(restored.app->version, kLaterVersion);
  EXPECT_EQ(restored.app->version_info, (VersionInfo{kLaterVersion, kVersion}));
  EXPECT_EQ(*restored.app, scaled);
}

}  // namespace
}  // namespace berth::model
