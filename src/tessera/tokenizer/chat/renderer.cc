#include "tessera/tokenizer/chat/renderer.h"

#include <cmath>
#include <unordered_map>

#include "tessera/tokenizer/chat/builtins.h"
#include "tessera/tokenizer/chat/error.h"
#include "tessera/tokenizer/chat/py_text.h"

namespace tessera::tokenizer::chat {

// A scope. Loop iterations, macro calls, call/with/generation bodies get their own; `if` does not, as in Jinja2.
struct Renderer::Frame {
  std::shared_ptr<Frame> parent;
  std::unordered_map<std::string, Value> vars;
};

namespace {

[[noreturn]] void raise_undefined(const Value& v) {
  if (v.is_unsafe()) throw_error(ErrorKind::kSecurity, v.str());
  throw_error(ErrorKind::kUndefined, v.str().empty() ? "undefined value" : v.str());
}

std::string object_name(const Value& obj) { return obj.is_none() ? "None" : type_name(obj) + " object"; }

Value missing(const Value& obj, const std::string& name_repr) {
  return Value::undefined("'" + object_name(obj) + "' has no attribute " + name_repr);
}

// Python ints are unbounded; ours are 64-bit, and an overflow is an error rather than a wrong number.
int64_t int_op(char op, int64_t x, int64_t y) {
  int64_t r = 0;
  const bool overflow = op == '+'   ? __builtin_add_overflow(x, y, &r)
                        : op == '-' ? __builtin_sub_overflow(x, y, &r)
                                    : __builtin_mul_overflow(x, y, &r);
  if (overflow) type_error("integer overflow");
  return r;
}

// Python's contains: `item in container`.
bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      if (item.is_undefined()) raise_undefined(item);
      type_error("'in <string>' requires string as left operand, not " + type_name(item));
    }
    return container.str().find(item.str()) != std::string::npos;
  }
  if (container.is_list() || container.is_generator()) {
    for (const Value& v : container.items())
      if (py_equal(v, item)) return true;
    return false;
  }
  if (container.is_dict()) return container.find(item) != nullptr;
  if (container.is_undefined() && !container.is_unsafe()) return false;
  type_error("argument of type '" + type_name(container) + "' is not iterable");
}

// Python slice bounds for a sequence of `len` items.
void adjust_slice(int64_t len, const Value& a, const Value& b, const Value& c, int64_t* start, int64_t* stop,
                  int64_t* step) {
  auto as_index = [](const Value& v) {
    if (!v.is_int()) type_error("slice indices must be integers or None or have an __index__ method");
    return v.as_int();
  };
  *step = c.is_none() || c.is_undefined() ? 1 : as_index(c);
  if (*step == 0) type_error("slice step cannot be zero");
  const bool neg = *step < 0;
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none() || v.is_undefined()) return fallback;
    int64_t i = as_index(v);
    if (i < 0) {
      i += len;
      if (i < 0) i = neg ? -1 : 0;
    } else if (i >= len) {
      i = neg ? len - 1 : len;
    }
    return i;
  };
  *start = clamp(a, neg ? len - 1 : 0);
  *stop = clamp(b, neg ? -1 : len);
}

}  // namespace

Renderer::Renderer(const RenderSettings& settings, const Value& context)
    : settings_(settings), context_(context), frame_(std::make_shared<Frame>()) {}

Renderer::~Renderer() {
  frame_.reset();
  for (Value& ns : namespaces_) ns.clear_entries();
}

std::string Renderer::render(const StmtList& body) {
  std::string out;
  exec(body, &out);
  return out;
}

void Renderer::charge_steps(int64_t n) {
  steps_ += n;
  if (steps_ > settings_.limits.max_steps) throw_error(ErrorKind::kLimit, "template ran past its step limit");
}

void Renderer::check_size(size_t bytes) const {
  if (bytes > settings_.limits.max_output_bytes) throw_error(ErrorKind::kLimit, "template output too large");
}

void Renderer::append(std::string* out, std::string_view text) const {
  check_size(out->size() + text.size());
  out->append(text);
}

// ---- scopes ----

Value Renderer::lookup(const std::string& name) const {
  for (const Frame* f = frame_.get(); f; f = f->parent.get()) {
    auto it = f->vars.find(name);
    if (it != f->vars.end()) return it->second;
  }
  if (const Value* v = context_.is_dict() ? context_.find(name) : nullptr) return *v;
  Value g = lookup_global(name);
  if (!g.is_undefined()) return g;
  return Value::undefined("'" + name + "' is undefined");
}

