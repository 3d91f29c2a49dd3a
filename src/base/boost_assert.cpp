// What a failed BOOST_ASSERT does in builds without NDEBUG (debug, asan, fuzz): print and abort,
// as assert() would, except for one assertion of Boost 1.81's HTTP parser that is wrong.
//
// basic_parser::parse_chunk_header asserts `n >= 5` when it resumes a final chunk ("0\r\n")
// whose closing CRLF has not all arrived. A client that sends "0\r\n", then "\r", then "\n"
// in separate reads resumes it with 4 bytes; the code after the assertion handles that (it
// looks for the end of the message and asks for more). Beast fixed the assertion upstream
// (boostorg/beast pull request 2861, Boost 1.86); Debian 12 ships 1.81. Without this, any
// client could abort a debug build of the master with a slow chunked request.
// CMakeLists.txt sets BOOST_ENABLE_ASSERT_DEBUG_HANDLER so that release builds keep Boost's
// asserts compiled out as before.
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace boost {

namespace {

bool ends_with(const char* text, const char* tail) {
  size_t n = std::strlen(text), m = std::strlen(tail);
  return n >= m && std::strcmp(text + n - m, tail) == 0;
}

bool known_false_assertion(const char* expr, const char* file) {
  return std::strcmp(expr, "n >= 5") == 0 && ends_with(file, "beast/http/impl/basic_parser.ipp");
}

}  // namespace

void assertion_failed(const char* expr, const char* function, const char* file, long line) {
  if (known_false_assertion(expr, file)) return;
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed.\n", file, line, function, expr);
  std::abort();
}

void assertion_failed_msg(const char* expr, const char* msg, const char* function, const char* file,
                          long line) {
  std::fprintf(stderr, "%s:%ld: %s: Assertion `%s' failed: %s\n", file, line, function, expr, msg);
  std::abort();
}

}  // namespace boost
