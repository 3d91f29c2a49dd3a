// docker_create_body against app definitions normalised by the model's own parser and read by
// model::parse_container_spec, so `container` and `networks` are exactly what the master sends
// the agent. The parser's own errors (types, ports, protocols) are tested in
// model/container_test.cpp.
#include "executor/docker_spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/app.h"

namespace berth {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A DockerTaskSpec for a Marathon app definition: {"id":"/demo", cpus 0.5, mem 64} plus
// `fields`, parsed and normalised by model::parse_app.
// A container read by the model's parser from `text`, which must parse.
model::ContainerSpec container_of(const char* text) {
  auto container = model::parse_container_spec(json::parse(text));
  EXPECT_TRUE(container.ok()) << container.error().message;
  return container.ok() ? *container : model::ContainerSpec{};
}

DockerTaskSpec spec_for(const json& fields) {
  json body = {{"id", "/demo"}, {"cpus", 0.5}, {"mem", 64}, {"instances", 1}};
  body.update(fields);
  model::ParseOptions options;
  options.version = "2024-01-02T03:04:05.678Z";
  model::ParseOutcome outcome = model::parse_app(body, options);
  EXPECT_TRUE(outcome.app.has_value()) << model::validation_error_body(outcome.errors).dump();
  DockerTaskSpec spec;
  if (!outcome.app) return spec;
  const model::App& app = *outcome.app;
  const json& extra = app.extra.get();
  spec.task_id = "demo.1";
  auto container = model::parse_container_spec(extra.at("container"));
  EXPECT_TRUE(container.ok()) << container.error().message;
  if (container.ok()) spec.container = *container;
  auto networks = model::parse_networks(extra.at("networks"));
  EXPECT_TRUE(networks.ok()) << networks.error().message;
  if (networks.ok()) spec.networks = *networks;
  spec.cmd = app.cmd;
  spec.args = app.args.value_or(std::vector<std::string>{});
  spec.env = app.env;
  spec.labels = app.labels;
  spec.cpus = app.cpus;
  spec.mem_mib = app.mem;
  spec.user = app.user;
  return spec;
}

// A DOCKER container definition with `docker` fields added to {"image":"busybox"} and other app
// fields `more`. (A `{}` argument is a JSON null, meaning nothing to add.)
json docker_app(const json& docker, const json& more = json::object()) {
  json fields = {{"container", {{"type", "DOCKER"}, {"docker", {{"image", "busybox"}}}}}};
  if (!docker.is_null()) fields["container"]["docker"].update(docker);
  if (!more.is_null()) fields.update(more);
  return fields;
}

// An app whose docker.parameters are `parameters` ([[key, value]...]).
DockerTaskSpec with_parameters(const std::vector<std::pair<std::string, std::string>>& parameters) {
  json list = json::array();
  for (const auto& [key, value] : parameters) list.push_back({{"key", key}, {"value", value}});
  return spec_for(docker_app({{"parameters", list}}));
}

struct Created {
  json body;
  DockerCreate create;
  const json& host() const { return body.at("HostConfig"); }
};

Created create(const DockerTaskSpec& spec) {
  Result<DockerCreate> result = docker_create_body(spec);
  EXPECT_TRUE(result.ok()) << result.error().message;
  if (!result.ok()) return {json::object({{"HostConfig", json::object()}}), {}};
  return {json::parse(result->body_json), *result};
}

std::string error_of(const DockerTaskSpec& spec) {
  Result<DockerCreate> result = docker_create_body(spec);
  EXPECT_FALSE(result.ok()) << "expected an error, got " << result->body_json;
  if (result.ok()) return "";
  EXPECT_EQ(result.error().code, ErrorCode::kInvalidArgument);
  return result.error().message;
}

const json kSeedDemo =
    json::parse(R"({"type":"DOCKER","docker":{"image":"berth/counter","network":"BRIDGE",
  "portMappings":[{"containerPort":80,"hostPort":8080}],
  "parameters":[{"key":"volume-driver","value":"flocker"},{"key":"volume","value":"counter-data:/data"}]}})");

// ---- the seed demo and the base body ----

// ---- an agent that runs no task as root ----

