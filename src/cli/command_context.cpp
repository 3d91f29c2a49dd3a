#include "cli/command_context.h"

#include <sstream>

namespace berth::cli {

std::optional<ApiAnswer> call_or_report(const CommandContext& context, const std::string& method,
                                        const std::string& target, const std::string& body) {
  auto answer = context.api.call(method, target, body);
  if (!answer.ok()) {
    context.err << answer.error().message << "\n";
    return std::nullopt;
  }
  if (!answer->ok()) {
    report_failure(context, *answer);
    return std::nullopt;
  }
  return std::move(answer).value();
}

void report_failure(const CommandContext& context, const ApiAnswer& answer) {
  if (context.json) {
    print_json(context.out, answer);
    return;
  }
  for (const auto& line : describe_failure(answer)) context.err << line << "\n";
}

void print_json(std::ostream& out, const ApiAnswer& answer) {
  if (answer.json.is_null() && !answer.body.empty()) {
    out << answer.body << "\n";
  } else {
    out << answer.json.dump(2) << "\n";
  }
}

std::string text_field(const nlohmann::json& object, const char* key, const std::string& fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  return scalar_text(object[key], fallback);
}

std::string scalar_text(const nlohmann::json& value, const std::string& fallback) {
  if (value.is_string())
    return value.get<std::string>().empty() ? fallback : value.get<std::string>();
  if (value.is_number()) return number_text(value, fallback);
  if (value.is_boolean()) return value.get<bool>() ? "true" : "false";
  return fallback;
}

std::string number_text(const nlohmann::json& value, const std::string& fallback) {
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  if (!value.is_number()) return fallback;
  std::ostringstream text;
  text << value.get<double>();
  return text.str();
}

std::string number_field(const nlohmann::json& object, const char* key,
                         const std::string& fallback) {
  if (!object.is_object() || !object.contains(key)) return fallback;
  return number_text(object[key], fallback);
}

int64_t int_field(const nlohmann::json& object, const char* key, int64_t fallback) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_number()) return fallback;
  return object[key].get<int64_t>();
}

std::string joined_field(const nlohmann::json& object, const char* key) {
  if (!object.is_object() || !object.contains(key) || !object[key].is_array()) return "-";
  std::string text;
  for (const auto& item : object[key]) {
    if (!text.empty()) text += ",";
    text += item.is_string() ? item.get<std::string>() : number_text(item, item.dump());
  }
  return text.empty() ? "-" : text;
}

}  // namespace berth::cli
