// What a handler is given: one parsed HTTP request. Plain data, independent of the HTTP library underneath.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::server::http {

// Header fields in the order they arrived (or are to be sent). Names keep their case; lookups ignore it.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// ASCII case-insensitive equality, as HTTP field names and tokens compare.
bool iequals(std::string_view a, std::string_view b);

struct Request {
  std::string method;          // "GET", "POST", ... as sent (methods are case-sensitive)
  std::string path;            // the target up to '?', not percent-decoded: "/v1/chat/completions"
  std::string query;           // after '?', without it; empty when there is none
  HeaderList headers;          // as received; repeated fields stay separate entries
  std::string body;            // the whole body, already de-chunked
  std::string remote_address;  // "127.0.0.1:53412"
  int version = 11;            // 11 for HTTP/1.1, 10 for HTTP/1.0

  // The value of the first field called `name` (any case), or "" when there is none.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

}  // namespace tessera::server::http