TEST(DockerCreateBody, AnAgentWithoutRootTasksRefusesEveryWayToRootOnTheHost) {
  auto refused = [](DockerTaskSpec spec, const std::string& why) {
    spec.allow_root = false;
    Result<DockerCreate> result = docker_create_body(spec);
    ASSERT_FALSE(result.ok()) << why << ": " << result->body_json;
    EXPECT_EQ(result.error().code, ErrorCode::kPermissionDenied) << why;
    EXPECT_NE(result.error().message.find("--allow-root-tasks"), std::string::npos)
        << result.error().message;
  };
  DockerTaskSpec root_user = spec_for(docker_app({}));
  root_user.user = "root";
  refused(root_user, "user root");
  refused(with_parameters({{"user", "0:0"}}), "the user parameter wins over the app's user");
  refused(spec_for(docker_app({{"privileged", true}})), "privileged");
  refused(with_parameters({{"cap-add", "SYS_ADMIN"}}), "cap-add");

  DockerTaskSpec fine = with_parameters({{"cap-drop", "ALL"}});
  fine.user = "65534:65534";
  fine.allow_root = false;
  EXPECT_EQ(create(fine).body.value("User", ""), "65534:65534");
  DockerTaskSpec allowed = spec_for(docker_app({{"privileged", true}}));
  EXPECT_TRUE(create(allowed).host().value("Privileged", false))
      << "allowed where the agent allows root";
}

TEST(DockerCreateBody, SeedDemoAppRunsOnTheBridgeWithItsVolumeThroughTheBerthPlugin) {
  DockerTaskSpec spec = spec_for({{"container", kSeedDemo}});
  spec.host_ports = {8080};
  Created c = create(spec);
  EXPECT_EQ(c.body["Image"], "berth/counter");
  EXPECT_FALSE(c.body.contains("Cmd"));
  EXPECT_FALSE(c.body.contains("Entrypoint"));
  EXPECT_EQ(c.body["Tty"], false);
  EXPECT_EQ(c.body["ExposedPorts"], json::parse(R"({"80/tcp":{}})"));
  EXPECT_EQ(c.host()["NetworkMode"], "bridge");
  EXPECT_EQ(c.host()["PortBindings"],
            json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":"8080"}]})"));
  EXPECT_EQ(c.host()["Binds"], json::array({"counter-data:/data"}));
  EXPECT_EQ(c.host()["VolumeDriver"], "berth");
  EXPECT_EQ(c.host()["RestartPolicy"], json::parse(R"({"Name":"no"})"));
  EXPECT_EQ(c.host()["Privileged"], false);
  EXPECT_FALSE(c.host().contains("Mounts"));
  EXPECT_THAT(c.create.plugin_volumes, ElementsAre("counter-data"));
  EXPECT_THAT(c.create.warnings, IsEmpty());
}

TEST(DockerCreateBody, VolumePrefixAndPluginNameComeFromTheAgent) {
  DockerTaskSpec spec = spec_for({{"container", kSeedDemo}});
  spec.host_ports = {8080};
  spec.volume_driver = "berth-a2";
  spec.volume_prefix = "a2-";
  Created c = create(spec);
  EXPECT_EQ(c.host()["Binds"], json::array({"a2-counter-data:/data"}));
  EXPECT_EQ(c.host()["VolumeDriver"], "berth-a2");
  EXPECT_THAT(c.create.plugin_volumes, ElementsAre("a2-counter-data"));
}

TEST(DockerCreateBody, EnvironmentIsTheTasksWholeEnvironmentSortedAsKeyEqualsValue) {
  DockerTaskSpec spec = spec_for(docker_app({}, {{"env", {{"B", "2"}, {"A", "x=y"}}}}));
  spec.env["MESOS_TASK_ID"] = "demo.1";
  Created c = create(spec);
  EXPECT_EQ(c.body["Env"], json::array({"A=x=y", "B=2", "MESOS_TASK_ID=demo.1"}));
}

TEST(DockerCreateBody, LabelsAreTheTasksLabels) {
  DockerTaskSpec spec = spec_for(docker_app({}, {{"labels", {{"team", "storage"}}}}));
  spec.labels["berth.task"] = "demo.1";
  Created c = create(spec);
  EXPECT_EQ(c.body["Labels"], json::parse(R"({"team":"storage","berth.task":"demo.1"})"));
}

TEST(DockerCreateBody, InvalidUtf8InTheEnvironmentIsReplacedRatherThanFatal) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.env = {{"BAD", "\xff\xfe"}};
  Created c = create(spec);
  EXPECT_EQ(c.body["Env"], json::array({"BAD=\xEF\xBF\xBD\xEF\xBF\xBD"}));
}

TEST(DockerCreateBody, PrivilegedIsPassedOn) {
  Created c = create(spec_for(docker_app({{"privileged", true}})));
  EXPECT_EQ(c.host()["Privileged"], true);
}

TEST(DockerCreateBody, ForcePullImageIsIgnoredWithAWarning) {
  Created c = create(spec_for(docker_app({{"forcePullImage", true}})));
  EXPECT_THAT(
      c.create.warnings,
      ElementsAre(
          "forcePullImage ignored: no registry is reachable from this node; using the local "
          "image busybox"));
}

