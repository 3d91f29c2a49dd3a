// JsonValue: a JSON document with value semantics (deep copy, equality) behind a forward
// declaration, so model headers stay free of nlohmann/json.hpp. App uses it to keep the
// definition fields berth stores and echoes without interpreting them here.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>

namespace berth::model {

class JsonValue {
 public:
  JsonValue();  // JSON null
  explicit JsonValue(const nlohmann::json& value);
  explicit JsonValue(nlohmann::json&& value);
  JsonValue(const JsonValue& other);
  JsonValue(JsonValue&& other) noexcept;
  JsonValue& operator=(const JsonValue& other);
  JsonValue& operator=(JsonValue&& other) noexcept;
  ~JsonValue();

  const nlohmann::json& get() const { return *value_; }
  nlohmann::json& get() { return *value_; }

  // Structural equality as nlohmann defines it (1 == 1.0; object key order never matters).
  bool operator==(const JsonValue& other) const;

 private:
  // Never null: a moved-from JsonValue holds JSON null.
  std::unique_ptr<nlohmann::json> value_;
};

}  // namespace berth::model
