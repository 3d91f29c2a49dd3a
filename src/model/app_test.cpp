// Parsing, normalisation and validation of app definitions.
#include "model/app.h"

#include <string>
#include <vector>

#include "model/app_test_support.h"

namespace berth::model {
namespace {

using namespace app_testing;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// ---------------------------------------------------------------------------------------
// Defaults

TEST(AppDefaults, MinimalDefinitionGetsEveryDefault) {
  App app = parse_valid(minimal());
  EXPECT_EQ(app.id, "/x");
  EXPECT_EQ(app.cmd, "sleep 1");
  EXPECT_FALSE(app.args.has_value());
  EXPECT_EQ(app.cpus, 1.0);
  EXPECT_EQ(app.mem, 128.0);
  EXPECT_EQ(app.disk, 0.0);
  EXPECT_EQ(app.gpus, 0);
  EXPECT_EQ(app.instances, 1u);
  EXPECT_EQ(app.backoff_seconds, 1.0);
  EXPECT_EQ(app.backoff_factor, 1.15);
  EXPECT_EQ(app.max_launch_delay_seconds, 300.0);
  EXPECT_EQ(app.kill_selection, "YOUNGEST_FIRST");
  EXPECT_EQ(app.upgrade_strategy, (UpgradeStrategy{1.0, 1.0}));
  EXPECT_FALSE(app.require_ports);
  ASSERT_EQ(app.port_definitions.size(), 1u);
  EXPECT_EQ(app.port_definitions[0], (PortDefinition{0, "tcp", "default", {}}));
  EXPECT_EQ(app.version, kVersion);
  EXPECT_EQ(app.version_info, (VersionInfo{kVersion, kVersion}));
  EXPECT_EQ(network_mode(app), "host");
}

TEST(AppDefaults, CanonicalJsonShowsEveryDefaultExplicitly) {
  json out = app_to_json(parse_valid(minimal()));
  json expected = {
      {"id", "/x"},
      {"cmd", "sleep 1"},
      {"cpus", 1.0},
      {"mem", 128.0},
      {"disk", 0.0},
      {"gpus", 0},
      {"instances", 1},
      {"executor", ""},
      {"env", json::object()},
      {"labels", json::object()},
      {"constraints", json::array()},
      {"dependencies", json::array()},
      {"healthChecks", json::array()},
      {"readinessChecks", json::array()},
      {"fetch", json::array()},
      {"secrets", json::object()},
      {"networks", json::array({{{"mode", "host"}}})},
      {"portDefinitions",
       json::array(
           {{{"port", 0}, {"name", "default"}, {"protocol", "tcp"}, {"labels", json::object()}}})},
      {"requirePorts", false},
      {"backoffSeconds", 1},
      {"backoffFactor", 1.15},
      {"maxLaunchDelaySeconds", 300},
      {"upgradeStrategy", {{"minimumHealthCapacity", 1.0}, {"maximumOverCapacity", 1.0}}},
      {"killSelection", "YOUNGEST_FIRST"},
      {"unreachableStrategy", {{"inactiveAfterSeconds", 0}, {"expungeAfterSeconds", 0}}},
      {"version", kVersion},
      {"versionInfo", {{"lastScalingAt", kVersion}, {"lastConfigChangeAt", kVersion}}},
  };
  EXPECT_EQ(out, expected) << out.dump(2);
}

TEST(AppDefaults, WholeSecondFieldsAreWrittenAsIntegersAndResourcesAsDoubles) {
  std::string text = app_to_json(parse_valid(minimal())).dump();
  EXPECT_THAT(text, HasSubstr("\"backoffSeconds\":1,"));
  EXPECT_THAT(text, HasSubstr("\"maxLaunchDelaySeconds\":300,"));
  EXPECT_THAT(text, HasSubstr("\"mem\":128.0"));
  EXPECT_THAT(text, HasSubstr("\"cpus\":1.0"));
}

TEST(AppDefaults, NullFieldsCountAsAbsentAndUnknownFieldsAreIgnored) {
  App app = parse_valid(minimal({{"cpus", nullptr}, {"labels", nullptr}, {"flavour", "vanilla"}}));
  EXPECT_EQ(app.cpus, 1.0);
  EXPECT_TRUE(app.labels.empty());
  EXPECT_FALSE(app_to_json(app).contains("flavour"));
}

TEST(AppDefaults, BodyVersionIsIgnoredOnCreate) {
  App app = parse_valid(minimal({{"version", "2001-01-01T00:00:00.000Z"}}));
  EXPECT_EQ(app.version, kVersion);
}

// ---------------------------------------------------------------------------------------
// Ids

TEST(AppIds, RelativeIdsResolveAgainstTheBaseGroup) {
  EXPECT_EQ(parse(minimal({{"id", "web"}}), "/prod").app->id, "/prod/web");
  EXPECT_EQ(parse(minimal({{"id", "../web"}}), "/prod/backend").app->id, "/prod/web");
  EXPECT_EQ(parse(minimal({{"id", "./web"}}), "/prod").app->id, "/prod/web");
  EXPECT_EQ(parse(minimal({{"id", "/abs/web"}}), "/prod").app->id, "/abs/web");
  EXPECT_EQ(parse(minimal({{"id", "web"}}), "/").app->id, "/web");
}

TEST(AppIds, NormalizeResolvesDotsAndDropsEmptySegments) {
  EXPECT_EQ(normalize_app_id("//a//b/", "/"), "/a/b");
  EXPECT_EQ(normalize_app_id("/a/./b/../c", "/"), "/a/c");
  EXPECT_EQ(normalize_app_id("../../../x", "/a"), "/x");
  EXPECT_EQ(normalize_app_id("web.prod", "/g"), "/g/web.prod");
}

TEST(AppIds, ValidIdsHaveNoError) {
  for (const char* id : {"x", "/prod/web", "web-1", "a.b.c", "1", "../sibling", "/a/./b"}) {
    EXPECT_EQ(app_id_error(id), std::nullopt) << id;
  }
}

TEST(AppIds, SegmentsMustMatchMarathonsPattern) {
  for (const char* id : {"My_App", "-web", "web-", "we_b", "a..b", "/prod/Web", "sp ace"}) {
    std::string message = error_for(minimal({{"id", id}}), "/id");
    EXPECT_THAT(message, HasSubstr("must fully match regular expression")) << id;
  }
  EXPECT_THAT(*app_id_error("/prod/My_App"),
              HasSubstr("'My_App' in '/prod/My_App' must fully match"));
}

TEST(AppIds, VeryLongIdsAreCheckedWithoutExhaustingTheStack) {
  EXPECT_EQ(app_id_error("/" + std::string(200000, 'a')), std::nullopt);
  std::string message = error_for(minimal({{"id", std::string(200000, 'a') + "_"}}), "/id");
  EXPECT_THAT(message, HasSubstr("...' must fully match regular expression"));
  EXPECT_LT(message.size(), 300u);  // the offending value is cut short
}

TEST(AppIds, LastSegmentMustNotBeAReservedWord) {
  for (const char* id : {"restart", "/foo/tasks", "versions", "foo/.", "foo/.."}) {
    EXPECT_THAT(error_for(minimal({{"id", id}}), "/id"),
                HasSubstr("must not end with any of the following reserved keywords"))
        << id;
  }
  EXPECT_EQ(app_id_error("/tasks/web"), std::nullopt);
}

TEST(AppIds, RootAndEmptyIdsAreRejected) {
  EXPECT_EQ(error_for(minimal({{"id", "/"}}), "/id"), "must not be root");
  EXPECT_EQ(error_for(minimal({{"id", ""}}), "/id"), "must not be empty");
}

TEST(AppIds, IdIsRequiredAndMustBeAString) {
  json body = minimal();
  body.erase("id");
  EXPECT_EQ(error_for(body, "/id"), "error.path.missing");
  EXPECT_EQ(error_for(minimal({{"id", 5}}), "/id"), "error.expected.jsstring");
}

TEST(AppIds, PathIdOfAPutIsUsedWhateverTheBodySays) {
  ParseOptions options;
  options.path_id = "/prod/web";
  options.version = kVersion;
  json body = minimal();
  EXPECT_EQ(parse_app(body, options).app->id, "/prod/web");
  body.erase("id");
  EXPECT_EQ(parse_app(body, options).app->id, "/prod/web");
}

TEST(AppIds, SafeIdAndParentGroupAreDerivedFromTheId) {
  EXPECT_EQ(safe_app_id("/prod/web"), "prod_web");
  EXPECT_EQ(safe_app_id("/x"), "x");
  EXPECT_EQ(parent_group("/prod/web"), "/prod");
  EXPECT_EQ(parent_group("/web"), "/");
}

// ---------------------------------------------------------------------------------------
// cmd, args, container

constexpr const char* kCmdArgsOrContainer =
    "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.";

TEST(AppCommand, NeitherCmdNorArgsNorContainerIsRejected) {
  EXPECT_EQ(error_for(json{{"id", "x"}}, "/"), kCmdArgsOrContainer);
}

TEST(AppCommand, BothCmdAndArgsAreRejected) {
  EXPECT_EQ(error_for(minimal({{"args", {"a"}}}), "/"), kCmdArgsOrContainer);
}

TEST(AppCommand, ArgsAloneOrADockerImageAloneIsEnough) {
  App with_args = parse_valid({{"id", "x"}, {"args", {"/bin/sleep", "1"}}});
  EXPECT_EQ(with_args.args, (std::vector<std::string>{"/bin/sleep", "1"}));
  App with_image = parse_valid({{"id", "x"}, {"container", {{"docker", {{"image", "nginx"}}}}}});
  EXPECT_EQ(docker_image(with_image), "nginx");
  EXPECT_EQ(extra(with_image)["container"]["type"], "DOCKER");
}

TEST(AppCommand, EmptyCmdIsRejected) {
  EXPECT_EQ(error_for(minimal({{"cmd", ""}}), "/cmd"), "must not be an empty string");
}

// ---------------------------------------------------------------------------------------
// Numbers and enums

TEST(AppNumbers, ResourcesMustNotBeNegative) {
  EXPECT_EQ(error_for(minimal({{"cpus", -1}}), "/cpus"), "got -1, expected 0 or more");
  EXPECT_EQ(error_for(minimal({{"mem", -0.5}}), "/mem"), "got -0.5, expected 0 or more");
  EXPECT_EQ(error_for(minimal({{"disk", -2}}), "/disk"), "got -2, expected 0 or more");
  EXPECT_EQ(error_for(minimal({{"gpus", -1}}), "/gpus"), "got -1, expected 0 or more");
  EXPECT_EQ(error_for(minimal({{"instances", -1}}), "/instances"), "got -1, expected 0 or more");
}

TEST(AppNumbers, ZeroResourcesAndInstancesAreAccepted) {
  App app = parse_valid(minimal({{"cpus", 0}, {"mem", 0}, {"instances", 0}}));
  EXPECT_EQ(app.instances, 0u);
  EXPECT_EQ(app.cpus, 0.0);
}

TEST(AppNumbers, InstancesAndGpusMustBeIntegers) {
  EXPECT_EQ(error_for(minimal({{"instances", 1.5}}), "/instances"), "error.expected.int");
  EXPECT_EQ(error_for(minimal({{"instances", 4294967296LL}}), "/instances"), "error.expected.int");
  EXPECT_EQ(error_for(minimal({{"gpus", 0.5}}), "/gpus"), "error.expected.int");
  EXPECT_EQ(parse_valid(minimal({{"instances", 3.0}})).instances, 3u);
}

TEST(AppNumbers, BackoffBoundsAreEnforced) {
  EXPECT_EQ(error_for(minimal({{"backoffSeconds", -1}}), "/backoffSeconds"),
            "got -1, expected 0 or more");
  EXPECT_EQ(error_for(minimal({{"backoffFactor", 0.5}}), "/backoffFactor"),
            "got 0.5, expected 1 or more");
  EXPECT_EQ(error_for(minimal({{"maxLaunchDelaySeconds", -3}}), "/maxLaunchDelaySeconds"),
            "got -3, expected 0 or more");
  App app = parse_valid(
      minimal({{"backoffSeconds", 0}, {"backoffFactor", 1.0}, {"maxLaunchDelaySeconds", 3600}}));
  EXPECT_EQ(app.backoff_factor, 1.0);
  EXPECT_EQ(app.max_launch_delay_seconds, 3600.0);
}

TEST(AppNumbers, UpgradeStrategyValuesMustBeBetweenZeroAndOne) {
  EXPECT_EQ(error_for(minimal({{"upgradeStrategy", {{"minimumHealthCapacity", 1.5}}}}),
                      "/upgradeStrategy/minimumHealthCapacity"),
            "is greater than 1");
  EXPECT_EQ(error_for(minimal({{"upgradeStrategy", {{"maximumOverCapacity", -0.1}}}}),
                      "/upgradeStrategy/maximumOverCapacity"),
            "is less than 0");
  App app = parse_valid(minimal({{"upgradeStrategy", {{"minimumHealthCapacity", 0.5}}}}));
  EXPECT_EQ(app.upgrade_strategy, (UpgradeStrategy{0.5, 1.0}));
}

TEST(AppNumbers, KillSelectionMustBeAKnownValue) {
  EXPECT_EQ(error_for(minimal({{"killSelection", "RANDOM"}}), "/killSelection"),
            "got 'RANDOM', expected one of YOUNGEST_FIRST, OLDEST_FIRST");
  EXPECT_EQ(parse_valid(minimal({{"killSelection", "OLDEST_FIRST"}})).kill_selection,
            "OLDEST_FIRST");
}

TEST(AppNumbers, TaskKillGracePeriodIsOptionalAndNotNegative) {
  EXPECT_FALSE(parse_valid(minimal()).task_kill_grace_period_seconds.has_value());
  EXPECT_EQ(
      parse_valid(minimal({{"taskKillGracePeriodSeconds", 30}})).task_kill_grace_period_seconds,
      30.0);
  EXPECT_EQ(error_for(minimal({{"taskKillGracePeriodSeconds", -1}}), "/taskKillGracePeriodSeconds"),
            "got -1, expected 0 or more");
}

// ---------------------------------------------------------------------------------------
// Malformed JSON types

TEST(AppTypes, WrongJsonTypesAreReportedWithMarathonsCodes) {
  EXPECT_EQ(error_for(minimal({{"cpus", "1"}}), "/cpus"), "error.expected.jsnumber");
  EXPECT_EQ(error_for(minimal({{"instances", "3"}}), "/instances"), "error.expected.jsnumber");
  EXPECT_EQ(error_for(minimal({{"cmd", 5}}), "/cmd"), "error.expected.jsstring");
  EXPECT_EQ(error_for({{"id", "x"}, {"args", "sleep"}}, "/args"), "error.expected.jsarray");
  EXPECT_EQ(error_for({{"id", "x"}, {"args", {"sleep", 1}}}, "/args(1)"),
            "error.expected.jsstring");
  EXPECT_EQ(error_for(minimal({{"env", 5}}), "/env"), "error.expected.jsobject");
  EXPECT_EQ(error_for(minimal({{"env", {{"A", 1}}}}), "/env/A"), "error.expected.jsstring");
  EXPECT_EQ(error_for(minimal({{"labels", {{"a", true}}}}), "/labels/a"),
            "error.expected.jsstring");
  EXPECT_EQ(error_for(minimal({{"requirePorts", "yes"}}), "/requirePorts"),
            "error.expected.jsboolean");
  EXPECT_EQ(error_for(minimal({{"constraints", "x"}}), "/constraints"), "error.expected.jsarray");
  EXPECT_EQ(error_for(minimal({{"upgradeStrategy", 1}}), "/upgradeStrategy"),
            "error.expected.jsobject");
  EXPECT_EQ(error_for(minimal({{"healthChecks", {{{"intervalSeconds", "60"}}}}}),
                      "/healthChecks(0)/intervalSeconds"),
            "error.expected.jsnumber");
}

TEST(AppTypes, ABodyThatIsNotAnObjectIsRejected) {
  ParseOutcome outcome = parse(json::array());
  EXPECT_THAT(outcome.errors, ElementsAre(FieldError{"/", {"error.expected.jsobject"}}));
}

TEST(AppTypes, EveryErrorIsReportedAtOnce) {
  ParseOutcome outcome = parse({{"id", "Bad"}, {"cpus", "x"}, {"mem", -1}});
  EXPECT_FALSE(outcome.app.has_value());
  EXPECT_EQ(errors_at(outcome, "/cpus").size(), 1u);
  EXPECT_EQ(errors_at(outcome, "/mem").size(), 1u);
  EXPECT_EQ(errors_at(outcome, "/id").size(), 1u);
  EXPECT_EQ(errors_at(outcome, "/").size(), 1u);  // no cmd, args or container
}

TEST(AppTypes, ValidationErrorBodyHasMarathonsShape) {
  json body = validation_error_body({FieldError{"/cpus", {"error.expected.jsnumber"}}});
  EXPECT_EQ(body, json::parse(R"({"message":"Object is not valid",
                                  "details":[{"path":"/cpus","errors":["error.expected.jsnumber"]}]})"));
}

// ---------------------------------------------------------------------------------------
// Env and labels

TEST(AppEnv, SecretReferencesAreKeptApartFromPlainValues) {
  App app = parse_valid(minimal({{"env", {{"A", "1"}, {"PASSWORD", {{"secret", "db"}}}}},
                                 {"secrets", {{"db", {{"source", "/db/password"}}}}}}));
  EXPECT_EQ(app.env, (std::map<std::string, std::string>{{"A", "1"}}));
  EXPECT_EQ(app.env_secrets, (std::map<std::string, std::string>{{"PASSWORD", "db"}}));
  json out = app_to_json(app);
  EXPECT_EQ(out["env"], json::parse(R"({"A":"1","PASSWORD":{"secret":"db"}})"));
  EXPECT_EQ(out["secrets"], json::parse(R"({"db":{"source":"/db/password"}})"));
}

// ---------------------------------------------------------------------------------------
// Constraints

TEST(AppConstraints, OperatorIsCaseInsensitiveAndNormalisedToUpperCase) {
  App app =
      parse_valid(minimal({{"constraints", {{"hostname", "unique"}, {"rack", "Group_By", "3"}}}}));
  ASSERT_EQ(app.constraints.size(), 2u);
  EXPECT_EQ(app.constraints[0], (ConstraintSpec{"hostname", "UNIQUE", std::nullopt}));
  EXPECT_EQ(app.constraints[1], (ConstraintSpec{"rack", "GROUP_BY", "3"}));
  EXPECT_EQ(app_to_json(app)["constraints"],
            json::parse(R"([["hostname","UNIQUE"],["rack","GROUP_BY","3"]])"));
}

TEST(AppConstraints, EveryOperatorAcceptsItsValidForms) {
  App app = parse_valid(minimal({{"constraints",
                                  {{"hostname", "CLUSTER"},
                                   {"hostname", "CLUSTER", "a.example.com"},
                                   {"rack", "GROUP_BY"},
                                   {"hostname", "LIKE", "srv[0-9]+"},
                                   {"hostname", "UNLIKE", "db.*"},
                                   {"hostname", "MAX_PER", "2"},
                                   {"zone", "IS", "us-east-1a"}}}}));
  EXPECT_EQ(app.constraints.size(), 7u);
}

std::string constraint_error(const json& constraint) {
  return error_for(minimal({{"constraints", json::array({constraint})}}), "/constraints(0)");
}

TEST(AppConstraints, InvalidConstraintsGetMarathonsMessages) {
  EXPECT_EQ(constraint_error({"hostname"}), "Each constraint must have either 2 or 3 fields");
  EXPECT_EQ(constraint_error({"hostname", "UNIQUE", "a", "b"}),
            "Each constraint must have either 2 or 3 fields");
  EXPECT_EQ(constraint_error({"hostname", "FOO"}),
            "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, "
            "UNLIKE or IS");
  EXPECT_EQ(constraint_error({"hostname", "UNIQUE", "x"}), "UNIQUE does not accept a value");
  EXPECT_EQ(constraint_error({"hostname", "LIKE"}),
            "LIKE and UNLIKE require a non-empty, regular expression value");
  EXPECT_EQ(constraint_error({"hostname", "UNLIKE", ""}),
            "LIKE and UNLIKE require a non-empty, regular expression value");
  EXPECT_EQ(constraint_error({"hostname", "LIKE", "[a-"}),
            "'[a-' is not a valid regular expression: missing ]: [a-");
  EXPECT_EQ(constraint_error({"hostname", "MAX_PER"}), "MAX_PER requires an integer value");
  EXPECT_EQ(constraint_error({"hostname", "MAX_PER", "two"}), "MAX_PER requires an integer value");
  EXPECT_EQ(constraint_error({"rack", "GROUP_BY", "1.5"}),
            "GROUP BY must define an integer value or else no value at all");
  EXPECT_THAT(constraint_error({"zone", "IS", "a b"}),
              HasSubstr("IS only supports Mesos text and float values"));
  EXPECT_EQ(constraint_error({"", "UNIQUE"}), "missing field for constraint declaration");
  EXPECT_EQ(constraint_error({"hostname", "MAX_PER", "9999999999"}),
            "MAX_PER requires an integer value");
}

// Patterns run on RE2 (linear time), so what it cannot run is refused when the app is posted,
// with the reason, rather than never matching in the scheduler.
TEST(AppConstraints, PatternsTheLinearTimeEngineCannotRunAreRefused) {
  EXPECT_EQ(constraint_error({"hostname", "LIKE", "(a)\\1"}),
            "'(a)\\1' is not a valid regular expression: invalid escape sequence: \\1 "
            "(backreferences and lookaround are not supported)");
  EXPECT_EQ(constraint_error({"hostname", "UNLIKE", "web(?=1)"}),
            "'web(?=1)' is not a valid regular expression: invalid perl operator: (?= "
            "(backreferences and lookaround are not supported)");
  EXPECT_THAT(constraint_error({"hostname", "LIKE", "\\pL{1000}"}),
              HasSubstr("is not a valid regular expression: it compiles to more than 1024 KiB"));
  App app = parse_valid(
      minimal({{"constraints", json::array({json::array({"hostname", "LIKE", "(((.*)*)*)*x"})})}}));
  EXPECT_EQ(app.constraints[0], (ConstraintSpec{"hostname", "LIKE", "(((.*)*)*)*x"}));
}

TEST(AppConstraints, IntegerValuesFollowJavasParseInt) {
  App app = parse_valid(
      minimal({{"constraints", json::array({json::array({"a", "MAX_PER", "+2"}),
                                            json::array({"b", "GROUP_BY", "-2147483648"})})}}));
  EXPECT_EQ(app.constraints.size(), 2u);
  EXPECT_EQ(constraint_error({"a", "MAX_PER", "2147483648"}), "MAX_PER requires an integer value");
}

TEST(AppConstraints, OverlongLikePatternsAreRejected) {
  std::string pattern = std::string(60000, '(') + "a" + std::string(60000, ')');
  EXPECT_EQ(constraint_error({"hostname", "LIKE", pattern}),
            "is 120001 characters long; LIKE and UNLIKE patterns may have at most 1024");
  App app = parse_valid(minimal(
      {{"constraints", json::array({json::array({"zone", "IS", std::string(100000, 'z')})})}}));
  EXPECT_EQ(app.constraints.size(), 1u);
}

TEST(AppConstraints, ErrorsNameTheOffendingConstraintsIndex) {
  json constraints =
      json::array({json::array({"hostname", "UNIQUE"}), json::array({"hostname", "BOGUS"})});
  ParseOutcome outcome = parse(minimal({{"constraints", constraints}}));
  EXPECT_TRUE(errors_at(outcome, "/constraints(0)").empty());
  EXPECT_EQ(errors_at(outcome, "/constraints(1)").size(), 1u);
  EXPECT_EQ(error_for(minimal({{"constraints", json::array({json::array({"hostname", 5})})}}),
                      "/constraints(0)(1)"),
            "error.expected.jsstring");
}

// ---------------------------------------------------------------------------------------
// Ports

TEST(AppPorts, LegacyPortsBecomePortDefinitions) {
  App app = parse_valid(minimal({{"ports", {8080, 0}}}));
  ASSERT_EQ(app.port_definitions.size(), 2u);
  EXPECT_EQ(app.port_definitions[0], (PortDefinition{8080, "tcp", std::nullopt, {}}));
  EXPECT_EQ(app.port_definitions[1].port, 0u);
  json out = app_to_json(app);
  EXPECT_FALSE(out.contains("ports"));
  EXPECT_EQ(out["portDefinitions"][0]["port"], 8080);
}

TEST(AppPorts, PortsAndDifferentPortDefinitionsAreRejected) {
  json definitions = {{{"port", 9000}}};
  EXPECT_EQ(error_for(minimal({{"ports", {8080}}, {"portDefinitions", definitions}}), "/"),
            "cannot specify both ports and port definitions");
  App same = parse_valid(minimal({{"ports", {9000}}, {"portDefinitions", definitions}}));
  EXPECT_EQ(same.port_definitions.size(), 1u);
}

TEST(AppPorts, DuplicateLegacyPortsAreRejected) {
  EXPECT_EQ(error_for(minimal({{"ports", {80, 80}}}), "/ports"), "ports must be unique");
  EXPECT_EQ(parse_valid(minimal({{"ports", {0, 0}}})).port_definitions.size(), 2u);
}

TEST(AppPorts, PortDefinitionFieldsAreValidated) {
  EXPECT_EQ(
      error_for(minimal({{"portDefinitions", {{{"port", 70000}}}}}), "/portDefinitions(0)/port"),
      "got 70000, expected between 0 and 65535");
  EXPECT_EQ(error_for(minimal({{"portDefinitions", {{{"port", 80}, {"protocol", "sctp"}}}}}),
                      "/portDefinitions(0)/protocol"),
            "must be one of tcp, udp, udp,tcp");
  EXPECT_EQ(error_for(minimal({{"portDefinitions", {{{"port", 80}, {"name", "Bad_Name"}}}}}),
                      "/portDefinitions(0)/name"),
            "must fully match regular expression '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'");
  App app = parse_valid(minimal({{"portDefinitions",
                                  {{{"port", 53},
                                    {"protocol", "udp,tcp"},
                                    {"name", "dns"},
                                    {"labels", {{"VIP_0", "1.2.3.4:53"}}}}}}}));
  EXPECT_EQ(app.port_definitions[0],
            (PortDefinition{53, "udp,tcp", "dns", {{"VIP_0", "1.2.3.4:53"}}}));
}

TEST(AppPorts, PortNamesAndNonZeroPortsMustBeUnique) {
  EXPECT_EQ(error_for(minimal({{"portDefinitions",
                                {{{"port", 1}, {"name", "a"}}, {{"port", 2}, {"name", "a"}}}}}),
                      "/portDefinitions"),
            "Port names must be unique.");
  EXPECT_EQ(error_for(minimal({{"portDefinitions", {{{"port", 80}}, {{"port", 80}}}}}),
                      "/portDefinitions"),
            "Ports must be unique.");
  EXPECT_EQ(parse_valid(minimal({{"portDefinitions", {{{"port", 0}}, {{"port", 0}}}}}))
                .port_definitions.size(),
            2u);
}

TEST(AppPorts, EmptyPortDefinitionsAreKept) {
  App app = parse_valid(minimal({{"portDefinitions", json::array()}}));
  EXPECT_TRUE(app.port_definitions.empty());
  EXPECT_EQ(app_to_json(app)["portDefinitions"], json::array());
}

TEST(AppPorts, ContainerNetworkingHasNoPortDefinitions) {
  json bridge = {{"networks", {{{"mode", "container/bridge"}}}}};
  App app = parse_valid(minimal(bridge));
  EXPECT_TRUE(app.port_definitions.empty());
  EXPECT_EQ(network_mode(app), "container/bridge");
  EXPECT_FALSE(app_to_json(app).contains("portDefinitions"));
  json with_ports = minimal(bridge);
  with_ports["portDefinitions"] = {{{"port", 80}}};
  EXPECT_EQ(error_for(with_ports, "/"), "portDefinitions are only allowed with host-networking");
}

// ---------------------------------------------------------------------------------------
// Networks and containers

TEST(AppContainers, LegacyDockerNetworkBecomesNetworks) {
  App app = parse_valid(json::parse(R"({"id":"web","container":{"type":"DOCKER",
      "docker":{"image":"python:3","network":"BRIDGE",
                "portMappings":[{"containerPort":8080,"hostPort":0,"servicePort":9000,"protocol":"tcp"}]}}})"));
  EXPECT_EQ(extra(app)["networks"], json::parse(R"([{"mode":"container/bridge"}])"));
  const json& container = extra(app)["container"];
  EXPECT_FALSE(container["docker"].contains("network"));
  EXPECT_FALSE(container["docker"].contains("portMappings"));
  EXPECT_EQ(
      container["portMappings"],
      json::parse(R"([{"containerPort":8080,"hostPort":0,"servicePort":9000,"protocol":"tcp"}])"));
  EXPECT_EQ(container["docker"]["privileged"], false);
  EXPECT_EQ(container["docker"]["forcePullImage"], false);
  EXPECT_EQ(container["docker"]["parameters"], json::array());
  EXPECT_EQ(container["volumes"], json::array());
}

TEST(AppContainers, BridgeNetworkingGetsTheDefaultPortMapping) {
  App app = parse_valid(json::parse(R"({"id":"web","networks":[{"mode":"container/bridge"}],
      "container":{"docker":{"image":"nginx"}}})"));
  EXPECT_EQ(
      extra(app)["container"]["portMappings"],
      json::parse(
          R"([{"containerPort":0,"hostPort":0,"servicePort":0,"protocol":"tcp","name":"default"}])"));
}

TEST(AppContainers, InvalidNetworkCombinationsAreRejected) {
  json both = json::parse(R"({"id":"x","networks":[{"mode":"host"}],
      "container":{"docker":{"image":"nginx","network":"HOST"}}})");
  EXPECT_EQ(error_for(both, "/"), "must not specify both container.docker.network and networks");
  EXPECT_EQ(error_for(minimal({{"networks", {{{"mode", "host"}}, {{"mode", "container/bridge"}}}}}),
                      "/networks"),
            "May specify a single host network, single bridge network, or else 1-to-n container "
            "networks");
  EXPECT_EQ(error_for(minimal({{"networks", {{{"mode", "bogus"}}}}}), "/networks(0)/mode"),
            "got 'bogus', expected one of host, container/bridge, container");
  json wrong =
      json::parse(R"({"id":"x","container":{"docker":{"image":"nginx","network":"OVERLAY"}}})");
  EXPECT_THAT(error_for(wrong, "/container/docker/network"),
              HasSubstr("expected one of BRIDGE, HOST, NONE, USER"));
}