TEST(DockerCreateBody, ContainerWithoutAnImageIsRejected) {
  DockerTaskSpec spec;
  spec.container.docker = model::DockerSpec{};
  EXPECT_THAT(error_of(spec), HasSubstr("container.docker.image: missing or empty"));
  spec.container.docker.reset();  // a MESOS container without an image
  EXPECT_THAT(error_of(spec), HasSubstr("container.docker: missing"));
}

// ---- command ----

TEST(DockerCreateBody, CmdRunsInAShellInsteadOfTheImageEntrypoint) {
  Created c = create(spec_for(docker_app({}, {{"cmd", "echo hi && sleep 5"}})));
  EXPECT_EQ(c.body["Cmd"], json::array({"/bin/sh", "-c", "echo hi && sleep 5"}));
  EXPECT_EQ(c.body["Entrypoint"], json::array());
}

TEST(DockerCreateBody, ArgsAreTheCmdAndKeepTheImageEntrypoint) {
  Created c = create(spec_for(docker_app({}, {{"args", {"--port", "80"}}})));
  EXPECT_EQ(c.body["Cmd"], json::array({"--port", "80"}));
  EXPECT_FALSE(c.body.contains("Entrypoint"));
}

TEST(DockerCreateBody, NeitherCmdNorArgsRunsTheImageDefault) {
  Created c = create(spec_for(docker_app({})));
  EXPECT_FALSE(c.body.contains("Cmd"));
  EXPECT_FALSE(c.body.contains("Entrypoint"));
}

TEST(DockerCreateBody, EntrypointParameterIsKeptWithACmd) {
  json fields = docker_app({{"parameters", {{{"key", "entrypoint"}, {"value", "/sbin/tini"}}}}},
                           {{"cmd", "run"}});
  Created c = create(spec_for(fields));
  EXPECT_EQ(c.body["Entrypoint"], json::array({"/sbin/tini"}));
  EXPECT_EQ(c.body["Cmd"], json::array({"/bin/sh", "-c", "run"}));
}

TEST(DockerCreateBody, EmptyEntrypointParameterClearsTheImageEntrypoint) {
  Created c = create(with_parameters({{"entrypoint", ""}}));
  EXPECT_EQ(c.body["Entrypoint"], json::array());
}

// ---- networking ----

TEST(DockerCreateBody, HostNetworkingPublishesNoPorts) {
  Created c = create(spec_for(docker_app({{"network", "HOST"}})));
  EXPECT_EQ(c.host()["NetworkMode"], "host");
  EXPECT_FALSE(c.host().contains("PortBindings"));
  EXPECT_FALSE(c.body.contains("ExposedPorts"));
}

TEST(DockerCreateBody, NoNetworksMeansHostNetworking) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  EXPECT_EQ(spec.networks, (std::vector<model::NetworkSpec>{{"host", ""}}));
  EXPECT_EQ(create(spec).host()["NetworkMode"], "host");
  spec.networks.clear();
  EXPECT_EQ(create(spec).host()["NetworkMode"], "host");
}

TEST(DockerCreateBody, NoneNetworkPublishesNothingEvenWithTheDefaultMapping) {
  DockerTaskSpec spec =
      spec_for(docker_app({}, {{"networks", {{{"mode", "container"}, {"name", "none"}}}}}));
  Created c = create(spec);
  EXPECT_EQ(c.host()["NetworkMode"], "none");
  EXPECT_FALSE(c.host().contains("PortBindings"));
  EXPECT_FALSE(c.body.contains("ExposedPorts"));
}

TEST(DockerCreateBody, BridgeMappingWithoutContainerPortUsesTheHostPort) {
  // Marathon's default mapping for bridge networking: {"containerPort":0,"hostPort":0}.
  DockerTaskSpec spec = spec_for(docker_app({{"network", "BRIDGE"}}));
  spec.host_ports = {31002};
  Created c = create(spec);
  EXPECT_EQ(c.host()["PortBindings"],
            json::parse(R"({"31002/tcp":[{"HostIp":"","HostPort":"31002"}]})"));
  EXPECT_EQ(c.body["ExposedPorts"], json::parse(R"({"31002/tcp":{}})"));
}

