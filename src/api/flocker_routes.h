// Flocker's v1 API (docs/compatibility.md §3.2): dataset configuration and state, nodes, version.
// Errors are {"description": ...} as Flocker's clients expect.
#pragma once

#include "http/http.h"
#include "master/master_core.h"

namespace berth::api {

http::Response handle_flocker(master::MasterCore& core, const http::Request& request);

}  // namespace berth::api
