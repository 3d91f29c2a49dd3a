#include "model/json_value.h"

#include <nlohmann/json.hpp>
#include <utility>

namespace berth::model {

JsonValue::JsonValue() : value_(std::make_unique<nlohmann::json>()) {}
JsonValue::JsonValue(const nlohmann::json& value)
    : value_(std::make_unique<nlohmann::json>(value)) {}
JsonValue::JsonValue(nlohmann::json&& value)
    : value_(std::make_unique<nlohmann::json>(std::move(value))) {}
JsonValue::JsonValue(const JsonValue& other)
    : value_(std::make_unique<nlohmann::json>(*other.value_)) {}
JsonValue::JsonValue(JsonValue&& other) noexcept
    : value_(std::make_unique<nlohmann::json>(std::move(*other.value_))) {}

JsonValue& JsonValue::operator=(const JsonValue& other) {
  if (this != &other) *value_ = *other.value_;
  return *this;
}

JsonValue& JsonValue::operator=(JsonValue&& other) noexcept {
  if (this != &other) *value_ = std::move(*other.value_);
  return *this;
}

JsonValue::~JsonValue() = default;

bool JsonValue::operator==(const JsonValue& other) const { return *value_ == *other.value_; }

}  // namespace berth::model