TEST(DockerCreateBody, UdpTcpMappingBindsBothProtocols) {
  json mappings = json::parse(R"([{"containerPort":53,"hostPort":0,"protocol":"udp,tcp"},
                                  {"containerPort":8080,"protocol":"tcp"},{"containerPort":9,"protocol":"udp"}])");
  DockerTaskSpec spec = spec_for(docker_app({{"network", "BRIDGE"}, {"portMappings", mappings}}));
  spec.host_ports = {31000, 31001, 31002};
  Created c = create(spec);
  EXPECT_EQ(c.host()["PortBindings"], json::parse(R"({
      "53/udp":[{"HostIp":"","HostPort":"31000"}], "53/tcp":[{"HostIp":"","HostPort":"31000"}],
      "8080/tcp":[{"HostIp":"","HostPort":"31001"}], "9/udp":[{"HostIp":"","HostPort":"31002"}]})"));
  EXPECT_EQ(c.body["ExposedPorts"],
            json::parse(R"({"53/udp":{},"53/tcp":{},"8080/tcp":{},"9/udp":{}})"));
}

TEST(DockerCreateBody, BridgeMappingWithoutAHostPortIsAnError) {
  json mappings = json::parse(R"([{"containerPort":80},{"containerPort":443}])");
  DockerTaskSpec spec = spec_for(docker_app({{"network", "BRIDGE"}, {"portMappings", mappings}}));
  spec.host_ports = {31000};
  EXPECT_THAT(error_of(spec), HasSubstr("container.portMappings[1]: no host port was assigned"));
  spec.host_ports = {31000, 0};
  EXPECT_THAT(error_of(spec), HasSubstr("container.portMappings[1]"));
}

TEST(DockerCreateBody, ContainerNetworkUsesItsNameAndBindsMappingsWithAHostPort) {
  json mappings = json::parse(R"([{"containerPort":9000},{"containerPort":80,"hostPort":0}])");
  json fields = docker_app({}, {{"networks", {{{"mode", "container"}, {"name", "app-net"}}}}});
  fields["container"]["portMappings"] = mappings;
  DockerTaskSpec spec = spec_for(fields);
  spec.host_ports = {31500};  // only the second mapping publishes a host port
  Created c = create(spec);
  EXPECT_EQ(c.host()["NetworkMode"], "app-net");
  EXPECT_EQ(c.host()["PortBindings"],
            json::parse(R"({"80/tcp":[{"HostIp":"","HostPort":"31500"}]})"));
  EXPECT_EQ(c.body["ExposedPorts"], json::parse(R"({"9000/tcp":{},"80/tcp":{}})"));

  spec.host_ports = {};  // no host ports given: nothing is published
  Created unpublished = create(spec);
  EXPECT_EQ(unpublished.host()["PortBindings"], json::object());
  EXPECT_EQ(unpublished.body["ExposedPorts"], json::parse(R"({"9000/tcp":{},"80/tcp":{}})"));
}

TEST(DockerCreateBody, ContainerNetworkWithTooFewHostPortsIsAnError) {
  json mappings =
      json::parse(R"([{"containerPort":80,"hostPort":0},{"containerPort":81,"hostPort":0}])");
  json fields = docker_app({}, {{"networks", {{{"mode", "container"}, {"name", "app-net"}}}}});
  fields["container"]["portMappings"] = mappings;
  DockerTaskSpec spec = spec_for(fields);
  spec.host_ports = {31500};
  EXPECT_THAT(error_of(spec), HasSubstr("container.portMappings[1]: no host port was assigned"));
}

TEST(DockerCreateBody, ContainerNetworkWithoutANameIsAnError) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.networks = {{"container", ""}};
  EXPECT_THAT(error_of(spec),
              HasSubstr("networks[0].name: container networking needs a network name"));
}

TEST(DockerCreateBody, OnlyOneContainerNetworkIsAllowed) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.networks = {{"container", "a"}, {"container", "b"}};
  EXPECT_THAT(error_of(spec), HasSubstr("networks: a DOCKER container joins a single network"));
}

// ---- resources ----

TEST(DockerCreateBody, MemIsBytesAndCpusAreNanoCpus) {
  DockerTaskSpec spec = spec_for(docker_app({}, {{"cpus", 1.25}, {"mem", 64}}));
  Created c = create(spec);
  EXPECT_EQ(c.host()["Memory"], 67108864);
  EXPECT_EQ(c.host()["NanoCpus"], 1250000000);
  spec.mem_mib = 100.5;
  spec.cpus = 0.1;
  c = create(spec);
  EXPECT_EQ(c.host()["Memory"], 105381888);
  EXPECT_EQ(c.host()["NanoCpus"], 100000000);
}

TEST(DockerCreateBody, ZeroResourcesAreOmitted) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.cpus = 0;
  spec.mem_mib = 0;
  Created c = create(spec);
  EXPECT_FALSE(c.host().contains("Memory"));
  EXPECT_FALSE(c.host().contains("NanoCpus"));
  EXPECT_THAT(c.create.warnings, IsEmpty());
}

