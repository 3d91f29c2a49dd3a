// /v2/groups and everything under it.
#pragma once

#include "http/http.h"
#include "master/master_core.h"

namespace berth::api {

http::Response handle_groups(master::MasterCore& core, const http::Request& request);

}  // namespace berth::api
