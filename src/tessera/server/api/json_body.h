// JSON in and out of the API layers. Bodies are parsed into nlohmann::ordered_json so that what reaches a chat
// template (tool schemas, tool-call arguments) keeps the client's key order, as Python dicts do; the rendered
// prompt, and so the prefix cache, then matches what transformers would produce.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/server/api/api_error.h"

namespace tessera::server::api {

using Json = nlohmann::ordered_json;

// Bodies nested deeper than this are refused before parsing: nothing in either API needs more, and it bounds the
// recursion of everything that walks the value afterwards (templates, dump, the destructor).
inline constexpr int kMaxJsonDepth = 128;

// The request body as a JSON object, or a 400 saying why not (not JSON, not an object, nested too deep).
ApiResult<Json> parse_json_body(std::string_view body);

// JSON text found inside a string field (OpenAI's tool-call `arguments`), under the same depth limit; nullopt when
// it is not JSON or nests too deep.
std::optional<Json> parse_embedded_json(std::string_view text);

// Compact JSON text that never throws: bytes that are not UTF-8 (a token piece that ends inside a character)
// come out as U+FFFD.
std::string dump(const Json& value);

// "a string", "a number", "an array", ... for error messages.
std::string_view json_type_name(const Json& value);

}  // namespace tessera::server::api
