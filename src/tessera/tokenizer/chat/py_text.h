// Python's text rules, for a UTF-8 std::string: code points, str.isspace(), upper/lower case, float repr(),
// string repr() and json.dumps' string escaping. Jinja2 runs on Python str, so anything that counts, cases or
// prints text must follow these rules to render byte for byte the same.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::tokenizer::chat {

// Decodes one code point at s[*pos] and advances *pos. Invalid bytes decode as themselves (U+0080..U+00FF range
// is not assumed: the byte value is returned) so that no input is ever lost or loops forever.
char32_t next_code_point(std::string_view s, size_t* pos);
void append_utf8(std::string* out, char32_t cp);
std::vector<char32_t> to_code_points(std::string_view s);
std::string from_code_points(const std::vector<char32_t>& cps, size_t begin, size_t end);
size_t count_code_points(std::string_view s);
bool is_ascii(std::string_view s);

bool py_isspace(char32_t cp);
bool py_isalpha(char32_t cp);
bool py_isdigit(char32_t cp);
bool py_isalnum(char32_t cp);
bool py_islower_cased(char32_t cp);  // a cased lowercase letter
bool py_isupper_cased(char32_t cp);
bool py_isprintable(char32_t cp);
std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_title(std::string_view s);
std::string py_capitalize(std::string_view s);

// str.strip/lstrip/rstrip: `chars` empty and !has_chars means whitespace.
std::string py_strip(std::string_view s, bool left, bool right, bool has_chars, std::string_view chars);

// repr(float): shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16, else "1e+16" style.
std::string py_float_repr(double x);
// repr(str): quotes and escapes as Python 3 does.
std::string py_string_repr(std::string_view s);
// json.dumps of a string, quotes included.
std::string json_quote(std::string_view s, bool ensure_ascii);

}  // namespace tessera::tokenizer::chat
