// The template's global functions: Jinja2's range, dict, namespace, joiner and cycler, and transformers'
// raise_exception and strftime_now. Nothing here reaches files, the environment or other processes.
#include <ctime>

#include "tessera/tokenizer/chat/builtins.h"
#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/renderer.h"

namespace tessera::tokenizer::chat {
namespace {

int64_t int_arg(const Value& v) {
  if (!v.is_int()) type_error("'" + type_name(v) + "' object cannot be interpreted as an integer");
  return v.as_int();
}

Value range(CallArgs& args, Renderer& r) {
  if (!args.kwargs.empty()) type_error("range() takes no keyword arguments");
  if (args.args.empty() || args.args.size() > 3) type_error("range expected 1 to 3 arguments");
  int64_t start = 0, stop, step = 1;
  if (args.args.size() == 1) {
    stop = int_arg(args.args[0]);
  } else {
    start = int_arg(args.args[0]);
    stop = int_arg(args.args[1]);
    if (args.args.size() == 3) step = int_arg(args.args[2]);
  }
  if (step == 0) type_error("range() arg 3 must not be zero");
  // Count first (in floating point, immune to overflow) so that a huge range is refused before it is built.
  const double count =
      std::max(0.0, std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)));
  r.charge_steps(static_cast<int64_t>(std::min(count, 9e18)));
  List items;
  for (int64_t i = start; step > 0 ? i < stop : i > stop;) {
    items.emplace_back(i);
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return Value::list(std::move(items));
}

Value make_namespace(CallArgs& args, Renderer& r) {
  Value ns = Value::namespace_object();
  r.adopt_namespace(ns);
  for (const Value& a : args.args) {
    if (!a.is_dict()) type_error("namespace() positional argument must be a mapping");
    for (const auto& [k, v] : a.entries()) ns.set(k, v);
  }
  for (const auto& [k, v] : args.kwargs) ns.set(Value(k), v);
  return ns;
}

Value make_dict(CallArgs& args, Renderer&) {
  Value d = Value::dict();
  for (const Value& a : args.args) {
    if (!a.is_dict()) type_error("dict() positional argument must be a mapping");
    for (const auto& [k, v] : a.entries()) d.set(k, v);
  }
  for (const auto& [k, v] : args.kwargs) d.set(Value(k), v);
  return d;
}

Value raise_exception(CallArgs& args, Renderer&) {
  throw_error(ErrorKind::kRaised, args.args.empty() ? std::string() : py_str(args.args[0]));
}

Value strftime_now(CallArgs& args, Renderer& r) {
  if (args.args.empty() || !args.args[0].is_string()) type_error("strftime_now() needs a format string");
  std::tm tm{};
  if (r.settings().now) {
    tm = *r.settings().now;
  } else {
    const std::time_t t = std::time(nullptr);
    localtime_r(&t, &tm);
  }
  const std::string& format = args.args[0].str();
  if (format.size() > 1024) type_error("strftime_now() format too long");
  std::string out(format.size() * 8 + 64, '\0');
  const size_t n = std::strftime(out.data(), out.size(), format.c_str(), &tm);
  out.resize(n);
  return Value(out);
}

Value joiner(CallArgs& args, Renderer&) {
  const std::string sep = args.args.empty() ? ", " : py_str(args.args[0]);
  auto used = std::make_shared<bool>(false);
  return Value::callable("joiner", [sep, used](CallArgs&, Renderer&) -> Value {
    if (!*used) {
      *used = true;
      return Value("");
    }
    return Value(sep);
  });
}

}  // namespace

Value lookup_global(std::string_view name) {
  if (name == "range") return Value::callable("range", range);
  if (name == "namespace") return Value::callable("namespace", make_namespace);
  if (name == "dict") return Value::callable("dict", make_dict);
  if (name == "raise_exception") return Value::callable("raise_exception", raise_exception);
  if (name == "strftime_now") return Value::callable("strftime_now", strftime_now);
  if (name == "joiner") return Value::callable("joiner", joiner);
  return Value();
}

}  // namespace tessera::tokenizer::chat