void Renderer::assign(const std::string& name, Value v) { frame_->vars[name] = std::move(v); }

void Renderer::bind_targets(const Stmt& s, const Value& item) {
  if (!s.unpack) {
    assign(s.targets[0], item);
    return;
  }
  if (!item.is_list() && !item.is_string() && !item.is_dict())
    type_error("cannot unpack non-iterable " + type_name(item) + " object");
  List parts = iterate(item);
  if (parts.size() < s.targets.size())
    type_error("not enough values to unpack (expected " + std::to_string(s.targets.size()) + ", got " +
               std::to_string(parts.size()) + ")");
  if (parts.size() > s.targets.size())
    type_error("too many values to unpack (expected " + std::to_string(s.targets.size()) + ")");
  for (size_t i = 0; i < parts.size(); ++i) assign(s.targets[i], parts[i]);
}

// ---- statements ----

Renderer::Flow Renderer::exec(const StmtList& body, std::string* out) {
  for (const StmtPtr& s : body) {
    const Flow f = exec_stmt(*s, out);
    if (f != Flow::kNormal) return f;
  }
  return Flow::kNormal;
}

std::string Renderer::capture(const StmtList& body) {
  std::string out;
  exec(body, &out);
  return out;
}

// Makes a new frame (child of `parent`) current for the guard's lifetime.
class Renderer::FrameScope {
 public:
  FrameScope(Renderer* r, std::shared_ptr<Frame> parent) : r_(r), saved_(std::move(r->frame_)) {
    r_->frame_ = std::make_shared<Frame>();
    r_->frame_->parent = std::move(parent);
  }
  ~FrameScope() { r_->frame_ = std::move(saved_); }
  FrameScope(const FrameScope&) = delete;
  FrameScope& operator=(const FrameScope&) = delete;

 private:
  Renderer* r_;
  std::shared_ptr<Frame> saved_;
};

Renderer::Flow Renderer::exec_stmt(const Stmt& s, std::string* out) {
  try {
    switch (s.kind) {
      case StmtKind::kText:
        append(out, s.text);
        return Flow::kNormal;
      case StmtKind::kOutput:
        append(out, py_str(eval(*s.expr)));
        return Flow::kNormal;
      case StmtKind::kIf:
        return exec(truthy(eval(*s.expr)) ? s.body : s.else_body, out);
      case StmtKind::kFor:
        return exec_for(s, out);
      case StmtKind::kSet:
        exec_set(s);
        return Flow::kNormal;
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
      default:
        return exec_block(s, out);
    }
  } catch (TemplateError& e) {
    e.set_line_if_unset(s.line);
    throw;
  }
}

Renderer::Flow Renderer::exec_block(const Stmt& s, std::string* out) {
  switch (s.kind) {
    case StmtKind::kSetBlock: {
      std::string text;
      {
        FrameScope scope(this, frame_);
        text = capture(s.body);
      }
      Value v(std::move(text));
      if (s.filter) v = eval_filter(*s.filter, &v);
      assign(s.targets[0], std::move(v));
      return Flow::kNormal;
    }
    case StmtKind::kMacro:
      assign(s.text, make_macro(s, s.text));
      return Flow::kNormal;
    case StmtKind::kCallBlock: {
      const Value caller = make_macro(s, "caller");
      append(out, py_str(eval_call(*s.expr, &caller)));
      return Flow::kNormal;
    }
    case StmtKind::kFilterBlock: {
      std::string text;
      {
        FrameScope scope(this, frame_);
        text = capture(s.body);
      }
      const Value v(std::move(text));
      append(out, py_str(eval_filter(*s.filter, &v)));
      return Flow::kNormal;
    }
    case StmtKind::kWith: {
      std::vector<Value> values;
      for (const auto& [name, expr] : s.params) values.push_back(eval(*expr));
      FrameScope scope(this, frame_);
      for (size_t i = 0; i < values.size(); ++i) assign(s.params[i].first, values[i]);
      exec(s.body, out);
      return Flow::kNormal;
    }
    case StmtKind::kGeneration: {
      FrameScope scope(this, frame_);
      exec(s.body, out);
      return Flow::kNormal;
    }
    default:
      throw_error(ErrorKind::kRuntime, "unexpected statement");
  }
}