// The legacy NONE is Docker's own "none" network, which `networks` names as a container network.
TEST(AppContainers, LegacyNoneNetworkIsDockersNoneNetwork) {
  auto outcome = parse_app(
      json::parse(R"({"id":"x","container":{"docker":{"image":"nginx","network":"NONE"}}})"),
      ParseOptions{"/", std::nullopt, "2026-01-01T00:00:00.000Z"});
  ASSERT_TRUE(outcome.app) << outcome.errors.size();
  EXPECT_EQ(outcome.app->extra.get()["networks"],
            json::parse(R"([{"mode":"container","name":"none"}])"));
  EXPECT_EQ(network_mode(*outcome.app), "container");
}

// Volumes of the berth driver given as docker parameters (the seed demo's shape) are datasets
// of the app, with Marathon's rules for exclusive volumes.
TEST(AppContainers, DockerParameterVolumesOfTheBerthDriverAreDatasets) {
  json body =
      json::parse(R"({"id":"counter","container":{"type":"DOCKER","docker":{"image":"berth/counter",
      "network":"BRIDGE","portMappings":[{"containerPort":80,"hostPort":8080}],
      "parameters":[{"key":"volume-driver","value":"flocker"},{"key":"volume","value":"clicks:/data:ro"},
                    {"key":"volume","value":"/host/logs:/logs"}]}}})");
  auto outcome = parse_app(body, ParseOptions{"/", std::nullopt, "2026-01-01T00:00:00.000Z"});
  ASSERT_TRUE(outcome.app);
  auto volumes = dataset_volumes(*outcome.app);
  ASSERT_EQ(volumes.size(), 1u);  // the host path is a bind mount, not a dataset
  EXPECT_EQ(volumes[0].name, "clicks");
  EXPECT_EQ(volumes[0].container_path, "/data");
  EXPECT_EQ(volumes[0].mode, "RO");
  EXPECT_EQ(volumes[0].driver, "flocker");
  EXPECT_TRUE(has_external_volumes(*outcome.app));
  EXPECT_EQ(outcome.app->upgrade_strategy.maximum_over_capacity, 0);
  body["instances"] = 2;
  EXPECT_EQ(error_for(body, "/instances"),
            "Number of instances is limited to 1 when declaring DVDI volumes");
  // Another driver's volumes are not berth's business.
  body["instances"] = 1;
  body["container"]["docker"]["parameters"][0]["value"] = "rexray";
  auto other = parse_app(body, ParseOptions{"/", std::nullopt, "2026-01-01T00:00:00.000Z"});
  ASSERT_TRUE(other.app);
  EXPECT_TRUE(dataset_volumes(*other.app).empty());
}

