// Validation of the names that reach the volume drivers. A dataset id becomes part of a file
// path (`<pool>/<id>.img`, `<mount_dir>/<id>`), so it is checked strictly before any driver
// touches storage; node ids only go into epoch records.
#pragma once

#include <string>

#include "base/result.h"

namespace berth {

// Ok for a lowercase UUID in 8-4-4-4-12 form (36 characters, hex digits and dashes);
// kInvalidArgument naming the value otherwise.
Status validate_dataset_id(const std::string& dataset_id);
// Ok for a non-empty node id of at most 256 printable characters; kInvalidArgument otherwise.
Status validate_node_id(const std::string& node_id);

}  // namespace berth
