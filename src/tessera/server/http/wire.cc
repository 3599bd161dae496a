#include "tessera/server/http/wire.h"

#include <cassert>
#include <charconv>
#include <ostream>
// Boost 1.81's core/detail/string_view.hpp uses std::ostream but includes only <iosfwd>: <ostream> goes first.
#include <boost/beast/http/status.hpp>

#include "tessera/server/http/request.h"

namespace tessera::server::http {
namespace {

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

}  // namespace

std::string_view reason_phrase(int status) {
  namespace beast_http = boost::beast::http;
  if (status < 100 || status > 999) return "Unknown";
  auto s = beast_http::int_to_status(static_cast<unsigned>(status));
  if (s == beast_http::status::unknown) return "Unknown";
  auto r = beast_http::obsolete_reason(s);
  return std::string_view(r.data(), r.size());
}

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

bool append_field(std::string& out, std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    if (!is_token_char(c)) return false;
  }
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) return false;
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
  return true;
}

bool is_framing_field(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding") || iequals(name, "connection");
}

bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

std::string frame_chunk(std::string_view data) {
  assert(!data.empty());
  char hex[17];
  auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
  (void)ec;
  std::string out;
  out.reserve(static_cast<size_t>(end - hex) + data.size() + 4);
  out.append(hex, end);
  out += "\r\n";
  out += data;
  out += "\r\n";
  return out;
}

}  // namespace tessera::server::http
