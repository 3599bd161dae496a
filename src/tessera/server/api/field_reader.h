// FieldReader: reads the optional fields of one JSON object into C++ values, checking type and range, and keeps
// the first error so a parser reads as a list of fields with one check at the end:
//
//   FieldReader r(body);
//   r.number("temperature", s.temperature, 0, 2);
//   r.integer("n", req.n, 1, 128);
//   if (!r.ok()) return r.error();
//
// A field that is absent or null keeps its default (clients send null for "not given"); a field of the wrong
// type or out of range is a 400 naming its path. Unknown fields are never looked at, so they are ignored, as
// OpenAI-compatible servers do. After the first error every call is a no-op returning false.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/server/api/api_error.h"
#include "tessera/server/api/json_body.h"

namespace tessera::server::api {

class FieldReader {
 public:
  // `object` must outlive the reader. `prefix` is put before each key in error paths ("messages[0]." for OpenAI,
  // "messages.0." for Anthropic).
  explicit FieldReader(const Json& object, std::string prefix = "");

  // The field, or null when absent or JSON null.
  const Json* get(std::string_view key) const;
  bool has(std::string_view key) const { return get(key) != nullptr; }
  std::string path(std::string_view key) const { return prefix_ + std::string(key); }

  // Each returns true when the field was present and valid (and `out` was set).
  bool string(std::string_view key, std::string& out);
  bool boolean(std::string_view key, bool& out);
  // Integers; a float with an integral value (2.0) is taken too, as Python's JSON clients may send it.
  bool integer(std::string_view key, int64_t& out, int64_t lo, int64_t hi);
  bool integer(std::string_view key, int32_t& out, int64_t lo, int64_t hi);
  bool number(std::string_view key, float& out, double lo, double hi);
  bool array(std::string_view key, const Json*& out);
  bool object(std::string_view key, const Json*& out);
  // Fails with "Missing required parameter" when the field is absent or null.
  bool require(std::string_view key);

  // Records `error` unless an error is already recorded.
  void fail(ApiError error);
  bool ok() const { return !error_.has_value(); }
  // REQUIRES: !ok()
  const ApiError& error() const { return *error_; }

 private:
  bool check_type(std::string_view key, const Json*& value, bool ok, std::string_view expected);

  const Json& object_;
  std::string prefix_;
  std::optional<ApiError> error_;
};

// A JSON number as an int64 when it is integral and in range; nullopt otherwise (strings, 2.5, 1e30).
std::optional<int64_t> json_to_int64(const Json& value);
// "3", "2.5", "\"abc\"" (truncated) for "but got ... instead".
std::string describe_value(const Json& value);

}  // namespace tessera::server::api
