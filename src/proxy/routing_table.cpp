#include "proxy/routing_table.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

namespace berth::proxy {
namespace {

Error invalid(std::string message) {
  return make_error(ErrorCode::kInvalidArgument, std::move(message));
}

std::string route_name(const Route& route) {
  return "route for service port " + std::to_string(route.service_port) + " (app '" + route.app_id +
         "')";
}

// Reads an unsigned integer field that must fit in [min, max]. Returns false with *error set.
bool read_uint(const nlohmann::json& object, const char* field, uint64_t min, uint64_t max,
               const std::string& where, uint64_t* out, std::string* error) {
  auto it = object.find(field);
  if (it == object.end()) {
    *error = where + ": missing '" + field + "'";
    return false;
  }
  if (!it->is_number_integer() || (!it->is_number_unsigned() && it->get<int64_t>() < 0)) {
    *error = where + ": '" + field + "' must be a non-negative integer, got " + it->dump();
    return false;
  }
  uint64_t value = it->get<uint64_t>();
  if (value < min || value > max) {
    *error = where + ": '" + field + "' must be in " + std::to_string(min) + ".." +
             std::to_string(max) + ", got " + std::to_string(value);
    return false;
  }
  *out = value;
  return true;
}

bool read_string(const nlohmann::json& object, const char* field, const std::string& where,
                 std::string* out, std::string* error) {
  auto it = object.find(field);
  if (it == object.end() || !it->is_string()) {
    *error = where + ": '" + field + "' must be a string" +
             (it == object.end() ? std::string(", but it is missing") : ", got " + it->dump());
    return false;
  }
  *out = it->get<std::string>();
  return true;
}

bool parse_backend(const nlohmann::json& j, const std::string& where, Backend* out,
                   std::string* error) {
  if (!j.is_object()) {
    *error = where + " must be an object, got " + j.dump();
    return false;
  }
  uint64_t port = 0;
  if (!read_string(j, "host", where, &out->host, error)) return false;
  if (!read_uint(j, "port", 1, 65535, where, &port, error)) return false;
  out->port = static_cast<uint16_t>(port);
  return true;
}

bool parse_route(const nlohmann::json& j, const std::string& where, Route* out,
                 std::string* error) {
  if (!j.is_object()) {
    *error = where + " must be an object, got " + j.dump();
    return false;
  }
  uint64_t port = 0;
  if (!read_uint(j, "service_port", 1, 65535, where, &port, error)) return false;
  out->service_port = static_cast<uint16_t>(port);
  if (!read_string(j, "app_id", where, &out->app_id, error)) return false;
  auto backends = j.find("backends");
  if (backends == j.end()) return true;  // no healthy task yet
  if (!backends->is_array()) {
    *error = where + ": 'backends' must be an array, got " + backends->dump();
    return false;
  }
  for (size_t i = 0; i < backends->size(); ++i) {
    Backend backend;
    std::string backend_where = where + ".backends[" + std::to_string(i) + "]";
    if (!parse_backend((*backends)[i], backend_where, &backend, error)) return false;
    out->backends.push_back(std::move(backend));
  }
  return true;
}

}  // namespace

Status validate(const RoutingTable& table) {
  std::set<uint16_t> ports;
  for (const Route& route : table.routes) {
    if (route.service_port == 0)
      return invalid(route_name(route) + ": service port 0 is not a port");
    if (!ports.insert(route.service_port).second) {
      return invalid("service port " + std::to_string(route.service_port) +
                     " is routed twice; each service port belongs to one app");
    }
    if (route.app_id.empty()) return invalid(route_name(route) + ": the app id is empty");
    std::set<Backend> seen;
    for (const Backend& backend : route.backends) {
      if (backend.host.empty() || backend.port == 0) {
        return invalid(route_name(route) + ": backend '" + backend.host + ":" +
                       std::to_string(backend.port) + "' needs a host and a non-zero port");
      }
      if (!seen.insert(backend).second) {
        return invalid(route_name(route) + ": backend " + backend.host + ":" +
                       std::to_string(backend.port) + " is listed twice");
      }
    }
  }
  return {};
}

void to_json(nlohmann::json& j, const RoutingTable& table) {
  nlohmann::json routes = nlohmann::json::array();
  for (const Route& route : table.routes) {
    nlohmann::json backends = nlohmann::json::array();
    for (const Backend& backend : route.backends) {
      backends.push_back({{"host", backend.host}, {"port", backend.port}});
    }
    routes.push_back(
        {{"service_port", route.service_port}, {"app_id", route.app_id}, {"backends", backends}});
  }
  j = nlohmann::json{{"version", table.version}, {"routes", std::move(routes)}};
}

Result<RoutingTable> routing_table_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return invalid("a routing table must be a JSON object, got " + j.dump());
  RoutingTable table;
  std::string error;
  if (!read_uint(j, "version", 0, UINT64_MAX, "routing table", &table.version, &error)) {
    return invalid(error);
  }
  auto routes = j.find("routes");
  if (routes != j.end()) {
    if (!routes->is_array())
      return invalid("routing table: 'routes' must be an array, got " + routes->dump());
    for (size_t i = 0; i < routes->size(); ++i) {
      Route route;
      if (!parse_route((*routes)[i], "routes[" + std::to_string(i) + "]", &route, &error)) {
        return invalid(error);
      }
      table.routes.push_back(std::move(route));
    }
  }
  Status valid = validate(table);
  if (!valid) return valid.error();
  return table;
}