// Service ports live in portDefinitions (host networking) or portMappings (other modes).
TEST(AppContainers, ServicePortsFollowTheNetworkMode) {
  auto bridge =
      parse_app(json::parse(R"({"id":"b","container":{"type":"DOCKER","docker":{"image":"i"},
      "portMappings":[{"containerPort":80,"servicePort":10001},{"containerPort":81,"hostPort":31000}]},
      "networks":[{"mode":"container/bridge"}]})"),
                ParseOptions{"/", std::nullopt, "2026-01-01T00:00:00.000Z"});
  ASSERT_TRUE(bridge.app);
  EXPECT_EQ(service_ports(*bridge.app), (std::vector<uint32_t>{10001, 0}));
  auto mappings = port_mappings(*bridge.app);
  ASSERT_EQ(mappings.size(), 2u);
  EXPECT_EQ(mappings[0].host_port, 0u);
  EXPECT_EQ(mappings[1].host_port, 31000u);
  set_service_ports(*bridge.app, {10001, 10002});
  EXPECT_EQ(service_ports(*bridge.app), (std::vector<uint32_t>{10001, 10002}));
  EXPECT_EQ(bridge.app->extra.get()["container"]["portMappings"][1]["servicePort"], 10002);
  auto host = parse_app(json::parse(R"({"id":"h","cmd":"x","portDefinitions":[{"port":10005}]})"),
                        ParseOptions{"/", std::nullopt, "2026-01-01T00:00:00.000Z"});
  ASSERT_TRUE(host.app);
  EXPECT_EQ(service_ports(*host.app), (std::vector<uint32_t>{10005}));
}