Renderer::Flow Renderer::exec_for(const Stmt& s, std::string* out) {
  const Value iterable = eval(*s.expr);
  if (iterable.is_none() || iterable.is_int() || iterable.is_float() || iterable.is_callable() ||
      iterable.is_namespace())
    type_error("'" + type_name(iterable) + "' object is not iterable");
  List items = iterate(iterable);
  charge_steps(static_cast<int64_t>(items.size()));
  if (s.filter) {
    List kept;
    for (Value& item : items) {
      FrameScope scope(this, frame_);
      bind_targets(s, item);
      if (truthy(eval(*s.filter))) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    FrameScope scope(this, frame_);
    exec(s.else_body, out);
    return Flow::kNormal;
  }
  const auto n = static_cast<int64_t>(items.size());
  // loop.changed(...) compares against the previous call's arguments, across iterations of this loop.
  auto last_changed = std::make_shared<Value>(Value::undefined(""));
  for (int64_t i = 0; i < n; ++i) {
    charge_steps(1);
    FrameScope scope(this, frame_);
    bind_targets(s, items[static_cast<size_t>(i)]);
    Value loop = Value::dict();
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(n - i));
    loop.set("revindex0", Value(n - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == n - 1));
    loop.set("length", Value(n));
    loop.set("depth", Value(1));
    loop.set("depth0", Value(0));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    loop.set("nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    loop.set("cycle", Value::callable("cycle", [i](CallArgs& a, Renderer&) -> Value {
               if (a.args.empty()) type_error("no items for cycling given");
               return a.args[static_cast<size_t>(i) % a.args.size()];
             }));
    loop.set("changed", Value::callable("changed", [last_changed](CallArgs& a, Renderer&) -> Value {
               Value now = Value::tuple(a.args);
               if (!last_changed->is_undefined() && py_equal(*last_changed, now)) return Value(false);
               *last_changed = std::move(now);
               return Value(true);
             }));
    assign("loop", std::move(loop));
    if (exec(s.body, out) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Renderer::exec_set(const Stmt& s) {
  Value v = eval(*s.expr);
  if (!s.attr.empty()) {
    Value ns = lookup(s.targets[0]);
    if (!ns.is_namespace()) throw_error(ErrorKind::kRuntime, "cannot assign attribute on non-namespace object");
    ns.set(Value(s.attr), std::move(v));
    return;
  }
  bind_targets(s, v);
}

// ---- macros ----

Value Renderer::make_macro(const Stmt& s, std::string name) {
  // A weak closure: a macro stored in the frame it closes over would otherwise keep that frame alive forever.
  std::weak_ptr<Frame> closure = frame_;
  const Stmt* stmt = &s;
  return Value::callable(name, [stmt, closure, name](CallArgs& args, Renderer& r) -> Value {
    std::shared_ptr<Frame> frame = closure.lock();
    if (!frame) frame = r.frame_;
    return r.call_macro(*stmt, frame, args, name);
  });
}

Value Renderer::call_macro(const Stmt& s, const std::shared_ptr<Frame>& closure, CallArgs& args,
                           const std::string& name) {
  if (call_depth_ >= settings_.limits.max_call_depth)
    throw_error(ErrorKind::kLimit, "maximum recursion depth exceeded");
  charge_steps(1);
  struct DepthGuard {
    int* d;
    ~DepthGuard() { --*d; }
  } guard{&++call_depth_};
  FrameScope scope(this, closure);
  const size_t np = s.params.size();
  if (args.args.size() > np && !s.uses_varargs)
    type_error("macro '" + name + "' takes not more than " + std::to_string(np) + " argument(s)");
  std::vector<bool> used(args.kwargs.size(), false);
  for (size_t i = 0; i < np; ++i) {
    const auto& [pname, def] = s.params[i];
    Value v;
    bool found = false;
    if (i < args.args.size()) {
      v = args.args[i];
      found = true;
    }
    for (size_t k = 0; k < args.kwargs.size(); ++k) {
      if (args.kwargs[k].first != pname) continue;
      if (found) type_error("macro '" + name + "' got multiple values for argument '" + pname + "'");
      v = args.kwargs[k].second;
      used[k] = found = true;
    }
    if (!found) v = def ? eval(*def) : Value::undefined("parameter '" + pname + "' was not provided");
    assign(pname, std::move(v));
  }
  Value extra_kwargs = Value::dict();
  for (size_t k = 0; k < args.kwargs.size(); ++k) {
    if (used[k]) continue;
    if (args.kwargs[k].first == "caller") {
      assign("caller", args.kwargs[k].second);
    } else if (s.uses_kwargs) {
      extra_kwargs.set(Value(args.kwargs[k].first), args.kwargs[k].second);
    } else {
      type_error("macro '" + name + "' takes no keyword argument '" + args.kwargs[k].first + "'");
    }
  }
  List varargs;
  for (size_t i = np; i < args.args.size(); ++i) varargs.push_back(args.args[i]);
  assign("varargs", Value::tuple(std::move(varargs)));
  assign("kwargs", std::move(extra_kwargs));
  std::string out;
  exec(s.body, &out);
  return Value(std::move(out));
}

Value Renderer::call(const Value& fn, CallArgs& args) {
  if (fn.is_callable()) return fn.callable().fn(args, *this);
  if (fn.is_undefined()) raise_undefined(fn);
  type_error("'" + type_name(fn) + "' object is not callable");
}

// ---- attribute and item access ----

Value Renderer::getattr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) raise_undefined(obj);
  bool unsafe = false;
  if (has_method(obj, name, &unsafe)) {
    if (unsafe)
      return Value::unsafe("access to attribute '" + name + "' of '" + type_name(obj) + "' object is unsafe.");
    return Value::callable(
        name, [obj, name](CallArgs& a, Renderer& r) { return call_method(r, obj, name, a); }, obj.depth() + 1);
  }
  if (obj.is_dict() || obj.is_namespace()) {
    if (const Value* v = obj.find(name)) return *v;
  }
  return missing(obj, py_string_repr(name));
}