const Route* find_route(const RoutingTable& table, uint16_t service_port) {
  for (const Route& route : table.routes) {
    if (route.service_port == service_port) return &route;
  }
  return nullptr;
}

bool same_backends(const std::vector<Backend>& a, const std::vector<Backend>& b) {
  if (a.size() != b.size()) return false;
  std::vector<Backend> sorted_a = a, sorted_b = b;
  std::sort(sorted_a.begin(), sorted_a.end());
  std::sort(sorted_b.begin(), sorted_b.end());
  return sorted_a == sorted_b;
}

RoutingDiff diff_routes(const RoutingTable& current, const RoutingTable& desired) {
  RoutingDiff diff;
  for (const Route& route : desired.routes) {
    const Route* before = find_route(current, route.service_port);
    if (before == nullptr) {
      diff.open.push_back(route.service_port);
    } else if (before->app_id != route.app_id || !same_backends(before->backends, route.backends)) {
      diff.changed.push_back(route.service_port);
    }
  }
  for (const Route& route : current.routes) {
    if (find_route(desired, route.service_port) == nullptr)
      diff.close.push_back(route.service_port);
  }
  std::sort(diff.open.begin(), diff.open.end());
  std::sort(diff.close.begin(), diff.close.end());
  std::sort(diff.changed.begin(), diff.changed.end());
  return diff;
}

BackendPicker::BackendPicker(std::chrono::milliseconds cooldown) : cooldown_(cooldown) {}

void BackendPicker::set_backends(std::vector<Backend> backends) {
  backends_ = std::move(backends);
  next_ = backends_.empty() ? 0 : next_ % backends_.size();
  std::map<Backend, MonoTime> kept;
  for (const Backend& backend : backends_) {
    auto it = cooling_until_.find(backend);
    if (it != cooling_until_.end()) kept.insert(*it);
  }
  cooling_until_ = std::move(kept);
}

std::vector<Backend> BackendPicker::attempt_order(MonoTime now, size_t max_attempts) {
  std::vector<Backend> healthy;
  std::vector<std::pair<MonoTime, size_t>> cooling;  // (until, round-robin rank)
  const size_t n = backends_.size();
  size_t first_healthy = n;
  for (size_t k = 0; k < n; ++k) {
    size_t index = (next_ + k) % n;
    const Backend& backend = backends_[index];
    auto it = cooling_until_.find(backend);
    if (it != cooling_until_.end() && it->second > now) {
      cooling.emplace_back(it->second, index);
    } else {
      if (first_healthy == n) first_healthy = index;
      healthy.push_back(backend);
    }
  }
  // Stable sort keeps the round-robin order among backends recovering at the same time.
  std::stable_sort(cooling.begin(), cooling.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Backend> order = std::move(healthy);
  for (const auto& [until, index] : cooling) order.push_back(backends_[index]);
  if (order.size() > max_attempts) order.resize(max_attempts);
  if (n > 0) next_ = (first_healthy == n ? next_ + 1 : first_healthy + 1) % n;
  return order;
}

void BackendPicker::mark_failed(const Backend& backend, MonoTime now) {
  if (std::find(backends_.begin(), backends_.end(), backend) == backends_.end()) return;
  cooling_until_[backend] = now + cooldown_;
}

void BackendPicker::mark_connected(const Backend& backend) { cooling_until_.erase(backend); }

bool BackendPicker::cooling_down(const Backend& backend, MonoTime now) const {
  auto it = cooling_until_.find(backend);
  return it != cooling_until_.end() && it->second > now;
}

}  // namespace berth::proxy
