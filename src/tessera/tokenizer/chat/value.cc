#include "tessera/tokenizer/chat/value.h"

#include <algorithm>
#include <cmath>

#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/py_text.h"

namespace tessera::tokenizer::chat {

Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}

Value Value::undefined(std::string hint) {
  Value v;
  v.str_ = std::move(hint);
  return v;
}

Value Value::unsafe(std::string message) {
  Value v = undefined(std::move(message));
  v.b_ = true;
  return v;
}

namespace {

uint32_t nesting_of(const List& items) {
  uint32_t d = 0;
  for (const Value& item : items) d = std::max(d, item.depth());
  if (d + 1 > Value::kMaxNesting) throw_error(ErrorKind::kLimit, "values nested too deeply");
  return d + 1;
}

// Recursive walks over values that may hold namespaces (which can form cycles) stop at a fixed depth.
thread_local int g_walk_depth = 0;
struct WalkGuard {
  WalkGuard() {
    if (++g_walk_depth > static_cast<int>(Value::kMaxNesting) + 16) {
      --g_walk_depth;
      throw_error(ErrorKind::kLimit, "values nested too deeply");
    }
  }
  ~WalkGuard() { --g_walk_depth; }
};

}  // namespace

Value Value::list(List items) {
  Value v;
  v.kind_ = Kind::kList;
  v.depth_ = nesting_of(items);
  v.list_ = std::make_shared<const List>(std::move(items));
  return v;
}

Value Value::tuple(List items) {
  Value v = list(std::move(items));
  v.kind_ = Kind::kTuple;
  return v;
}

Value Value::generator(List items, std::string type) {
  Value v = list(std::move(items));
  v.kind_ = Kind::kGenerator;
  v.str_ = std::move(type);
  return v;
}

Value Value::markup(std::string s) {
  Value v(std::move(s));
  v.b_ = true;
  return v;
}

Value Value::dict() {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<Dict>();
  return v;
}

Value Value::namespace_object() {
  Value v = dict();
  v.kind_ = Kind::kNamespace;
  return v;
}

Value Value::callable(std::string name, std::function<Value(CallArgs&, Renderer&)> fn, uint32_t depth) {
  Value v;
  v.kind_ = Kind::kCallable;
  if (depth > kMaxNesting) throw_error(ErrorKind::kLimit, "values nested too deeply");
  v.depth_ = depth;
  v.fn_ = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

const Value* Value::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.str()));
  for (const auto& [k, v] : dict_->entries)
    if (py_equal(k, key)) return &v;
  return nullptr;
}

const Value* Value::find(std::string_view key) const {
  for (const auto& [k, v] : dict_->entries)
    if (k.is_string() && k.str() == key) return &v;
  return nullptr;
}

void Value::set(Value key, Value value) {
  // A namespace's depth is not tracked (its attributes change after it is shared); it counts as one level.
  if (kind_ == Kind::kDict) {
    depth_ = std::max(depth_, std::max(key.depth_, value.depth_) + 1);
    if (depth_ > kMaxNesting) throw_error(ErrorKind::kLimit, "values nested too deeply");
  }
  for (auto& [k, v] : dict_->entries) {
    if (py_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  dict_->entries.emplace_back(std::move(key), std::move(value));
}

bool truthy(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kUndefined:
    case K::kNone:
      return false;
    case K::kBool:
      return v.as_bool();
    case K::kInt:
      return v.as_int() != 0;
    case K::kFloat:
      return v.as_double() != 0.0;
    case K::kString:
      return !v.str().empty();
    case K::kList:
    case K::kTuple:
      return !v.items().empty();
    case K::kDict:
      return !v.entries().empty();
    case K::kNamespace:
    case K::kCallable:
    case K::kGenerator:
      return true;
  }
  return false;
}

bool py_equal(const Value& a, const Value& b) {
  using K = Value::Kind;
  WalkGuard guard;
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.as_double() == b.as_double();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case K::kUndefined:
    case K::kNone:
      return true;
    case K::kString:
      return a.str() == b.str();
    case K::kList:
    case K::kTuple: {
      if (a.items().size() != b.items().size()) return false;
      for (size_t i = 0; i < a.items().size(); ++i)
        if (!py_equal(a.items()[i], b.items()[i])) return false;
      return true;
    }
    case K::kDict: {
      if (a.entries().size() != b.entries().size()) return false;
      for (const auto& [k, v] : a.entries()) {
        const Value* other = b.find(k);
        if (!other || !py_equal(v, *other)) return false;
      }
      return true;
    }
    case K::kNamespace:
      return &a.entries() == &b.entries();
    case K::kCallable:
      return &a.callable() == &b.callable();
    case K::kGenerator:
      return &a.items() == &b.items();
    default:
      return false;
  }
}

