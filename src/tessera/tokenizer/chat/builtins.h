// The builtin library of the interpreter, split by kind: filters (filters.cc), tests (builtin_tests.cc), methods
// of str / dict / list (methods.cc) and globals (globals.cc). Each follows Jinja2 3.1 and Python 3 semantics,
// with transformers' tojson, raise_exception and strftime_now.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "tessera/tokenizer/chat/value.h"

namespace tessera::tokenizer::chat {

bool has_filter(std::string_view name);
bool has_test(std::string_view name);
Value apply_filter(Renderer& r, std::string_view name, const Value& v, CallArgs& args);
bool apply_test(Renderer& r, std::string_view name, const Value& v, CallArgs& args);

// Attribute names that are methods of v's Python type; `unsafe` ones are those the immutable sandbox refuses.
bool has_method(const Value& v, std::string_view name, bool* unsafe);
Value call_method(Renderer& r, const Value& v, std::string_view name, CallArgs& args);

// range, dict, namespace, cycler, joiner, raise_exception, strftime_now; undefined when unknown.
Value lookup_global(std::string_view name);

// Binds a builtin's arguments to Python-style parameters: position i or keyword `name`.
class ArgReader {
 public:
  ArgReader(std::string_view func, CallArgs& args) : func_(func), args_(args) {}
  // The argument at `index` (0 = first after the value) or named `name`, if given.
  std::optional<Value> get(size_t index, std::string_view name) const;
  Value get_or(size_t index, std::string_view name, Value fallback) const;
  // Raises TypeError when more positionals than `max_positional` or keywords outside `names` were passed.
  void check(size_t max_positional, std::initializer_list<std::string_view> names) const;

 private:
  std::string func_;
  CallArgs& args_;
};

// Python's printf-style `str % args`.
Value py_percent_format(Renderer& r, const std::string& format, const Value& args);

// markupsafe's escape: & < > " ' become entities.
std::string html_escape(std::string_view s);

// Python str.splitlines() (no keepends) and str.split(sep, maxsplit), shared by filters and methods.
std::vector<std::string> py_splitlines(std::string_view s);
std::vector<std::string> py_split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit);

}  // namespace tessera::tokenizer::chat
