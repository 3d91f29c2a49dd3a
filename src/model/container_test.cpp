#include "model/container.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "model/app.h"

namespace berth::model {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// The message of parse_container_spec's error for `text`, which must be one.
std::string container_error(const char* text) {
  auto parsed = parse_container_spec(json::parse(text));
  EXPECT_FALSE(parsed.ok()) << text;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  return parsed.error().message;
}

std::string networks_error(const char* text) {
  auto parsed = parse_networks(json::parse(text));
  EXPECT_FALSE(parsed.ok()) << text;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  return parsed.error().message;
}

TEST(ContainerSpec, ReadsEveryFieldOfADockerContainer) {
  auto parsed = parse_container_spec(json::parse(R"({
    "type": "DOCKER",
    "docker": {"image": "busybox:1.36", "privileged": true, "forcePullImage": true,
               "parameters": [{"key": "env", "value": "A=1"}, {"key": "v", "value": "d:/d"}]},
    "portMappings": [{"containerPort": 80, "hostPort": 0, "servicePort": 10000,
                      "protocol": "udp,tcp", "name": "http", "labels": {"x": "y"}},
                     {"containerPort": 53}],
    "volumes": [{"containerPath": "/data", "mode": "RO",
                 "external": {"name": "db", "provider": "dvdi",
                              "options": {"dvdi/driver": "berth"}}},
                {"containerPath": "/etc/conf", "hostPath": "/srv/conf"},
                {"containerPath": "pgdata", "persistent": {"type": "root", "size": 64}},
                {"containerPath": "/run/secret", "secret": "token"}]})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ContainerSpec& c = *parsed;
  EXPECT_EQ(c.type, "DOCKER");
  ASSERT_TRUE(c.docker.has_value());
  EXPECT_EQ(c.docker->image, "busybox:1.36");
  EXPECT_TRUE(c.docker->privileged);
  EXPECT_TRUE(c.docker->force_pull_image);
  EXPECT_EQ(c.docker->parameters, (std::vector<DockerParameter>{{"env", "A=1"}, {"v", "d:/d"}}));
  ASSERT_EQ(c.port_mappings.size(), 2u);
  EXPECT_EQ(c.port_mappings[0], (PortMapping{80, 0u, 10000, "udp,tcp", "http"}));
  EXPECT_EQ(c.port_mappings[1], (PortMapping{53, std::nullopt, 0, "tcp", ""}));
  ASSERT_EQ(c.volumes.size(), 4u);
  EXPECT_EQ(c.volumes[0].container_path, "/data");
  EXPECT_EQ(c.volumes[0].mode, "RO");
  ASSERT_TRUE(c.volumes[0].external.has_value());
  EXPECT_EQ(c.volumes[0].external->name, "db");
  EXPECT_EQ(c.volumes[0].external->provider, "dvdi");
  EXPECT_EQ(c.volumes[0].external->options.at("dvdi/driver"), "berth");
  EXPECT_EQ(c.volumes[1].host_path, "/srv/conf");
  EXPECT_EQ(c.volumes[1].mode, "RW");
  EXPECT_FALSE(c.volumes[1].external.has_value());
  EXPECT_TRUE(c.volumes[2].persistent);
  EXPECT_EQ(c.volumes[2].container_path, "pgdata");
  EXPECT_EQ(c.volumes[3].secret, "token");
}

TEST(ContainerSpec, DefaultsAndNullsAreAbsentFields) {
  auto parsed = parse_container_spec(
      json::parse(R"({"docker": {"image": "busybox", "privileged": null}, "volumes": null})"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->type, "DOCKER");
  EXPECT_FALSE(parsed->docker->privileged);
  EXPECT_FALSE(parsed->docker->force_pull_image);
  EXPECT_TRUE(parsed->docker->parameters.empty());
  EXPECT_TRUE(parsed->port_mappings.empty());
  EXPECT_TRUE(parsed->volumes.empty());

  auto mesos = parse_container_spec(json::parse(R"({"type": "MESOS"})"));
  ASSERT_TRUE(mesos.ok()) << mesos.error().message;
  EXPECT_FALSE(mesos->docker.has_value());
}

TEST(ContainerSpec, ReadsTheContainerTheAppParserNormalised) {
  json body = json::parse(R"({"id": "/web", "cmd": "serve", "container": {"type": "DOCKER",
      "docker": {"image": "nginx", "network": "BRIDGE",
                 "portMappings": [{"containerPort": 80, "name": "http"}]}}})");
  ParseOptions options;
  options.version = "2024-01-02T03:04:05.678Z";
  ParseOutcome outcome = parse_app(body, options);
  ASSERT_TRUE(outcome.app.has_value()) << validation_error_body(outcome.errors).dump();
  const json& extra = outcome.app->extra.get();
  auto container = parse_container_spec(extra.at("container"));
  ASSERT_TRUE(container.ok()) << container.error().message;
  EXPECT_EQ(container->docker->image, "nginx");
  EXPECT_EQ(container->port_mappings, (std::vector<PortMapping>{{80, 0u, 0, "tcp", "http"}}));
  auto networks = parse_networks(extra.at("networks"));
  ASSERT_TRUE(networks.ok()) << networks.error().message;
  EXPECT_EQ(*networks, (std::vector<NetworkSpec>{{"container/bridge", ""}}));
}

