// The value model of the template interpreter: Python's objects as Jinja2 sees them (None, bool, int, float, str,
// list, tuple, dict, namespace, callables and Jinja2's Undefined), with Python's truthiness, equality, ordering and
// str()/repr(). Dicts keep insertion order, because a request's JSON must reach tojson in the order it came.
//
// Lists, tuples and dicts are shared and never mutated once built (the sandbox is immutable); only a namespace's
// attributes change, which is why a namespace is shared by reference, exactly as in Python.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tessera::tokenizer::chat {

class Value;
class Renderer;

using List = std::vector<Value>;

// Arguments of a call, as Python receives them.
struct CallArgs {
  std::vector<Value> args;
  std::vector<std::pair<std::string, Value>> kwargs;
};

// A function value: a builtin global, a bound method, a macro or `caller`.
struct Callable {
  std::string name;
  std::function<Value(CallArgs&, Renderer&)> fn;
};

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kTuple,
    kDict,
    kNamespace,
    kCallable,
    kGenerator
  };

  Value() = default;                                                  // undefined, without a name
  Value(bool b) : kind_(Kind::kBool), b_(b) {}                        // NOLINT: implicit, like Python literals
  Value(int v) : kind_(Kind::kInt), i_(v) {}                          // NOLINT
  Value(int64_t v) : kind_(Kind::kInt), i_(v) {}                      // NOLINT
  Value(double v) : kind_(Kind::kFloat), f_(v) {}                     // NOLINT
  Value(std::string s) : kind_(Kind::kString), str_(std::move(s)) {}  // NOLINT
  Value(std::string_view s) : kind_(Kind::kString), str_(s) {}        // NOLINT
  Value(const char* s) : kind_(Kind::kString), str_(s) {}             // NOLINT

  static Value none();
  // `hint` is the message an error on this value reports, e.g. "'x' is undefined".
  static Value undefined(std::string hint);
  // What the sandbox hands out for a refused attribute: it prints as empty but raises when called.
  static Value unsafe(std::string message);
  static Value list(List items);
  // What map/select/reject/... return in Jinja2: iterable, always true, without len() and not JSON-serializable.
  // `type` is the Python type name errors report ("generator", "list_reverseiterator").
  static Value generator(List items, std::string type = "generator");
  // markupsafe.Markup, what `safe` and `escape` return: `+` with a plain str HTML-escapes the plain side.
  static Value markup(std::string s);
  static Value tuple(List items);
  static Value dict();  // empty, ready for set()
  static Value namespace_object();
  // `depth` counts the values the function holds on to (a bound method holds its object), see depth().
  static Value callable(std::string name, std::function<Value(CallArgs&, Renderer&)> fn, uint32_t depth = 0);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_unsafe() const { return kind_ == Kind::kUndefined && b_; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }  // bool is an int, as in Python
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_markup() const { return kind_ == Kind::kString && b_; }
  bool is_generator() const { return kind_ == Kind::kGenerator; }
  bool is_list() const { return kind_ == Kind::kList || kind_ == Kind::kTuple; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return b_; }
  // 0 for anything but int and bool: callers that need an int check is_int() first.
  int64_t as_int() const { return kind_ == Kind::kBool ? (b_ ? 1 : 0) : kind_ == Kind::kInt ? i_ : 0; }
  double as_double() const { return kind_ == Kind::kFloat ? f_ : static_cast<double>(as_int()); }
  const std::string& str() const { return str_; }  // a string's bytes, an undefined's hint, a generator's type
  const List& items() const { return *list_; }     // lists, tuples and generators
  const Callable& callable() const { return *fn_; }

  // Dicts and namespaces: ordered (key, value) pairs.
  const std::vector<std::pair<Value, Value>>& entries() const { return dict_->entries; }
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  const Value* find(const std::string& key) const { return find(std::string_view(key)); }
  const Value* find(const char* key) const { return find(std::string_view(key)); }
  // Only for dicts being built and for namespaces (whose attributes templates assign).
  void set(Value key, Value value);
  // Drops a namespace's attributes: the renderer does this at the end so that cycles through namespaces free.
  void clear_entries() { dict_->entries.clear(); }

  // How deeply containers nest inside this value (0 for scalars). Building a value nested deeper than
  // kMaxNesting is refused: every recursive walk (repr, ==, tojson, destruction) stays within a bounded stack.
  uint32_t depth() const { return depth_; }
  static constexpr uint32_t kMaxNesting = 256;

 private:
  struct Dict {
    std::vector<std::pair<Value, Value>> entries;
  };

  Kind kind_ = Kind::kUndefined;
  uint32_t depth_ = 0;
  union {
    bool b_ = false;
    int64_t i_;
    double f_;
  };
  std::string str_;
  std::shared_ptr<const List> list_;
  std::shared_ptr<Dict> dict_;
  std::shared_ptr<const Callable> fn_;
};

// ---- Python semantics ----

bool truthy(const Value& v);
bool py_equal(const Value& a, const Value& b);
// <0, 0, >0 as Python orders a and b; raises a type error for unorderable pairs ("'<' not supported ...").
int py_compare(const Value& a, const Value& b, const char* op = "<");
// Python's type name: "str", "int", "dict", "NoneType", ...
std::string type_name(const Value& v);
// Python's str() (what `{{ v }}` prints) and repr() (how containers print their items).
std::string py_str(const Value& v);
std::string py_repr(const Value& v);
// len(v) for str (in code points), list, dict; raises for values without a length.
int64_t py_len(const Value& v);
// The items `for x in v` visits: a list's items, a dict's keys, a string's characters, nothing for undefined.
List iterate(const Value& v);

// JSON in (order kept) and Python's json.dumps out.
Value from_json(const nlohmann::ordered_json& j);
struct JsonDumpOptions {
  bool ensure_ascii = false;
  bool has_indent = false;
  std::string indent;          // the indent unit when has_indent (an int indent becomes that many spaces)
  std::string item_separator;  // default: ", " without indent, "," with it
  std::string key_separator = ": ";
  bool sort_keys = false;
};
std::string json_dumps(const Value& v, const JsonDumpOptions& options);

}  // namespace tessera::tokenizer::chat
