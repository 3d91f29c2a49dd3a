// CommandContext: what every `berth` client command gets — the master, the output mode,
// the output streams and the process environment — plus the shared ways of reporting.
// Built by client_commands.cpp after parsing; used by the *_commands.cpp files.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "cli/api_client.h"
#include "cli/client_environment.h"

namespace berth::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct CommandContext {
  const ApiClient& api;
  bool json = false;  // --json: print the API's answers instead of tables
  std::ostream& out;
  std::ostream& err;
  ClientEnvironment& env;

  // Where progress and confirmations go: stdout normally, stderr under --json so that
  // stdout stays one parseable JSON document.
  std::ostream& notes() const { return json ? err : out; }
};

// Sends one request. On a 2xx answer returns it. Otherwise reports the failure — the API's
// JSON on stdout under --json, else its message and details on stderr; or the "cannot reach
// the berth master" message — and returns nullopt: the command then exits with kExitFailure.
std::optional<ApiAnswer> call_or_report(const CommandContext& context, const std::string& method,
                                        const std::string& target, const std::string& body = "");

// Reports an answer that call() returned but the command treats as a failure.
void report_failure(const CommandContext& context, const ApiAnswer& answer);

// The answer's JSON, pretty, or its raw body when it is not JSON.
void print_json(std::ostream& out, const ApiAnswer& answer);

// Small formatting helpers for JSON fields that may be missing or of the wrong type.
// A string, number or boolean as text; `fallback` for anything else or an empty string.
std::string scalar_text(const nlohmann::json& value, const std::string& fallback = "-");
std::string text_field(const nlohmann::json& object, const char* key,
                       const std::string& fallback = "-");
// Numbers without trailing zeros: 0.5, 128, 1024.
std::string number_text(const nlohmann::json& value, const std::string& fallback = "-");
std::string number_field(const nlohmann::json& object, const char* key,
                         const std::string& fallback = "-");
int64_t int_field(const nlohmann::json& object, const char* key, int64_t fallback = 0);
// "31000,31001" for an array of numbers (or strings); "-" when empty or missing.
std::string joined_field(const nlohmann::json& object, const char* key);

}  // namespace berth::cli