TEST(AppContainers, PortMappingsAreNotAllowedWithHostNetworking) {
  json body = json::parse(R"({"id":"x","container":{"docker":{"image":"nginx"},
      "portMappings":[{"containerPort":80}]}})");
  EXPECT_EQ(error_for(body, "/"), "portMappings are not allowed with host-networking");
}

TEST(AppContainers, DockerContainerNeedsAnImage) {
  EXPECT_EQ(error_for(minimal({{"container", {{"type", "DOCKER"}, {"docker", {{"image", ""}}}}}}),
                      "/container/docker/image"),
            "must not be empty");
  EXPECT_EQ(error_for(minimal({{"container", {{"type", "DOCKER"}}}}), "/container/docker"),
            "must be defined when the container type is DOCKER");
  EXPECT_EQ(error_for(minimal({{"container", {{"type", "RKT"}}}}), "/container/type"),
            "got 'RKT', expected one of DOCKER, MESOS");
  App mesos = parse_valid(minimal({{"container", {{"type", "MESOS"}}}}));
  EXPECT_EQ(extra(mesos)["container"]["type"], "MESOS");
}

TEST(AppContainers, GpusAreRejectedWithTheDockerContainerizer) {
  EXPECT_EQ(
      error_for(minimal({{"gpus", 1}, {"container", {{"docker", {{"image", "cuda"}}}}}}), "/"),
      "GPU resources only work with the Mesos containerizer");
  EXPECT_EQ(parse_valid(minimal({{"gpus", 1}})).gpus, 1);
}

