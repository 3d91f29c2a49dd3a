#include "ui/ui_files.h"

#include <gtest/gtest.h>

#include "ui/embedded.h"

namespace berth::ui {
namespace {

http::Request get(const std::string& path, const std::string& method = "GET") {
  http::Request r;
  r.method = method;
  r.path = path;
  r.target = path;
  return r;
}

std::string header(const http::Response& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

const std::map<std::string, std::string_view> kFiles{
    {"index.html", "<!doctype html><title>berth</title>"},
    {"app.js", "export const x = 1;"},
    {"pages/apps.js", "export {};"},
    {"vendor/LICENSE-preact", "MIT"},
};

TEST(UiFiles, RootAndBarePathRedirectToTheUi) {
  for (const char* path : {"/", "/ui"}) {
    auto r = serve_from(kFiles, get(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 302);
    EXPECT_EQ(header(*r, "Location"), "/ui/");
  }
}

TEST(UiFiles, ServesIndexAndFilesWithTheirTypeAndPolicy) {
  auto index = serve_from(kFiles, get("/ui/"));
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_EQ(index->body, "<!doctype html><title>berth</title>");
  EXPECT_EQ(index->content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header(*index, "Content-Security-Policy"), kContentSecurityPolicy);
  EXPECT_EQ(header(*index, "X-Content-Type-Options"), "nosniff");
  auto page = serve_from(kFiles, get("/ui/pages/apps.js"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->content_type, "text/javascript; charset=utf-8");
  auto licence = serve_from(kFiles, get("/ui/vendor/LICENSE-preact"));
  ASSERT_TRUE(licence);
  EXPECT_EQ(licence->body, "MIT");
}

TEST(UiFiles, OtherPathsAreNotTheUis) {
  EXPECT_FALSE(serve_from(kFiles, get("/v2/apps")));
  EXPECT_FALSE(serve_from(kFiles, get("/uix")));
  EXPECT_FALSE(serve_from(kFiles, get("/ping")));
}

TEST(UiFiles, NamesOutsideTheUiAreNotFound) {
  for (const char* path :
       {"/ui/../etc/passwd", "/ui/pages/../app.js", "/ui//app.js", "/ui/missing.js", "/ui/app.js/",
        "/ui/a b.js", "/ui/./app.js", "/ui/app.exe", "/ui/%2e%2e/x.js"}) {
    auto r = serve_from(kFiles, get(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
  }
}

TEST(UiFiles, OnlyGetAndHead) {
  auto post = serve_from(kFiles, get("/ui/", "POST"));
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  auto head = serve_from(kFiles, get("/ui/app.js", "HEAD"));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());
}

TEST(UiFiles, AnUnchangedFileCostsA304) {
  auto first = serve_from(kFiles, get("/ui/app.js"));
  ASSERT_TRUE(first);
  std::string etag = header(*first, "ETag");
  ASSERT_FALSE(etag.empty());
  http::Request again = get("/ui/app.js");
  again.headers["if-none-match"] = etag;
  auto second = serve_from(kFiles, again);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 304);
  EXPECT_TRUE(second->body.empty());
}

TEST(UiFiles, TheBinaryCarriesTheUi) {
  const auto& files = embedded_files();
  ASSERT_TRUE(files.count("index.html")) << "ui/index.html was not embedded";
  auto index = serve(get("/ui/"));
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_NE(index->body.find("<html"), std::string::npos);
  // Every script and stylesheet the page names is embedded too.
  for (const auto& [name, bytes] : files) {
    EXPECT_FALSE(content_type_of(name).empty()) << name;
    EXPECT_FALSE(bytes.empty()) << name;
  }
}

}  // namespace
}  // namespace berth::ui