TEST(DockerCreateBody, ResourcesBelowDockersMinimumAreRaisedWithAWarning) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.cpus = 0.001;
  spec.mem_mib = 4;
  Created c = create(spec);
  EXPECT_EQ(c.host()["Memory"], 6 * 1024 * 1024);
  EXPECT_EQ(c.host()["NanoCpus"], 10000000);
  EXPECT_THAT(c.create.warnings, ElementsAre("mem raised to Docker's minimum of 6 MiB",
                                             "cpus raised to Docker's minimum of 0.01"));
}

// ---- parameters ----

TEST(DockerCreateBody, EveryScalarParameterSetsItsField) {
  Created c = create(with_parameters({{"hostname", "counter"},
                                      {"user", "1000:1000"},
                                      {"workdir", "/srv"},
                                      {"entrypoint", "/bin/run"},
                                      {"init", "true"},
                                      {"read-only", "1"},
                                      {"stop-signal", "SIGINT"}}));
  EXPECT_EQ(c.body["Hostname"], "counter");
  EXPECT_EQ(c.body["User"], "1000:1000");
  EXPECT_EQ(c.body["WorkingDir"], "/srv");
  EXPECT_EQ(c.body["Entrypoint"], json::array({"/bin/run"}));
  EXPECT_EQ(c.body["StopSignal"], "SIGINT");
  EXPECT_EQ(c.host()["Init"], true);
  EXPECT_EQ(c.host()["ReadonlyRootfs"], true);
}

TEST(DockerCreateBody, UnsetParametersLeaveDockersDefaults) {
  Created c = create(spec_for(docker_app({})));
  for (const char* key : {"Hostname", "User", "WorkingDir", "StopSignal"})
    EXPECT_FALSE(c.body.contains(key)) << key;
  for (const char* key : {"Init", "ReadonlyRootfs", "CapAdd", "CapDrop", "ExtraHosts", "Dns",
                          "Tmpfs", "Binds", "VolumeDriver", "Mounts"}) {
    EXPECT_FALSE(c.host().contains(key)) << key;
  }
}

TEST(DockerCreateBody, ListParametersAccumulate) {
  Created c = create(with_parameters({{"cap-add", "NET_ADMIN"},
                                      {"cap-add", "SYS_TIME"},
                                      {"cap-drop", "MKNOD"},
                                      {"add-host", "db.internal:10.0.0.5"},
                                      {"add-host", "v6:fd00::1"},
                                      {"add-host", "gw:host-gateway"},
                                      {"dns", "10.0.0.2"},
                                      {"dns", "2001:db8::53"},
                                      {"tmpfs", "/run:size=64m,mode=1777"},
                                      {"tmpfs", "/scratch"}}));
  EXPECT_EQ(c.host()["CapAdd"], json::array({"NET_ADMIN", "SYS_TIME"}));
  EXPECT_EQ(c.host()["CapDrop"], json::array({"MKNOD"}));
  EXPECT_EQ(c.host()["ExtraHosts"],
            json::array({"db.internal:10.0.0.5", "v6:fd00::1", "gw:host-gateway"}));
  EXPECT_EQ(c.host()["Dns"], json::array({"10.0.0.2", "2001:db8::53"}));
  EXPECT_EQ(c.host()["Tmpfs"], json::parse(R"({"/run":"size=64m,mode=1777","/scratch":""})"));
}

TEST(DockerCreateBody, BooleanParametersAcceptFalse) {
  Created c = create(with_parameters({{"init", "false"}, {"read-only", "False"}}));
  EXPECT_EQ(c.host()["Init"], false);
  EXPECT_EQ(c.host()["ReadonlyRootfs"], false);
}

TEST(DockerCreateBody, ShortParameterNamesAreAliases) {
  Created c = create(with_parameters({{"v", "/srv/conf:/etc/app:ro"},
                                      {"e", "MODE=fast"},
                                      {"l", "tier=web"},
                                      {"h", "box"},
                                      {"u", "nobody"},
                                      {"w", "/work"}}));
  EXPECT_EQ(c.host()["Binds"], json::array({"/srv/conf:/etc/app:ro"}));
  EXPECT_THAT(c.body["Env"].get<std::vector<std::string>>(), ::testing::Contains("MODE=fast"));
  EXPECT_EQ(c.body["Labels"]["tier"], "web");
  EXPECT_EQ(c.body["Hostname"], "box");
  EXPECT_EQ(c.body["User"], "nobody");
  EXPECT_EQ(c.body["WorkingDir"], "/work");
}