// ---------------------------------------------------------------------------------------
// Volumes

json external_volume_app(const json& fields = json::object()) {
  json body = json::parse(R"({"id":"/db","cmd":"run","container":{"type":"MESOS","volumes":[
      {"containerPath":"/data","mode":"RW",
       "external":{"name":"pgdata","provider":"dvdi","options":{"dvdi/driver":"berth"}}}]}})");
  body.update(fields);
  return body;
}

TEST(AppVolumes, ExternalVolumesDefaultTheUpgradeStrategyToHalfAndZero) {
  App app = parse_valid(external_volume_app());
  EXPECT_TRUE(has_external_volumes(app));
  EXPECT_FALSE(has_persistent_volumes(app));
  EXPECT_EQ(app.upgrade_strategy, (UpgradeStrategy{0.5, 0.0}));
  std::vector<ExternalVolume> volumes = external_volumes(app);
  ASSERT_EQ(volumes.size(), 1u);
  EXPECT_EQ(volumes[0].name, "pgdata");
  EXPECT_EQ(volumes[0].driver, "berth");
  EXPECT_EQ(volumes[0].container_path, "/data");
  EXPECT_EQ(volumes[0].provider, "dvdi");
  EXPECT_EQ(volumes[0].mode, "RW");
  EXPECT_FALSE(volumes[0].shared);
}

