// Router: exact (method, path) -> Handler. Filled before the server starts and read-only after, so the I/O threads
// share it without a lock.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/server/http/http_server.h"

namespace tessera::server::http {

class Router {
 public:
  // A later route for the same (method, path) replaces the earlier one.
  void add(std::string method, std::string path, Handler handler);

  struct Match {
    const Handler* handler = nullptr;  // null when status is 404 or 405
    int status = 200;
    std::string allow;  // for 405: the path's methods, "GET, POST"
  };
  Match find(std::string_view method, std::string_view path) const;

  // The methods routed for `path` as an Allow field lists them; "" for an unknown path.
  std::string allowed_methods(std::string_view path) const;

 private:
  // path -> (method, handler), methods in the order they were added.
  std::map<std::string, std::vector<std::pair<std::string, Handler>>, std::less<>> routes_;
};

}  // namespace tessera::server::http
