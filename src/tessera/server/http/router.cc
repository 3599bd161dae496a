#include "tessera/server/http/router.h"

namespace tessera::server::http {

void Router::add(std::string method, std::string path, Handler handler) {
  auto& methods = routes_[std::move(path)];
  for (auto& [m, h] : methods) {
    if (m == method) {
      h = std::move(handler);
      return;
    }
  }
  methods.emplace_back(std::move(method), std::move(handler));
}

Router::Match Router::find(std::string_view method, std::string_view path) const {
  auto it = routes_.find(path);
  if (it == routes_.end()) return {nullptr, 404, ""};
  for (const auto& [m, h] : it->second) {
    if (m == method) return {&h, 200, ""};
  }
  return {nullptr, 405, allowed_methods(path)};
}

std::string Router::allowed_methods(std::string_view path) const {
  std::string out;
  auto it = routes_.find(path);
  if (it == routes_.end()) return out;
  for (const auto& [m, h] : it->second) {
    if (!out.empty()) out += ", ";
    out += m;
  }
  return out;
}

}  // namespace tessera::server::http
