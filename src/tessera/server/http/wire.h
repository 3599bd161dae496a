// The bytes the server writes around a handler's data: status lines, header fields, chunk framing.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tessera::server::http {

inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kSseKeepAlive = ": keep-alive\n\n";

// "OK", "Not Found", ...; "Unknown" for a code HTTP does not name.
std::string_view reason_phrase(int status);

// Appends "HTTP/1.1 <status> <reason>\r\n".
void append_status_line(std::string& out, int status);
// Appends "name: value\r\n". A field whose name is not a token or whose value holds CR, LF or NUL is dropped, so a
// value taken from a request cannot inject fields. Returns whether it was appended.
bool append_field(std::string& out, std::string_view name, std::string_view value);

// Content-Length, Transfer-Encoding and Connection: the server sets these, a handler may not.
bool is_framing_field(std::string_view name);

// 1xx, 204 and 304 responses carry no body and no Content-Length.
bool status_has_body(int status);

// One chunk of a chunked body: "<hex size>\r\n<data>\r\n". REQUIRES: !data.empty() (an empty chunk ends the body).
std::string frame_chunk(std::string_view data);

}  // namespace tessera::server::http
