// HTTPS end to end on loopback: certificates from write_test_pki, the server with
// ServerOptions::tls_*, the client with set_client_ca_file.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "http/http.h"
#include "http/tls_files.h"

namespace berth::http {
namespace {

namespace asio = boost::asio;

std::string fresh_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("berth-tls-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  return dir.string();
}

unsigned mode_of(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

Response echo_path(const Request& request) {
  Response response;
  response.body = request.path;
  return response;
}

// A raw TLS connection to 127.0.0.1:`port` that trusts `ca_file`, its handshake done.
struct TlsClient {
  TlsClient(const std::string& ca_file, uint16_t port) {
    context.load_verify_file(ca_file);
    context.set_verify_mode(asio::ssl::verify_peer);
    stream.next_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    stream.handshake(asio::ssl::stream_base::client);
  }
  asio::io_context io;
  asio::ssl::context context{asio::ssl::context::tls_client};
  asio::ssl::stream<asio::ip::tcp::socket> stream{io, context};
};

// A TLS server with a throwaway PKI; the process's client trusts its CA until destroyed.
class TlsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_TRUE(write_test_pki(dir_, {}).ok());
    set_client_ca_file(dir_ + "/ca.pem");
  }
  void TearDown() override {
    set_client_ca_file("");
    std::filesystem::remove_all(dir_);
  }
  ServerOptions tls_options(const std::string& host = "127.0.0.1") const {
    ServerOptions options{host, 0};
    options.tls_cert_file = dir_ + "/cert.pem";
    options.tls_key_file = dir_ + "/key.pem";
    return options;
  }
  std::string dir_;
};

}  // namespace