TEST(ContainerSpec, EachBadFieldNamesItself) {
  EXPECT_THAT(container_error(R"([])"), HasSubstr("container: expected an object"));
  EXPECT_THAT(container_error(R"({"type": "RKT"})"), HasSubstr("container.type: got 'RKT'"));
  EXPECT_THAT(container_error(R"({"type": 1})"), HasSubstr("container.type: got 1"));
  EXPECT_THAT(container_error(R"({"type": "DOCKER"})"), HasSubstr("container.docker: missing"));
  EXPECT_THAT(container_error(R"({"docker": {"image": ""}})"),
              HasSubstr("container.docker.image: missing or empty"));
  EXPECT_THAT(container_error(R"({"docker": {"image": 7}})"),
              HasSubstr("container.docker.image: missing or empty"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b", "privileged": "yes"}})"),
              HasSubstr("container.docker.privileged: got \"yes\", expected true or false"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b", "forcePullImage": 1}})"),
              HasSubstr("container.docker.forcePullImage: got 1"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b", "parameters": {}}})"),
              HasSubstr("container.docker.parameters: expected an array"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b", "parameters": [{"key": "env"}]}})"),
              HasSubstr("container.docker.parameters[0]: expected {\"key\": string"));
}

TEST(ContainerSpec, BadPortMappingsNameTheirField) {
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "portMappings": {}})"),
              HasSubstr("container.portMappings: expected an array"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "portMappings": [{}, 5]})"),
              HasSubstr("container.portMappings[1]: expected an object"));
  EXPECT_THAT(
      container_error(R"({"docker": {"image": "b"}, "portMappings": [{"containerPort": 70000}]})"),
      HasSubstr("container.portMappings[0].containerPort: got 70000"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "portMappings": [{"hostPort": -1}]})"),
              HasSubstr("container.portMappings[0].hostPort: got -1"));
  EXPECT_THAT(
      container_error(R"({"docker": {"image": "b"}, "portMappings": [{"servicePort": "80"}]})"),
      HasSubstr("container.portMappings[0].servicePort: got \"80\""));
  EXPECT_THAT(
      container_error(R"({"docker": {"image": "b"}, "portMappings": [{"protocol": "sctp"}]})"),
      HasSubstr("container.portMappings[0].protocol: got \"sctp\""));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "portMappings": [{"name": 1}]})"),
              HasSubstr("container.portMappings[0].name: got 1, expected a string"));
}

TEST(ContainerSpec, BadVolumesNameTheirField) {
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"mode": "RW"}]})"),
              HasSubstr("container.volumes[0].containerPath: missing"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                                                                  "mode": 1}]})"),
              HasSubstr("container.volumes[0].mode: got 1, expected a string"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                                                                         "hostPath": true}]})"),
              HasSubstr("container.volumes[0].hostPath: got true"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                                                                         "external": 3}]})"),
              HasSubstr("container.volumes[0].external: expected an object"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                                                                         "external": {}}]})"),
              HasSubstr("container.volumes[0].external.name: missing"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                           "external": {"name": "v", "options": {"dvdi/driver": 1}}}]})"),
              HasSubstr("container.volumes[0].external.options[\"dvdi/driver\"]: got 1"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                           "external": {"name": "v", "provider": 2}}]})"),
              HasSubstr("container.volumes[0].external.provider: got 2"));
  EXPECT_THAT(container_error(R"({"docker": {"image": "b"}, "volumes": [{"containerPath": "/d",
                                                                         "secret": {}}]})"),
              HasSubstr("container.volumes[0].secret: got {}"));
}

TEST(ContainerSpec, BadNetworksNameTheirField) {
  EXPECT_THAT(networks_error(R"({})"), HasSubstr("networks: expected an array"));
  EXPECT_THAT(networks_error(R"([{"mode": "host"}, 1])"),
              HasSubstr("networks[1]: expected an object"));
  EXPECT_THAT(networks_error(R"([{"mode": "overlay"}])"),
              HasSubstr("networks[0].mode: got 'overlay', expected host, container/bridge or "
                        "container"));
  EXPECT_THAT(networks_error(R"([{"mode": "container", "name": 5}])"),
              HasSubstr("networks[0].name: got 5"));
}

TEST(ContainerSpec, NetworksDefaultToContainerModeAndNullIsNone) {
  auto networks = parse_networks(json::parse(R"([{"name": "backend"}])"));
  ASSERT_TRUE(networks.ok()) << networks.error().message;
  EXPECT_EQ(*networks, (std::vector<NetworkSpec>{{"container", "backend"}}));
  auto none = parse_networks(json());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ContainerSpec, TheWrittenJsonReadsBackEqual) {
  ContainerSpec container;
  container.docker = DockerSpec{"busybox", true, false, {{"label", "a=b"}}};
  container.port_mappings = {{8080, 0u, 10001, "udp", "dns"}, {9000, std::nullopt, 0, "tcp", ""}};
  ContainerVolume external;
  external.container_path = "/data";
  external.mode = "RO";
  external.external = ExternalVolumeSource{"db", "dvdi", {{"dvdi/driver", "flocker"}}};
  ContainerVolume host;
  host.container_path = "/conf";
  host.host_path = "/srv/conf";
  ContainerVolume persistent;
  persistent.container_path = "pgdata";
  persistent.persistent = true;
  ContainerVolume secret;
  secret.container_path = "/s";
  secret.secret = "token";
  container.volumes = {external, host, persistent, secret};
  auto back = parse_container_spec(container_to_json(container));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, container);

  std::vector<NetworkSpec> networks = {{"container", "backend"}, {"container", ""}};
  auto networks_back = parse_networks(networks_to_json(networks));
  ASSERT_TRUE(networks_back.ok()) << networks_back.error().message;
  EXPECT_EQ(*networks_back, networks);
}

}  // namespace
}  // namespace berth::model
