#include "volume/dataset_id.h"

#include <cstddef>

namespace berth {
namespace {

constexpr size_t kUuidLength = 36;
constexpr size_t kMaxNodeIdLength = 256;

bool is_dash_position(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

bool is_lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

}  // namespace

Status validate_dataset_id(const std::string& dataset_id) {
  bool ok = dataset_id.size() == kUuidLength;
  for (size_t i = 0; ok && i < dataset_id.size(); ++i) {
    ok = is_dash_position(i) ? dataset_id[i] == '-' : is_lower_hex(dataset_id[i]);
  }
  if (ok) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "dataset id \"" + dataset_id.substr(0, 64) +
                        "\" is not a lowercase UUID (8-4-4-4-12 hex digits, e.g. "
                        "\"3f2a9c1e-0b7d-4e8f-9a61-5c2d8e4b7f10\")");
}

Status validate_node_id(const std::string& node_id) {
  bool ok = !node_id.empty() && node_id.size() <= kMaxNodeIdLength;
  for (size_t i = 0; ok && i < node_id.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(node_id[i]);
    ok = c > 0x20 && c != 0x7f;
  }
  if (ok) return {};
  return make_error(ErrorCode::kInvalidArgument,
                    "node id \"" + node_id.substr(0, 64) +
                        "\" must be 1 to 256 printable characters without spaces");
}

}  // namespace berth