TEST(AppVolumes, ExternalVolumeAppsRunAtMostOneInstance) {
  EXPECT_EQ(error_for(external_volume_app({{"instances", 2}}), "/instances"),
            "Number of instances is limited to 1 when declaring DVDI volumes");
}

TEST(AppVolumes, VolumeAppsMustNotGoOverCapacity) {
  EXPECT_EQ(error_for(external_volume_app({{"upgradeStrategy", {{"maximumOverCapacity", 0.5}}}}),
                      "/upgradeStrategy/maximumOverCapacity"),
            "got 0.5, expected 0 for apps with persistent or external volumes");
  App app = parse_valid(external_volume_app({{"upgradeStrategy", {{"minimumHealthCapacity", 0}}}}));
  EXPECT_EQ(app.upgrade_strategy, (UpgradeStrategy{0.0, 0.0}));
}

TEST(AppVolumes, ExternalVolumesNeedANameAndUniqueNames) {
  json unnamed = json::parse(R"({"id":"x","cmd":"c","container":{"type":"MESOS","volumes":[
      {"containerPath":"/d","external":{"provider":"dvdi"}}]}})");
  EXPECT_EQ(error_for(unnamed, "/container/volumes(0)/external/name"), "error.path.missing");
  json twice = json::parse(R"({"id":"x","cmd":"c","container":{"type":"MESOS","volumes":[
      {"containerPath":"/a","external":{"name":"v"}},{"containerPath":"/b","external":{"name":"v"}}]}})");
  EXPECT_EQ(error_for(twice, "/container/volumes"), "Volume names must be unique");
}

