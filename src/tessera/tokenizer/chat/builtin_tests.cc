// Jinja2 3.1's builtin tests (`x is defined`, `x is string`, `x is equalto 1`, ...), answered for Python types.
#include <algorithm>
#include <string_view>

#include "tessera/tokenizer/chat/builtins.h"
#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/py_text.h"

namespace tessera::tokenizer::chat {
namespace {

constexpr std::string_view kTests[] = {
    "boolean", "callable",  "defined", "divisibleby", "eq",     "equalto", "escaped",  "even",     "false",    "filter",
    "float",   "ge",        "gt",      "greaterthan", "in",     "integer", "iterable", "le",       "lessthan", "lower",
    "lt",      "mapping",   "ne",      "none",        "number", "odd",     "sameas",   "sequence", "string",   "test",
    "true",    "undefined", "upper",   "==",          "!=",     ">",       ">=",       "<",        "<="};

int64_t need_int(const Value& v) {
  if (v.is_undefined()) throw_error(ErrorKind::kUndefined, v.str());
  if (!v.is_int()) type_error("unsupported operand type(s) for %: '" + type_name(v) + "' and 'int'");
  return v.as_int();
}

}  // namespace

bool has_test(std::string_view name) {
  return std::find(std::begin(kTests), std::end(kTests), name) != std::end(kTests);
}

bool apply_test(Renderer&, std::string_view name, const Value& v, CallArgs& args) {
  ArgReader a(name, args);
  auto other = [&] { return a.get_or(0, "other", Value()); };
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind() == Value::Kind::kInt;
  if (name == "float") return v.is_float();
  if (name == "boolean") return v.is_bool();
  if (name == "true") return v.is_bool() && v.as_bool();
  if (name == "false") return v.is_bool() && !v.as_bool();
  if (name == "mapping") return v.is_dict();
  // Python: anything with __iter__ (Undefined has one); sequences also need __len__ and __getitem__.
  if (name == "iterable") return v.is_list() || v.is_string() || v.is_dict() || v.is_undefined() || v.is_generator();
  if (name == "sequence") return v.is_list() || v.is_string() || v.is_dict();
  if (name == "callable") return v.is_callable();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    const std::string s = py_str(v);
    bool cased = false;
    for (size_t pos = 0; pos < s.size();) {
      const char32_t cp = next_code_point(s, &pos);
      if (name == "lower" ? py_isupper_cased(cp) : py_islower_cased(cp)) return false;
      cased = cased || py_isupper_cased(cp) || py_islower_cased(cp);
    }
    return cased;
  }
  if (name == "odd" || name == "even") {
    const int64_t n = need_int(v);
    return ((n % 2) != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = need_int(a.get_or(0, "num", Value()));
    if (d == 0) throw_error(ErrorKind::kType, "integer modulo by zero");
    return need_int(v) % d == 0;
  }
  if (name == "eq" || name == "equalto" || name == "==") return py_equal(v, other());
  if (name == "ne" || name == "!=") return !py_equal(v, other());
  if (name == "lt" || name == "lessthan" || name == "<") return py_compare(v, other(), "<") < 0;
  if (name == "le" || name == "<=") return py_compare(v, other(), "<=") <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return py_compare(v, other(), ">") > 0;
  if (name == "ge" || name == ">=") return py_compare(v, other(), ">=") >= 0;
  if (name == "sameas") {
    const Value o = other();
    if (v.is_list() || v.is_dict() || v.is_namespace()) {
      if (v.kind() != o.kind()) return false;
      return v.is_list() ? &v.items() == &o.items() : &v.entries() == &o.entries();
    }
    return v.kind() == o.kind() && py_equal(v, o);
  }
  if (name == "in") {
    const Value seq = a.get_or(0, "seq", Value());
    if (seq.is_string()) {
      if (!v.is_string()) type_error("'in <string>' requires string as left operand, not " + type_name(v));
      return seq.str().find(v.str()) != std::string::npos;
    }
    if (seq.is_dict()) return seq.find(v) != nullptr;
    for (const Value& x : iterate(seq))
      if (py_equal(x, v)) return true;
    return false;
  }
  if (name == "filter") return has_filter(py_str(v));
  if (name == "test") return has_test(py_str(v));
  throw_error(ErrorKind::kRuntime, "No test named '" + std::string(name) + "' found.");
}

}  // namespace tessera::tokenizer::chat