Value Renderer::getitem(const Value& obj, const Value& key) {
  if (obj.is_undefined()) raise_undefined(obj);
  if ((obj.is_list() || obj.is_string()) && key.is_int()) {
    const int64_t len = obj.is_list() ? static_cast<int64_t>(obj.items().size()) : py_len(obj);
    int64_t i = key.as_int();
    if (i < 0) i += len;
    if (i >= 0 && i < len) {
      if (obj.is_list()) return obj.items()[static_cast<size_t>(i)];
      if (is_ascii(obj.str())) return Value(obj.str().substr(static_cast<size_t>(i), 1));
      const auto cps = to_code_points(obj.str());
      return Value(from_code_points(cps, static_cast<size_t>(i), static_cast<size_t>(i) + 1));
    }
    return missing(obj, py_repr(key));
  }
  if (obj.is_dict()) {
    if (const Value* v = obj.find(key)) return *v;
  }
  if (key.is_string()) {
    bool unsafe = false;
    if (has_method(obj, key.str(), &unsafe) || obj.is_namespace()) return getattr(obj, key.str());
  }
  return missing(obj, py_repr(key));
}

Value Renderer::eval_slice(const Expr& e) {
  const Value obj = eval(*e.args[0]);
  if (obj.is_undefined()) raise_undefined(obj);
  const Value a = e.args[1] ? eval(*e.args[1]) : Value::none();
  const Value b = e.args[2] ? eval(*e.args[2]) : Value::none();
  const Value c = e.args[3] ? eval(*e.args[3]) : Value::none();
  if (!obj.is_list() && !obj.is_string()) return missing(obj, "slice");
  std::vector<char32_t> cps;
  if (obj.is_string()) cps = to_code_points(obj.str());
  const int64_t len = obj.is_list() ? static_cast<int64_t>(obj.items().size()) : static_cast<int64_t>(cps.size());
  int64_t start, stop, step;
  adjust_slice(len, a, b, c, &start, &stop, &step);
  List items;
  std::string text;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    if (obj.is_list())
      items.push_back(obj.items()[static_cast<size_t>(i)]);
    else
      append_utf8(&text, cps[static_cast<size_t>(i)]);
  }
  if (obj.is_string()) return Value(std::move(text));
  return obj.kind() == Value::Kind::kTuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
}

// ---- expressions ----

CallArgs Renderer::eval_args(const Expr& e) {
  CallArgs a;
  for (size_t i = 1; i < e.args.size(); ++i) a.args.push_back(eval(*e.args[i]));
  for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v));
  return a;
}

Value Renderer::eval_call(const Expr& e, const Value* caller) {
  const Expr& callee = *e.args[0];
  if (callee.kind == ExprKind::kGetAttr) {
    // obj.method(...) calls the method directly instead of building a bound-method value first.
    const Value obj = eval(*callee.args[0]);
    if (obj.is_undefined()) raise_undefined(obj);
    bool unsafe = false;
    if (has_method(obj, callee.name, &unsafe)) {
      if (unsafe)
        throw_error(ErrorKind::kSecurity,
                    "access to attribute '" + callee.name + "' of '" + type_name(obj) + "' object is unsafe.");
      CallArgs args = eval_args(e);
      return call_method(*this, obj, callee.name, args);
    }
    const Value fn = getattr(obj, callee.name);
    CallArgs args = eval_args(e);
    if (caller) args.kwargs.emplace_back("caller", *caller);
    return call(fn, args);
  }
  const Value fn = eval(callee);
  CallArgs args = eval_args(e);
  if (caller) args.kwargs.emplace_back("caller", *caller);
  return call(fn, args);
}