TEST(DockerCreateBody, TheAppsUserIsTheContainersUser) {
  Created c = create(spec_for(docker_app({}, {{"user", "nobody"}})));
  EXPECT_EQ(c.body["User"], "nobody");
}

TEST(DockerCreateBody, AUserParameterOverridesTheAppsUser) {
  json parameters = json::array({{{"key", "user"}, {"value", "1000:1000"}}});
  Created c = create(spec_for(docker_app({{"parameters", parameters}}, {{"user", "nobody"}})));
  EXPECT_EQ(c.body["User"], "1000:1000");
}

TEST(DockerCreateBody, LastScalarParameterWins) {
  Created c = create(with_parameters({{"hostname", "first"}, {"h", "second"}}));
  EXPECT_EQ(c.body["Hostname"], "second");
}

TEST(DockerCreateBody, EnvParameterOverridesTheTaskVariable) {
  DockerTaskSpec spec = with_parameters({{"env", "MODE=param"}, {"env", "EMPTY="}});
  spec.env = {{"MODE", "app"}, {"OTHER", "1"}};
  Created c = create(spec);
  EXPECT_EQ(c.body["Env"], json::array({"EMPTY=", "MODE=param", "OTHER=1"}));
}

TEST(DockerCreateBody, LabelParameterIsAddedButLosesToTheTasksLabel) {
  DockerTaskSpec spec = with_parameters({{"label", "tier=web"}, {"label", "berth.task=forged"}});
  spec.labels = {{"berth.task", "demo.1"}};
  Created c = create(spec);
  EXPECT_EQ(c.body["Labels"], json::parse(R"({"tier":"web","berth.task":"demo.1"})"));
  ASSERT_EQ(c.create.warnings.size(), 1u);
  EXPECT_THAT(c.create.warnings[0], HasSubstr("container.docker.parameters[1] (label)"));
  EXPECT_THAT(c.create.warnings[0], HasSubstr("berth.task=forged ignored"));
}

TEST(DockerCreateBody, UnsupportedParameterIsAnErrorListingTheSupportedOnes) {
  std::string message = error_of(with_parameters({{"env", "A=1"}, {"name", "kdc"}}));
  EXPECT_THAT(message,
              HasSubstr("container.docker.parameters[1]: 'name' is not supported (supported: "
                        "volume-driver, volume (v), env (e), label (l), hostname (h)"));
  EXPECT_THAT(message, HasSubstr("stop-signal)"));
  EXPECT_THAT(error_of(with_parameters({{"--volume", "a:/a"}})),
              HasSubstr("without leading dashes"));
}

struct MalformedCase {
  std::string key;
  std::string value;
};

TEST(DockerCreateBody, MalformedParameterValuesNameTheParameterAndValue) {
  const std::vector<MalformedCase> cases = {
      {"volume", "counter-data"},
      {"volume", "counter-data:data"},
      {"volume", ":/data"},
      {"volume", "a:/data:bogus"},
      {"v", "a:/b:ro:x"},
      {"label", "no-equals"},
      {"label", "=v"},
      {"env", "NOVALUE"},
      {"init", "yes"},
      {"read-only", ""},
      {"add-host", "nohost"},
      {"add-host", "db:not-an-ip"},
      {"dns", "dns.example"},
      {"tmpfs", "run"},
      {"workdir", "relative"},
      {"hostname", ""},
      {"user", ""},
      {"stop-signal", ""},
      {"volume-driver", ""},
      {"cap-add", ""},
      {"cap-drop", ""},
  };
  for (const MalformedCase& c : cases) {
    std::string message = error_of(with_parameters({{"hostname", "ok"}, {c.key, c.value}}));
    EXPECT_THAT(message,
                HasSubstr("container.docker.parameters[1] (" + c.key + "): '" + c.value + "'"))
        << c.key << "=" << c.value;
  }
}

// ---- volumes through parameters ----

TEST(DockerCreateBody, VolumeDriverAppliesWhereverItAppears) {
  Created c = create(with_parameters({{"volume", "logs:/logs:ro"}, {"volume-driver", "berth"}}));
  EXPECT_EQ(c.host()["Binds"], json::array({"logs:/logs:ro"}));
  EXPECT_EQ(c.host()["VolumeDriver"], "berth");
  EXPECT_THAT(c.create.plugin_volumes, ElementsAre("logs"));
}

TEST(DockerCreateBody, AbsoluteVolumeSourceIsABindMountEvenWithTheBerthDriver) {
  DockerTaskSpec spec = with_parameters(
      {{"volume-driver", "flocker"}, {"volume", "/srv/conf:/conf:ro"}, {"volume", "state:/state"}});
  spec.volume_prefix = "n1-";
  Created c = create(spec);
  EXPECT_EQ(c.host()["Binds"], json::array({"/srv/conf:/conf:ro", "n1-state:/state"}));
  EXPECT_THAT(c.create.plugin_volumes, ElementsAre("n1-state"));
}