TEST(AppVolumes, PersistentVolumesMakeTheAppResident) {
  json body = json::parse(R"({"id":"pg","cmd":"run","container":{"type":"MESOS","volumes":[
      {"containerPath":"pgdata","mode":"RW","persistent":{"type":"root","size":512}}]}})");
  App app = parse_valid(body);
  EXPECT_TRUE(has_persistent_volumes(app));
  EXPECT_EQ(app.upgrade_strategy, (UpgradeStrategy{0.5, 0.0}));
  EXPECT_EQ(extra(app)["unreachableStrategy"], "disabled");
  EXPECT_EQ(extra(app)["residency"],
            json::parse(
                R"({"relaunchEscalationTimeoutSeconds":3600,"taskLostBehavior":"WAIT_FOREVER"})"));
  body["unreachableStrategy"] = {{"inactiveAfterSeconds", 60}, {"expungeAfterSeconds", 120}};
  EXPECT_EQ(error_for(body, "/unreachableStrategy"),
            "unreachableStrategy must be disabled for resident tasks");
}

TEST(AppVolumes, HostVolumesRoundTripUnchanged) {
  json volume = json::parse(
      R"({"containerPath":"/var/log/app","hostPath":"logs","mode":"RW","extra":{"k":1}})");
  App app = parse_valid(minimal({{"container", {{"type", "MESOS"}, {"volumes", {volume}}}}}));
  EXPECT_EQ(app_to_json(app)["container"]["volumes"], json::array({volume}));
  EXPECT_FALSE(has_external_volumes(app));
}

// ---------------------------------------------------------------------------------------
// Health and readiness checks

TEST(AppHealthChecks, HttpCheckGetsMarathonsDefaults) {
  App app = parse_valid(minimal({{"healthChecks", {json::object()}}}));
  EXPECT_EQ(extra(app)["healthChecks"][0],
            json::parse(R"({"protocol":"HTTP","path":"/","portIndex":0,"gracePeriodSeconds":300,
                            "intervalSeconds":60,"timeoutSeconds":20,"maxConsecutiveFailures":3,
                            "delaySeconds":15,"ignoreHttp1xx":false,"ipProtocol":"IPv4"})"));
}

TEST(AppHealthChecks, CommandCheckNeedsACommandAndNoPort) {
  App app = parse_valid(
      minimal({{"portDefinitions", json::array()},
               {"healthChecks", {{{"protocol", "COMMAND"}, {"command", {{"value", "true"}}}}}}}));
  const json& check = extra(app)["healthChecks"][0];
  EXPECT_FALSE(check.contains("portIndex"));
  EXPECT_FALSE(check.contains("path"));
  EXPECT_EQ(check["intervalSeconds"], 60);
  EXPECT_EQ(error_for(minimal({{"healthChecks", {{{"protocol", "COMMAND"}}}}}),
                      "/healthChecks(0)/command"),
            "error.path.missing");
}