Value Renderer::eval_filter(const Expr& e, const Value* base) {
  Value operand;
  if (!e.args[0]) {
    operand = *base;
  } else if (base && e.args[0]->kind == ExprKind::kFilter) {
    operand = eval_filter(*e.args[0], base);
  } else {
    operand = eval(*e.args[0]);
  }
  if (e.unknown) throw_error(ErrorKind::kRuntime, "No filter named '" + e.name + "' found.");
  CallArgs args = eval_args(e);
  return apply_filter(*this, e.name, operand, args);
}

bool Renderer::eval_test(const Expr& e) {
  const Value operand = eval(*e.args[0]);
  if (e.unknown) throw_error(ErrorKind::kRuntime, "No test named '" + e.name + "' found.");
  CallArgs args = eval_args(e);
  return apply_test(*this, e.name, operand, args);
}

Value Renderer::eval(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kConst:
      return e.value;
    case ExprKind::kName:
      return lookup(e.name);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      List items;
      items.reserve(e.args.size());
      for (const ExprPtr& a : e.args) items.push_back(eval(*a));
      return e.kind == ExprKind::kList ? Value::list(std::move(items)) : Value::tuple(std::move(items));
    }
    case ExprKind::kDict: {
      Value d = Value::dict();
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        Value k = eval(*e.args[i]);
        if (k.is_list() || k.is_dict() || k.is_namespace()) type_error("unhashable type: '" + type_name(k) + "'");
        d.set(std::move(k), eval(*e.args[i + 1]));
      }
      return d;
    }
    case ExprKind::kGetAttr:
      return getattr(eval(*e.args[0]), e.name);
    case ExprKind::kGetItem: {
      const Value obj = eval(*e.args[0]);
      return getitem(obj, eval(*e.args[1]));
    }
    case ExprKind::kSlice:
      return eval_slice(e);
    case ExprKind::kCall:
      return eval_call(e, nullptr);
    case ExprKind::kFilter:
      return eval_filter(e, nullptr);
    case ExprKind::kTest:
      return Value(eval_test(e));
    case ExprKind::kNot:
      return Value(!truthy(eval(*e.args[0])));
    case ExprKind::kNeg:
    case ExprKind::kPos: {
      const Value v = eval(*e.args[0]);
      if (v.is_undefined()) raise_undefined(v);
      if (!v.is_number())
        type_error(std::string("bad operand type for unary ") + (e.kind == ExprKind::kNeg ? "-" : "+") + ": '" +
                   type_name(v) + "'");
      if (e.kind == ExprKind::kPos) return v.is_bool() ? Value(v.as_int()) : v;
      if (v.is_float()) return Value(-v.as_double());
      return Value(int_op('-', 0, v.as_int()));
    }
    case ExprKind::kBinary: {
      const Value a = eval(*e.args[0]);
      return eval_binary(e.name, a, eval(*e.args[1]));
    }
    case ExprKind::kConcat: {
      std::string s;
      for (const ExprPtr& a : e.args) {
        s += py_str(eval(*a));
        check_size(s.size());
      }
      return Value(std::move(s));
    }
    case ExprKind::kAnd: {
      Value a = eval(*e.args[0]);
      return truthy(a) ? eval(*e.args[1]) : a;
    }
    case ExprKind::kOr: {
      Value a = eval(*e.args[0]);
      return truthy(a) ? a : eval(*e.args[1]);
    }
    case ExprKind::kCompare: {
      Value left = eval(*e.args[0]);
      for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1]);
        if (!eval_compare(e.ops[i], left, right)) return Value(false);
        left = std::move(right);
      }
      return Value(true);
    }
    case ExprKind::kCondExpr: {
      if (truthy(eval(*e.args[0]))) return eval(*e.args[1]);
      if (e.args[2]) return eval(*e.args[2]);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
  }
  return Value();
}

bool Renderer::eval_compare(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return py_equal(a, b);
  if (op == "!=") return !py_equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "notin") return !contains(b, a);
  const int c = py_compare(a, b, op.c_str());
  if (op == "<") return c < 0;
  if (op == "<=") return c <= 0;
  if (op == ">") return c > 0;
  return c >= 0;
}