int py_compare(const Value& a, const Value& b, const char* op) {
  WalkGuard guard;
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
    const double x = a.as_double(), y = b.as_double();
    return x < y ? -1 : x > y;
  }
  if (a.is_string() && b.is_string()) {
    // UTF-8 byte order is code point order, which is how Python compares str.
    const int c = a.str().compare(b.str());
    return c < 0 ? -1 : c > 0;
  }
  if (a.kind() == b.kind() && a.is_list()) {
    const size_t n = std::min(a.items().size(), b.items().size());
    for (size_t i = 0; i < n; ++i) {
      if (py_equal(a.items()[i], b.items()[i])) continue;
      return py_compare(a.items()[i], b.items()[i], op);
    }
    return a.items().size() < b.items().size() ? -1 : a.items().size() > b.items().size();
  }
  if (a.is_undefined() || b.is_undefined()) throw_error(ErrorKind::kUndefined, a.is_undefined() ? a.str() : b.str());
  type_error(std::string("'") + op + "' not supported between instances of '" + type_name(a) + "' and '" +
             type_name(b) + "'");
}

std::string type_name(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kUndefined:
      return "Undefined";
    case K::kNone:
      return "NoneType";
    case K::kBool:
      return "bool";
    case K::kInt:
      return "int";
    case K::kFloat:
      return "float";
    case K::kString:
      return "str";
    case K::kList:
      return "list";
    case K::kTuple:
      return "tuple";
    case K::kDict:
      return "dict";
    case K::kNamespace:
      return "Namespace";
    case K::kCallable:
      return "function";
    case K::kGenerator:
      return v.str();
  }
  return "object";
}

namespace {

void append_repr(std::string* out, const Value& v);

void append_entries(std::string* out, const Value& v) {
  *out += '{';
  bool first = true;
  for (const auto& [k, item] : v.entries()) {
    if (!first) *out += ", ";
    first = false;
    append_repr(out, k);
    *out += ": ";
    append_repr(out, item);
  }
  *out += '}';
}

void append_repr(std::string* out, const Value& v) {
  using K = Value::Kind;
  WalkGuard guard;
  switch (v.kind()) {
    case K::kUndefined:
      *out += "Undefined";
      return;
    case K::kString:
      *out += py_string_repr(v.str());
      return;
    case K::kList:
    case K::kTuple: {
      const bool tuple = v.kind() == K::kTuple;
      *out += tuple ? '(' : '[';
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) *out += ", ";
        append_repr(out, v.items()[i]);
      }
      if (tuple && v.items().size() == 1) *out += ',';
      *out += tuple ? ')' : ']';
      return;
    }
    case K::kDict:
      append_entries(out, v);
      return;
    default:
      *out += py_str(v);
      return;
  }
}

}  // namespace

std::string py_str(const Value& v) {
  using K = Value::Kind;
  switch (v.kind()) {
    case K::kUndefined:
      return "";
    case K::kNone:
      return "None";
    case K::kBool:
      return v.as_bool() ? "True" : "False";
    case K::kInt:
      return std::to_string(v.as_int());
    case K::kFloat:
      return py_float_repr(v.as_double());
    case K::kString:
      return v.str();
    case K::kNamespace: {
      WalkGuard guard;
      std::string out = "<Namespace ";
      append_entries(&out, v);
      return out + ">";
    }
    case K::kCallable:
      return "<function " + v.callable().name + ">";
    case K::kGenerator:
      return "<" + v.str() + " object>";
    default: {
      std::string out;
      append_repr(&out, v);
      return out;
    }
  }
}

std::string py_repr(const Value& v) {
  std::string out;
  append_repr(&out, v);
  return out;
}

int64_t py_len(const Value& v) {
  if (v.is_string()) return static_cast<int64_t>(count_code_points(v.str()));
  if (v.is_list()) return static_cast<int64_t>(v.items().size());
  if (v.is_dict()) return static_cast<int64_t>(v.entries().size());
  if (v.is_undefined()) return 0;
  type_error("object of type '" + type_name(v) + "' has no len()");
}