TEST(AppHealthChecks, PortIndexMustAddressAPort) {
  const char* message =
      "Health check port indices must address an element of the ports array or container port "
      "mappings.";
  EXPECT_EQ(error_for(minimal({{"healthChecks", {{{"portIndex", 1}}}}}), "/healthChecks(0)"),
            message);
  EXPECT_EQ(
      error_for(minimal({{"portDefinitions", json::array()}, {"healthChecks", {json::object()}}}),
                "/healthChecks(0)"),
      message);
  App explicit_port = parse_valid(
      minimal({{"portDefinitions", json::array()}, {"healthChecks", {{{"port", 8080}}}}}));
  EXPECT_FALSE(extra(explicit_port)["healthChecks"][0].contains("portIndex"));
}

TEST(AppHealthChecks, AtMostOneMesosHealthCheck) {
  json checks = {{{"protocol", "MESOS_HTTP"}}, {{"protocol", "MESOS_TCP"}}};
  EXPECT_EQ(error_for(minimal({{"healthChecks", checks}}), "/"),
            "AppDefinition can contain at most one Mesos health check");
  EXPECT_EQ(
      error_for(minimal({{"healthChecks", {{{"protocol", "SMTP"}}}}}), "/healthChecks(0)/protocol"),
      "got 'SMTP', expected one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, MESOS_TCP");
}

TEST(AppReadinessChecks, ReadinessCheckGetsDefaultsAndMustNameAPort) {
  json ports = {{{"port", 0}, {"name", "http-api"}}};
  App app =
      parse_valid(minimal({{"portDefinitions", ports}, {"readinessChecks", {json::object()}}}));
  EXPECT_EQ(
      extra(app)["readinessChecks"][0],
      json::parse(R"({"name":"readinessCheck","protocol":"HTTP","path":"/","portName":"http-api",
                            "intervalSeconds":30,"timeoutSeconds":10,"httpStatusCodesForReady":[200],
                            "preserveLastResponse":false})"));
  EXPECT_EQ(
      error_for(minimal({{"readinessChecks", {json::object()}}}), "/readinessChecks(0)/portName"),
      "No port definition reference for portName http-api");
  EXPECT_EQ(
      error_for(minimal({{"portDefinitions", ports},
                         {"readinessChecks", {{{"intervalSeconds", 5}, {"timeoutSeconds", 5}}}}}),
                "/readinessChecks(0)/timeoutSeconds"),
      "got 5, expected less than 5");
  App codes =
      parse_valid(minimal({{"portDefinitions", ports},
                           {"readinessChecks", {{{"httpStatusCodesForReady", {200, 204}}}}}}));
  EXPECT_EQ(extra(codes)["readinessChecks"][0]["httpStatusCodesForReady"], json({200, 204}));
}

// ---------------------------------------------------------------------------------------
// Other kept fields

TEST(AppFetch, LegacyUrisBecomeFetchEntries) {
  App app = parse_valid(minimal({{"uris", {"https://x/app.tgz", "https://x/run.sh"}}}));
  EXPECT_EQ(
      extra(app)["fetch"],
      json::parse(R"([{"uri":"https://x/app.tgz","extract":true,"executable":false,"cache":false},
                            {"uri":"https://x/run.sh","extract":false,"executable":false,"cache":false}])"));
  EXPECT_FALSE(app_to_json(app).contains("uris"));
  EXPECT_EQ(error_for(minimal({{"uris", {"a"}}, {"fetch", {{{"uri", "b"}}}}}), "/uris"),
            "cannot specify both uris and fetch fields");
}

TEST(AppFetch, FetchEntriesGetDefaults) {
  App app =
      parse_valid(minimal({{"fetch", {{{"uri", "https://x/a.zip"}, {"destPath", "b.zip"}}}}}));
  EXPECT_EQ(
      extra(app)["fetch"][0],
      json::parse(
          R"({"uri":"https://x/a.zip","destPath":"b.zip","extract":true,"executable":false,"cache":false})"));
}

TEST(AppUnreachable, InactiveMustNotExceedExpunge) {
  EXPECT_EQ(error_for(minimal({{"unreachableStrategy",
                                {{"inactiveAfterSeconds", 60}, {"expungeAfterSeconds", 30}}}}),
                      "/unreachableStrategy"),
            "inactiveAfterSeconds must be less than or equal to expungeAfterSeconds");
  EXPECT_EQ(
      extra(parse_valid(minimal({{"unreachableStrategy", "disabled"}})))["unreachableStrategy"],
      "disabled");
}

TEST(AppDependencies, RelativeDependenciesAreSiblingsOfTheApp) {
  App app = parse_valid(
      {{"id", "/prod/web"}, {"cmd", "c"}, {"dependencies", {"db", "/infra/log", "../x"}}});
  EXPECT_EQ(app.dependencies, (std::vector<std::string>{"/prod/db", "/infra/log", "/x"}));
  EXPECT_THAT(error_for(minimal({{"dependencies", {"Bad"}}}), "/dependencies(0)"),
              HasSubstr("must fully match regular expression"));
}

TEST(AppExecutor, ExecutorMustMatchMarathonsPattern) {
  EXPECT_EQ(parse_valid(minimal({{"executor", "//cmd"}})).executor, "//cmd");
  EXPECT_EQ(parse_valid(minimal({{"executor", "/opt/exec"}})).executor, "/opt/exec");
  EXPECT_EQ(parse_valid(minimal({{"executor", "bin/exec"}})).executor, "bin/exec");
  EXPECT_EQ(parse_valid(minimal({{"executor", ""}})).executor, "");
  for (const char* bad : {"a//b", "/", "a/", "//"}) {
    EXPECT_EQ(error_for(minimal({{"executor", bad}}), "/executor"),
              "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'")
        << bad;
  }
}

TEST(AppSingleInstance, SingleInstanceLabelLimitsInstancesAndStrategy) {
  json label = {{"labels", {{"MARATHON_SINGLE_INSTANCE_APP", "true"}}}};
  EXPECT_EQ(parse_valid(minimal(label)).upgrade_strategy, (UpgradeStrategy{0, 0}));
  json two = minimal(label);
  two["instances"] = 2;
  EXPECT_EQ(error_for(two, "/"), "Single instance app may only have one instance");
}

}  // namespace
}  // namespace berth::model