Value Renderer::eval_binary(const std::string& op, const Value& a, const Value& b) {
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  const char o = op[0];
  const bool two = op.size() == 2;
  if (a.is_number() && b.is_number()) {
    const bool ints = a.is_int() && b.is_int();
    const int64_t x = a.as_int(), y = b.as_int();
    const double fx = a.as_double(), fy = b.as_double();
    if (o == '+') return ints ? Value(int_op('+', x, y)) : Value(fx + fy);
    if (o == '-') return ints ? Value(int_op('-', x, y)) : Value(fx - fy);
    if (o == '*' && two) {  // **
      if (ints && y >= 0) {
        int64_t result = 1, base = x;
        for (int64_t n = y; n > 0; n >>= 1) {
          if (n & 1) result = int_op('*', result, base);
          if (n > 1) base = int_op('*', base, base);
        }
        return Value(result);
      }
      if (fx == 0 && fy < 0) throw_error(ErrorKind::kType, "0.0 cannot be raised to a negative power");
      return Value(std::pow(fx, fy));
    }
    if (o == '*') return ints ? Value(int_op('*', x, y)) : Value(fx * fy);
    if ((o == '/' || o == '%') && (ints ? y == 0 : fy == 0))
      throw_error(ErrorKind::kType, o == '%' ? "integer modulo by zero" : "division by zero");
    if (o == '/' && !two) return Value(fx / fy);
    if (o == '/') {  // floor division
      if (ints) {
        if (x == INT64_MIN && y == -1) type_error("integer overflow");
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value(q);
      }
      return Value(std::floor(fx / fy));
    }
    if (o == '%') {
      if (ints) {
        if (y == -1) return Value(int64_t{0});
        int64_t m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        return Value(m);
      }
      double m = std::fmod(fx, fy);
      if (m != 0 && ((m < 0) != (fy < 0))) m += fy;
      return Value(m);
    }
  }
  if (o == '+' && a.is_string() && b.is_string() && (a.is_markup() || b.is_markup())) {
    // markupsafe: Markup + str escapes the plain side, and the result is Markup.
    const std::string l = a.is_markup() ? a.str() : html_escape(a.str());
    const std::string rr = b.is_markup() ? b.str() : html_escape(b.str());
    check_size(l.size() + rr.size());
    return Value::markup(l + rr);
  }
  if (o == '+' && a.is_string() && b.is_string()) {
    check_size(a.str().size() + b.str().size());
    return Value(a.str() + b.str());
  }
  if (o == '+' && a.is_list() && b.is_list() && a.kind() == b.kind()) {
    charge_steps(static_cast<int64_t>(a.items().size() + b.items().size()));
    List items = a.items();
    items.insert(items.end(), b.items().begin(), b.items().end());
    return a.kind() == Value::Kind::kTuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }
  if (o == '*' && !two &&
      (((a.is_string() || a.is_list()) && b.is_int()) || ((b.is_string() || b.is_list()) && a.is_int()))) {
    const Value& seq = a.is_int() ? b : a;
    const int64_t n = std::max<int64_t>(0, a.is_int() ? a.as_int() : b.as_int());
    if (seq.is_string()) {
      const size_t len = seq.str().size();
      if (len && static_cast<uint64_t>(n) > settings_.limits.max_output_bytes / len) check_size(SIZE_MAX);
      std::string s;
      s.reserve(len * static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) s += seq.str();
      return Value(std::move(s));
    }
    if (!seq.items().empty()) {
      charge_steps(std::min<int64_t>(n, settings_.limits.max_steps + 1));
      charge_steps(n * static_cast<int64_t>(seq.items().size()));
    }
    List items;
    for (int64_t i = 0; i < n && !seq.items().empty(); ++i)
      items.insert(items.end(), seq.items().begin(), seq.items().end());
    return seq.kind() == Value::Kind::kTuple ? Value::tuple(std::move(items)) : Value::list(std::move(items));
  }
  if (o == '%' && !two && a.is_string()) return py_percent_format(*this, a.str(), b);
  if (o == '+' && a.is_string()) type_error("can only concatenate str (not \"" + type_name(b) + "\") to str");
  if (o == '+' && a.is_list())
    type_error("can only concatenate " + type_name(a) + " (not \"" + type_name(b) + "\") to " + type_name(a));
  type_error("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) + "'");
}

}  // namespace tessera::tokenizer::chat