TEST(DockerCreateBody, OneDatasetMountedTwiceIsOnePluginVolume) {
  Created c = create(with_parameters(
      {{"volume-driver", "berth"}, {"volume", "shared:/a"}, {"volume", "shared:/b:ro"}}));
  EXPECT_EQ(c.host()["Binds"], json::array({"shared:/a", "shared:/b:ro"}));
  EXPECT_THAT(c.create.plugin_volumes, ElementsAre("shared"));
}

TEST(DockerCreateBody, OtherVolumeDriversPassThroughUnchanged) {
  DockerTaskSpec spec =
      with_parameters({{"volume-driver", "rexray"}, {"volume", "pgdata:/var/lib/pg"}});
  spec.volume_prefix = "n1-";
  Created c = create(spec);
  EXPECT_EQ(c.host()["VolumeDriver"], "rexray");
  EXPECT_EQ(c.host()["Binds"], json::array({"pgdata:/var/lib/pg"}));
  EXPECT_THAT(c.create.plugin_volumes, IsEmpty());
}

TEST(DockerCreateBody, NamedVolumeWithoutADriverIsDockersLocalVolume) {
  Created c = create(with_parameters({{"volume", "cache:/cache"}}));
  EXPECT_EQ(c.host()["Binds"], json::array({"cache:/cache"}));
  EXPECT_FALSE(c.host().contains("VolumeDriver"));
  EXPECT_THAT(c.create.plugin_volumes, IsEmpty());
}

TEST(DockerCreateBody, BerthVolumesNeedAVolumePluginOnTheAgent) {
  DockerTaskSpec spec = spec_for({{"container", kSeedDemo}});
  spec.host_ports = {8080};
  spec.volume_driver = "";
  EXPECT_THAT(
      error_of(spec),
      HasSubstr("container.docker.parameters[1] (volume): this agent runs no volume plugin"));
}

// ---- container.volumes ----

json volume_app(const json& volumes) {
  json fields = docker_app({});
  fields["container"]["volumes"] = volumes;
  return fields;
}

TEST(DockerCreateBody, ExternalBerthVolumesAreMountsOfThePlugin) {
  json volumes = json::parse(R"([
    {"containerPath":"/data","mode":"RW","external":{"name":"orders","provider":"dvdi","options":{"dvdi/driver":"berth"}}},
    {"containerPath":"/ref","mode":"RO","external":{"name":"refdata","provider":"dvdi","options":{"dvdi/driver":"flocker"}}},
    {"containerPath":"/x","external":{"name":"implicit"}}])");
  DockerTaskSpec spec = spec_for(volume_app(volumes));
  spec.volume_prefix = "n1-";
  spec.volume_driver = "berth-n1";
  Created c = create(spec);
  EXPECT_EQ(c.host()["Mounts"], json::parse(R"([
    {"Type":"volume","Source":"n1-orders","Target":"/data","ReadOnly":false,
     "VolumeOptions":{"DriverConfig":{"Name":"berth-n1"}}},
    {"Type":"volume","Source":"n1-refdata","Target":"/ref","ReadOnly":true,
     "VolumeOptions":{"DriverConfig":{"Name":"berth-n1"}}},
    {"Type":"volume","Source":"n1-implicit","Target":"/x","ReadOnly":false,
     "VolumeOptions":{"DriverConfig":{"Name":"berth-n1"}}}])"));
  EXPECT_FALSE(c.host().contains("VolumeDriver"));
  EXPECT_THAT(c.create.plugin_volumes, ElementsAre("n1-orders", "n1-refdata", "n1-implicit"));
}

TEST(DockerCreateBody, ExternalVolumeOfAnotherDriverIsAnErrorNamingIt) {
  json volumes = json::parse(R"([{"containerPath":"/data","mode":"RW",
      "external":{"name":"vol","provider":"dvdi","options":{"dvdi/driver":"rexray"}}}])");
  std::string message = error_of(spec_for(volume_app(volumes)));
  EXPECT_THAT(
      message,
      HasSubstr("container.volumes[0].external.options[\"dvdi/driver\"]: volume driver 'rexray'"));
}

TEST(DockerCreateBody, ExternalVolumeOfAnotherProviderIsAnError) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.container = container_of(R"({"docker":{"image":"busybox"},
      "volumes":[{"containerPath":"/data","external":{"name":"vol","provider":"csi"}}]})");
  EXPECT_THAT(error_of(spec), HasSubstr("container.volumes[0].external.provider: got \"csi\""));
}

