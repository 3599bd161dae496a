#include "tessera/server/api/json_body.h"

namespace tessera::server::api {
namespace {

// The deepest nesting of arrays and objects in `text`, stopping early once past `limit`. Brackets inside strings
// do not count; the text need not be valid JSON (the parser judges that next).
int nesting_depth(std::string_view text, int limit) {
  int depth = 0, deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest && (deepest = depth) > limit) break;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

}  // namespace

ApiResult<Json> parse_json_body(std::string_view body) {
  if (nesting_depth(body, kMaxJsonDepth) > kMaxJsonDepth)
    return invalid_request("The request body is nested more than " + std::to_string(kMaxJsonDepth) + " levels deep.");
  Json value = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded())
    return invalid_request(
        "We could not parse the JSON body of your request. The body must be valid JSON (UTF-8) and the "
        "Content-Type application/json.");
  if (!value.is_object()) return invalid_request("The request body must be a JSON object.");
  return value;
}

std::optional<Json> parse_embedded_json(std::string_view text) {
  if (nesting_depth(text, kMaxJsonDepth) > kMaxJsonDepth) return std::nullopt;
  Json value = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

std::string dump(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

std::string_view json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "a boolean";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "an array";
    case Json::value_t::object:
      return "an object";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "an integer";
    case Json::value_t::number_float:
      return "a number";
    default:
      return "an unsupported value";
  }
}

}  // namespace tessera::server::api