TEST(TlsFiles, WritesAPrivateCaAndAServerCertificate) {
  std::string dir = fresh_dir("files") + "/pki";
  ASSERT_TRUE(write_test_pki(dir, {"10.1.2.3", "node-1.example", "localhost"}).ok());
  EXPECT_EQ(mode_of(dir), 0700u);
  for (const char* name : {"ca.pem", "ca-key.pem", "cert.pem", "key.pem"}) {
    EXPECT_EQ(mode_of(dir + "/" + name), 0600u) << name;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/cert.pem.tmp"));
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

TEST(TlsFiles, RejectsANameThatIsNeitherAnAddressNorADnsName) {
  std::string dir = fresh_dir("badname");
  auto written = write_test_pki(dir, {"a,b"});
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(written.error().message.find("'a,b'"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir + "/cert.pem"));
  std::filesystem::remove_all(dir);
}

TEST_F(TlsFixture, AServerAnswersAClientThatTrustsItsCaByAddressAndByName) {
  auto server = serve(tls_options(), echo_path);
  ASSERT_TRUE(server.ok()) << server.error().message;
  std::string port = std::to_string((*server)->port());
  auto by_address = request("https://127.0.0.1:" + port, "GET", "/hello");
  ASSERT_TRUE(by_address.ok()) << by_address.error().message;
  EXPECT_EQ(by_address->status, 200);
  EXPECT_EQ(by_address->body, "/hello");
  auto by_name = request("https://localhost:" + port, "POST", "/named", "{}");
  ASSERT_TRUE(by_name.ok()) << by_name.error().message;
  EXPECT_EQ(by_name->body, "/named");
}

TEST_F(TlsFixture, AClientWithoutTheRightCaFailsWithACertificateVerificationError) {
  auto server = serve(tls_options(), echo_path);
  ASSERT_TRUE(server.ok());
  std::string url = "https://127.0.0.1:" + std::to_string((*server)->port());
  set_client_ca_file("");  // the system's CAs
  auto untrusted = request(url, "GET", "/", "", 5000);
  ASSERT_FALSE(untrusted.ok());
  EXPECT_EQ(untrusted.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(untrusted.error().message.find("certificate verification"), std::string::npos)
      << untrusted.error().message;

  std::string other = fresh_dir("other-ca");
  ASSERT_TRUE(write_test_pki(other, {}).ok());
  set_client_ca_file(other + "/ca.pem");
  auto wrong = request(url, "GET", "/", "", 5000);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(wrong.error().message.find("certificate verification"), std::string::npos)
      << wrong.error().message;
  std::filesystem::remove_all(other);

  set_client_ca_file(dir_ + "/ca.pem");
  EXPECT_TRUE(request(url, "GET", "/").ok()) << "the server still serves after failed handshakes";
}

TEST_F(TlsFixture, AClientRefusesACertificateThatDoesNotNameTheAddress) {
  auto server = serve(tls_options("127.0.0.2"), echo_path);  // its certificate names 127.0.0.1
  ASSERT_TRUE(server.ok()) << server.error().message;
  auto got =
      request("https://127.0.0.2:" + std::to_string((*server)->port()), "GET", "/", "", 5000);
  ASSERT_FALSE(got.ok());
  EXPECT_NE(got.error().message.find("certificate verification"), std::string::npos)
      << got.error().message;
  EXPECT_NE(got.error().message.find("IP address mismatch"), std::string::npos)
      << got.error().message;
}

TEST_F(TlsFixture, PlainHttpToTheTlsPortGetsAnAnswerSayingSoAndTheServerKeepsServing) {
  auto server = serve(tls_options(), echo_path);
  ASSERT_TRUE(server.ok());
  std::string port = std::to_string((*server)->port());
  auto start = std::chrono::steady_clock::now();
  auto plain = request("http://127.0.0.1:" + port, "GET", "/", "", 5000);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->status, 400);
  EXPECT_NE(plain->body.find("https://"), std::string::npos) << plain->body;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  auto tls = request("https://127.0.0.1:" + port, "GET", "/after");
  ASSERT_TRUE(tls.ok()) << tls.error().message;
  EXPECT_EQ(tls->body, "/after");
}

TEST_F(TlsFixture, AnHttpsClientToAPlainServerFailsCleanly) {
  auto server = serve({"127.0.0.1", 0}, echo_path);
  ASSERT_TRUE(server.ok());
  auto got =
      request("https://127.0.0.1:" + std::to_string((*server)->port()), "GET", "/", "", 5000);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(got.error().message.find("TLS handshake"), std::string::npos) << got.error().message;
}

TEST_F(TlsFixture, AStalledHandshakeIsClosedAtTheHeaderDeadline) {
  ServerOptions options = tls_options();
  options.header_timeout = std::chrono::milliseconds(300);
  auto server = serve(options, echo_path);
  ASSERT_TRUE(server.ok());
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), (*server)->port()});
  asio::write(socket, asio::buffer(std::string("\x16\x03\x01", 3)));
  auto start = std::chrono::steady_clock::now();
  char byte;
  boost::system::error_code ec;
  socket.read_some(asio::buffer(&byte, 1), ec);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(ec) << "the server should close, not answer";
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST_F(TlsFixture, KeepAliveAndStreamedAnswersWorkOverTls) {
  auto server = serve(tls_options(), [](const Request& request) {
    Response response = echo_path(request);
    if (request.path == "/stream") {
      auto left = std::make_shared<int>(3);
      response.stream = [left](std::string* chunk) {
        if (*left == 0) return false;
        *chunk = "chunk" + std::to_string((*left)--) + ";";
        return true;
      };
    }
    return response;
  });
  ASSERT_TRUE(server.ok());
  std::string url = "https://127.0.0.1:" + std::to_string((*server)->port());
  auto streamed = request(url, "GET", "/stream");
  ASSERT_TRUE(streamed.ok()) << streamed.error().message;
  EXPECT_EQ(streamed->body, "chunk3;chunk2;chunk1;");

  TlsClient client(dir_ + "/ca.pem", (*server)->port());
  auto& stream = client.stream;
  std::string received;
  for (const char* path : {"/first", "/second"}) {
    asio::write(stream, asio::buffer("GET " + std::string(path) + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    asio::read_until(stream, asio::dynamic_buffer(received), path);
    EXPECT_NE(received.find(path), std::string::npos);
  }
}

TEST_F(TlsFixture, DeferredAnswersKeepTheConnectionAliveAndAClientThatLeavesIsNoticed) {
  std::mutex mu;
  std::condition_variable parked;
  std::vector<std::shared_ptr<Reply>> replies;
  auto server = serve(tls_options(), [&](const Request& request) {
    Response response = echo_path(request);
    response.defer = [&](std::shared_ptr<Reply> reply) {
      std::lock_guard<std::mutex> lock(mu);
      replies.push_back(std::move(reply));
      parked.notify_all();
    };
    return response;
  });
  ASSERT_TRUE(server.ok());
  auto reply = [&](size_t i) {
    std::unique_lock<std::mutex> lock(mu);
    parked.wait_for(lock, std::chrono::seconds(10), [&] { return replies.size() > i; });
    return replies.size() > i ? replies[i] : nullptr;
  };
  TlsClient client(dir_ + "/ca.pem", (*server)->port());
  auto& stream = client.stream;
  std::string received;
  size_t i = 0;
  for (const std::string path : {"/first", "/second"}) {
    asio::write(stream, asio::buffer("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto waiting = reply(i++);
    ASSERT_TRUE(waiting);
    ASSERT_TRUE(waiting->complete(Response{200, "text/plain", {}, "answer " + path}));
    asio::read_until(stream, asio::dynamic_buffer(received), "answer " + path);
  }
  asio::write(stream, asio::buffer(std::string("GET /third HTTP/1.1\r\nHost: x\r\n\r\n")));
  auto third = reply(2);
  ASSERT_TRUE(third);
  ::SSL_shutdown(stream.native_handle());  // close_notify, then the socket's close
  stream.next_layer().close();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!third->abandoned() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(third->abandoned()) << "the client's goodbye went unnoticed";
  EXPECT_FALSE(third->complete(Response{}));
}

TEST(Tls, ServeRejectsUnusableCertificateFiles) {
  std::string dir = fresh_dir("unusable");
  std::string other = fresh_dir("unusable-other");
  ASSERT_TRUE(write_test_pki(dir, {}).ok());
  ASSERT_TRUE(write_test_pki(other, {}).ok());
  ServerOptions options{"127.0.0.1", 0};
  options.tls_cert_file = dir + "/missing.pem";
  options.tls_key_file = dir + "/key.pem";
  auto missing = serve(options, echo_path);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(missing.error().message.find("missing.pem"), std::string::npos)
      << missing.error().message;

  options.tls_key_file = "";
  auto half = serve(options, echo_path);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error().code, ErrorCode::kInvalidArgument);

  options.tls_cert_file = dir + "/cert.pem";
  options.tls_key_file = other + "/key.pem";
  auto mismatched = serve(options, echo_path);
  ASSERT_FALSE(mismatched.ok());
  EXPECT_NE(mismatched.error().message.find("does not match"), std::string::npos)
      << mismatched.error().message;
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(other);
}

}  // namespace berth::http
