#include "store/store_url.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth {
namespace {

TEST(StoreUrl, SqliteNamesTheDatabaseFile) {
  Result<StoreUrl> url = parse_store_url("sqlite:///var/lib/berth/berth.db");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->kind, StoreUrl::Kind::kSqlite);
  EXPECT_EQ(url->sqlite_path, "/var/lib/berth/berth.db");
  EXPECT_EQ(parse_store_url("sqlite://.berth/master/berth.db")->sqlite_path,
            ".berth/master/berth.db");
}

TEST(StoreUrl, EtcdListsEveryHostWithItsPortAndTheDefaultPrefix) {
  Result<StoreUrl> url = parse_store_url("etcd://h1:2379,10.0.0.2:32379,h3");
  ASSERT_TRUE(url.ok()) << url.error().message;
  EXPECT_EQ(url->kind, StoreUrl::Kind::kEtcd);
  EXPECT_EQ(url->endpoints, (std::vector<std::string>{"http://h1:2379", "http://10.0.0.2:32379",
                                                      "http://h3:2379"}));
  EXPECT_EQ(url->prefix, "/berth/");
}

TEST(StoreUrl, EtcdPathIsTheKeyPrefixEndingWithASlash) {
  EXPECT_EQ(parse_store_url("etcd://h:2379/prod")->prefix, "/prod/");
  EXPECT_EQ(parse_store_url("etcd://h:2379/clusters/eu/")->prefix, "/clusters/eu/");
  EXPECT_EQ(parse_store_url("etcd://[::1]:2379/a")->endpoints,
            std::vector<std::string>{"http://[::1]:2379"});
}

TEST(StoreUrl, BadUrlsFailNamingTheUrlAndTheAcceptedForms) {
  for (const char* bad : {"", "/var/lib/berth.db", "sqlite://", "postgres://h/db", "etcd://",
                          "etcd://h1,,h2", "etcd://h1:", "etcd://h1:99999", "etcd://h1:x",
                          "etcd://:2379", "etcd://h1/", "etcd://h1//", "etcd://h1/a?b"}) {
    Result<StoreUrl> url = parse_store_url(bad);
    ASSERT_FALSE(url.ok()) << bad;
    EXPECT_EQ(url.error().code, ErrorCode::kInvalidArgument) << bad;
    EXPECT_NE(url.error().message.find("'" + std::string(bad) + "'"), std::string::npos)
        << url.error().message;
    EXPECT_NE(url.error().message.find("etcd://HOST"), std::string::npos) << url.error().message;
  }
}

TEST(StoreUrl, OpeningAnEtcdThatDoesNotAnswerFailsNamingIt) {
  // Port 1 on loopback: nothing listens there, so the connection is refused at once.
  Result<std::unique_ptr<Store>> store = open_store(*parse_store_url("etcd://127.0.0.1:1"));
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(store.error().message.find("http://127.0.0.1:1"), std::string::npos)
      << store.error().message;
}

}  // namespace
}  // namespace berth