TEST(DockerCreateBody, HostVolumesAreBindMountsWithTheirMode) {
  json volumes =
      json::parse(R"([{"containerPath":"/docker_storage","hostPath":"/hdd/registry","mode":"RW"},
                                 {"containerPath":"/etc/conf","hostPath":"/srv/conf","mode":"RO"}])");
  Created c = create(spec_for(volume_app(volumes)));
  EXPECT_EQ(c.host()["Binds"],
            json::array({"/hdd/registry:/docker_storage:rw", "/srv/conf:/etc/conf:ro"}));
  EXPECT_THAT(c.create.plugin_volumes, IsEmpty());
}

TEST(DockerCreateBody, RelativePathsAreErrors) {
  json relative_host =
      json::parse(R"([{"containerPath":"/var/lib/mysql","hostPath":"mysqldata","mode":"RW"}])");
  EXPECT_THAT(error_of(spec_for(volume_app(relative_host))),
              HasSubstr("container.volumes[0].hostPath"));
  json relative_target =
      json::parse(R"([{"containerPath":"data","hostPath":"/srv/data","mode":"RW"}])");
  EXPECT_THAT(error_of(spec_for(volume_app(relative_target))),
              HasSubstr("container.volumes[0].containerPath: 'data' must be an absolute path"));
}

TEST(DockerCreateBody, PersistentVolumesAreLeftToTheAgentsBindMounts) {
  json volumes = json::parse(
      R"([{"containerPath":"pgdata","mode":"RW","persistent":{"type":"root","size":64}}])");
  json fields = volume_app(volumes);
  fields["residency"] = {{"taskLostBehavior", "WAIT_FOREVER"}};
  fields["unreachableStrategy"] = "disabled";
  fields["upgradeStrategy"] = {{"minimumHealthCapacity", 0.5}, {"maximumOverCapacity", 0}};
  DockerTaskSpec spec = spec_for(fields);
  spec.bind_mounts = {{"/var/lib/berth/datasets/demo.pgdata", "/var/lib/postgresql/data"}};
  Created c = create(spec);
  EXPECT_EQ(c.host()["Binds"],
            json::array({"/var/lib/berth/datasets/demo.pgdata:/var/lib/postgresql/data"}));
  EXPECT_FALSE(c.host().contains("Mounts"));
  EXPECT_THAT(c.create.plugin_volumes, IsEmpty());

  spec.bind_mounts = {{"/var/lib/berth/datasets/demo.pgdata", "pgdata"}};
  EXPECT_THAT(error_of(spec), HasSubstr("both paths must be absolute"));
}

TEST(DockerCreateBody, TwoMountsAtOneContainerPathAreAnError) {
  json volumes = json::parse(R"([{"containerPath":"/data","hostPath":"/srv/data","mode":"RW"}])");
  json fields = volume_app(volumes);
  fields["container"]["docker"]["parameters"] = {{{"key", "volume"}, {"value", "other:/data/"}}};
  EXPECT_THAT(
      error_of(spec_for(fields)),
      HasSubstr(
          "container.docker.parameters[0] (volume): container path '/data' is already mounted by "
          "container.volumes[0]"));

  DockerTaskSpec spec = spec_for(volume_app(volumes));
  spec.bind_mounts = {{"/var/lib/berth/x", "/data"}};
  EXPECT_THAT(error_of(spec), HasSubstr("already mounted by container.volumes[0]"));

  EXPECT_THAT(
      error_of(with_parameters({{"tmpfs", "/cache"}, {"volume", "/srv/c:/cache"}})),
      HasSubstr(
          "container path '/cache' is already mounted by container.docker.parameters[0] (tmpfs)"));

  json externals = json::parse(R"([{"containerPath":"/d","external":{"name":"a"}},
                                   {"containerPath":"/d","external":{"name":"b"}}])");
  EXPECT_THAT(
      error_of(spec_for(volume_app(externals))),
      HasSubstr(
          "container.volumes[1]: container path '/d' is already mounted by container.volumes[0]"));
}

TEST(DockerCreateBody, BadVolumeModeIsAnError) {
  DockerTaskSpec spec = spec_for(docker_app({}));
  spec.container = container_of(R"({"docker":{"image":"busybox"},
      "volumes":[{"containerPath":"/data","hostPath":"/srv","mode":"RWX"}]})");
  EXPECT_THAT(error_of(spec), HasSubstr("container.volumes[0].mode: got 'RWX', expected RW or RO"));
}

}  // namespace
}  // namespace berth