List iterate(const Value& v) {
  if (v.is_list() || v.is_generator()) return v.items();
  if (v.is_undefined() && !v.is_unsafe()) return {};
  if (v.is_dict()) {
    List keys;
    keys.reserve(v.entries().size());
    for (const auto& [k, item] : v.entries()) keys.push_back(k);
    return keys;
  }
  if (v.is_string()) {
    List chars;
    const std::string& s = v.str();
    for (size_t pos = 0; pos < s.size();) {
      const size_t start = pos;
      next_code_point(s, &pos);
      chars.emplace_back(s.substr(start, pos - start));
    }
    return chars;
  }
  if (v.is_unsafe()) throw_error(ErrorKind::kSecurity, v.str());
  type_error("'" + type_name(v) + "' object is not iterable");
}

Value from_json(const nlohmann::ordered_json& j) {
  using T = nlohmann::ordered_json::value_t;
  WalkGuard guard;
  switch (j.type()) {
    case T::null:
      return Value::none();
    case T::boolean:
      return Value(j.get<bool>());
    case T::number_integer:
      return Value(j.get<int64_t>());
    case T::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<double>(u));
      return Value(static_cast<int64_t>(u));
    }
    case T::number_float:
      return Value(j.get<double>());
    case T::string:
      return Value(j.get_ref<const std::string&>());
    case T::array: {
      List items;
      items.reserve(j.size());
      for (const auto& e : j) items.push_back(from_json(e));
      return Value::list(std::move(items));
    }
    case T::object: {
      Value d = Value::dict();
      for (const auto& [k, e] : j.items()) d.set(Value(k), from_json(e));
      return d;
    }
    default:
      return Value::none();  // binary and discarded values do not come from JSON text
  }
}

namespace {

std::string json_key(const Value& k) {
  if (k.is_string()) return k.str();
  if (k.is_none()) return "null";
  if (k.is_bool()) return k.as_bool() ? "true" : "false";
  if (k.is_int()) return std::to_string(k.as_int());
  if (k.is_float()) return py_float_repr(k.as_double());
  type_error("keys must be str, int, float, bool or None, not " + type_name(k));
}

void dump(std::string* out, const Value& v, const JsonDumpOptions& o, const std::string& item_sep, int depth) {
  using K = Value::Kind;
  if (depth > 512) throw_error(ErrorKind::kLimit, "tojson: value nested too deeply");
  auto newline = [&](int d) {
    if (!o.has_indent) return;
    *out += '\n';
    for (int i = 0; i < d; ++i) *out += o.indent;
  };
  switch (v.kind()) {
    case K::kNone:
      *out += "null";
      return;
    case K::kBool:
      *out += v.as_bool() ? "true" : "false";
      return;
    case K::kInt:
      *out += std::to_string(v.as_int());
      return;
    case K::kFloat: {
      const double x = v.as_double();
      if (std::isnan(x))
        *out += "NaN";
      else if (std::isinf(x))
        *out += x < 0 ? "-Infinity" : "Infinity";
      else
        *out += py_float_repr(x);
      return;
    }
    case K::kString:
      *out += json_quote(v.str(), o.ensure_ascii);
      return;
    case K::kList:
    case K::kTuple: {
      if (v.items().empty()) {
        *out += "[]";
        return;
      }
      *out += '[';
      for (size_t i = 0; i < v.items().size(); ++i) {
        if (i) *out += item_sep;
        newline(depth + 1);
        dump(out, v.items()[i], o, item_sep, depth + 1);
      }
      newline(depth);
      *out += ']';
      return;
    }
    case K::kDict: {
      if (v.entries().empty()) {
        *out += "{}";
        return;
      }
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [k, item] : v.entries()) entries.emplace_back(json_key(k), &item);
      if (o.sort_keys)
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      *out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) *out += item_sep;
        newline(depth + 1);
        *out += json_quote(entries[i].first, o.ensure_ascii);
        *out += o.key_separator;
        dump(out, *entries[i].second, o, item_sep, depth + 1);
      }
      newline(depth);
      *out += '}';
      return;
    }
    default:
      type_error("Object of type " + type_name(v) + " is not JSON serializable");
  }
}

}  // namespace

std::string json_dumps(const Value& v, const JsonDumpOptions& options) {
  std::string item_sep = options.item_separator;
  if (item_sep.empty()) item_sep = options.has_indent ? "," : ", ";
  std::string out;
  dump(&out, v, options, item_sep, 0);
  return out;
}

}  // namespace tessera::tokenizer::chat
