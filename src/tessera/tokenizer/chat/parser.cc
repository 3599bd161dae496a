#include "tessera/tokenizer/chat/parser.h"

#include <initializer_list>
#include <string_view>

#include "tessera/tokenizer/chat/builtins.h"
#include "tessera/tokenizer/chat/error.h"

namespace tessera::tokenizer::chat {
namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  StmtList parse() {
    StmtList body = subparse({});
    if (cur().type != TokenType::kEof) fail("unexpected token");
    return body;
  }

 private:
  // ---- token stream ----
  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[i_ + 1 < toks_.size() ? i_ + 1 : i_]; }
  void next() {
    if (i_ + 1 < toks_.size()) ++i_;
  }
  bool is_name(std::string_view n) const { return cur().type == TokenType::kName && cur().value == n; }
  bool is_op(std::string_view op) const { return cur().type == TokenType::kOp && cur().value == op; }
  bool skip_name(std::string_view n) {
    if (!is_name(n)) return false;
    next();
    return true;
  }
  bool skip_op(std::string_view op) {
    if (!is_op(op)) return false;
    next();
    return true;
  }
  void expect_op(std::string_view op) {
    if (!skip_op(op)) fail("expected '" + std::string(op) + "', got " + describe(cur()));
  }
  std::string expect_name() {
    if (cur().type != TokenType::kName) fail("expected name, got " + describe(cur()));
    std::string n = cur().value;
    next();
    return n;
  }
  void expect(TokenType type, const char* what) {
    if (cur().type != type) fail(std::string("expected ") + what + ", got " + describe(cur()));
    next();
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kEof:
        return "end of template";
      case TokenType::kBlockEnd:
        return "end of statement block";
      case TokenType::kVarEnd:
        return "end of print statement";
      case TokenType::kText:
        return "template data";
      default:
        return "'" + t.value + "'";
    }
  }
  [[noreturn]] void fail(const std::string& message) const {
    TemplateError e(ErrorKind::kSyntax, message);
    e.set_line_if_unset(cur().line);
    throw e;
  }

  // Guards recursion depth for both statements and expressions.
  struct DepthGuard {
    explicit DepthGuard(Parser* p) : p(p) {
      if (++p->depth_ > kMaxParseDepth) p->fail("template nested too deeply");
    }
    ~DepthGuard() { --p->depth_; }
    Parser* p;
  };

  ExprPtr node(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // ---- statements ----
  StmtList subparse(std::initializer_list<std::string_view> end_tokens) {
    StmtList body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::kEof) {
        if (end_tokens.size()) fail("unexpected end of template, expected '" + std::string(*end_tokens.begin()) + "'");
        return body;
      }
      if (t.type == TokenType::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kText;
        s->line = t.line;
        s->text = t.value;
        body.push_back(std::move(s));
        next();
      } else if (t.type == TokenType::kVarBegin) {
        next();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::kOutput;
        s->line = t.line;
        s->expr = parse_tuple(false, true, {}, false);
        expect(TokenType::kVarEnd, "end of print statement");
        body.push_back(std::move(s));
      } else if (t.type == TokenType::kBlockBegin) {
        next();
        for (std::string_view e : end_tokens)
          if (is_name(e)) return body;
        body.push_back(parse_statement());
        expect(TokenType::kBlockEnd, "end of statement block");
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  // After the tag's own header: `%}`, then the body up to one of end_tokens (left current, or consumed when drop).
  StmtList parse_statements(std::initializer_list<std::string_view> end_tokens, bool drop_needle) {
    skip_op(":");
    expect(TokenType::kBlockEnd, "end of statement block");
    StmtList body = subparse(end_tokens);
    if (drop_needle) next();
    return body;
  }

  StmtPtr parse_statement() {
    DepthGuard guard(this);
    if (cur().type != TokenType::kName) fail("tag name expected");
    const std::string tag = cur().value;
    auto s = std::make_unique<Stmt>();
    s->line = cur().line;
    next();
    if (tag == "if") return parse_if(std::move(s));
    if (tag == "for") return parse_for(std::move(s));
    if (tag == "set") return parse_set(std::move(s));
    if (tag == "macro") return parse_macro(std::move(s));
    if (tag == "call") return parse_call_block(std::move(s));
    if (tag == "filter") return parse_filter_block(std::move(s));
    if (tag == "with") return parse_with(std::move(s));
    if (tag == "generation") {
      s->kind = StmtKind::kGeneration;
      s->body = hard_frame([&] { return parse_statements({"endgeneration"}, true); });
      return s;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      s->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      return s;
    }
    fail("Encountered unknown tag '" + tag + "'.");
  }

  // Bodies that Jinja2 compiles into a new frame check their filters and tests strictly again.
  template <typename F>
  StmtList hard_frame(F f) {
    const bool saved = soft_;
    soft_ = false;
    StmtList body = f();
    soft_ = saved;
    return body;
  }

  StmtPtr parse_if(StmtPtr s) {
    const bool saved = soft_;
    soft_ = true;
    s->kind = StmtKind::kIf;
    s->expr = parse_tuple(false, false, {}, false);
    s->body = parse_statements({"elif", "else", "endif"}, false);
    Stmt* tail = s.get();
    for (;;) {
      const std::string which = cur().value;
      next();
      if (which == "elif") {
        auto e = std::make_unique<Stmt>();
        e->kind = StmtKind::kIf;
        e->line = cur().line;
        e->expr = parse_tuple(false, false, {}, false);
        e->body = parse_statements({"elif", "else", "endif"}, false);
        Stmt* next_tail = e.get();
        tail->else_body.push_back(std::move(e));
        tail = next_tail;
      } else if (which == "else") {
        tail->else_body = parse_statements({"endif"}, true);
        break;
      } else {
        break;
      }
    }
    soft_ = saved;
    return s;
  }

  void parse_assign_names(Stmt* s, std::initializer_list<std::string_view> end_names) {
    // A name or a tuple of names, optionally parenthesized: `x`, `k, v`, `(k, v)`.
    const bool paren = skip_op("(");
    for (;;) {
      s->targets.push_back(expect_name());
      if (!skip_op(",")) break;
      s->unpack = true;
      bool end = is_op(")") || is_op("=") || cur().type == TokenType::kBlockEnd;
      for (std::string_view n : end_names) end = end || is_name(n);
      if (end) break;
    }
    if (paren) {
      expect_op(")");
      s->unpack = true;
    }
  }

  StmtPtr parse_for(StmtPtr s) {
    s->kind = StmtKind::kFor;
    parse_assign_names(s.get(), {"in"});
    if (!skip_name("in")) fail("expected 'in', got " + describe(cur()));
    s->expr = parse_tuple(false, false, {"recursive"}, false);
    if (skip_name("if")) s->filter = parse_expression(true);
    if (skip_name("recursive")) fail("recursive loops are not supported");
    ++loop_depth_;
    s->body = hard_frame([&] { return parse_statements({"endfor", "else"}, false); });
    --loop_depth_;
    const std::string which = cur().value;
    next();
    if (which == "else") s->else_body = hard_frame([&] { return parse_statements({"endfor"}, true); });
    return s;
  }

  StmtPtr parse_set(StmtPtr s) {
    if (cur().type == TokenType::kName && look().type == TokenType::kOp && look().value == ".") {
      s->targets.push_back(expect_name());
      next();
      s->attr = expect_name();
    } else {
      parse_assign_names(s.get(), {});
    }
    if (skip_op("=")) {
      s->kind = StmtKind::kSet;
      s->expr = parse_tuple(false, true, {}, false);
      return s;
    }
    if (!s->attr.empty() || s->unpack) fail("block set needs a single name");
    s->kind = StmtKind::kSetBlock;
    if (is_op("|")) s->filter = parse_filter(nullptr, false);
    s->body = hard_frame([&] { return parse_statements({"endset"}, true); });
    return s;
  }

  void parse_signature(Stmt* s) {
    expect_op("(");
    while (!is_op(")")) {
      if (!s->params.empty()) expect_op(",");
      std::string name = expect_name();
      ExprPtr def;
      if (skip_op("=")) def = parse_expression(true);
      s->params.emplace_back(std::move(name), std::move(def));
    }
    expect_op(")");
  }

  StmtPtr parse_macro(StmtPtr s) {
    s->kind = StmtKind::kMacro;
    s->text = expect_name();
    parse_signature(s.get());
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    const bool saved_v = saw_varargs_, saved_k = saw_kwargs_;
    saw_varargs_ = saw_kwargs_ = false;
    s->body = hard_frame([&] { return parse_statements({"endmacro"}, true); });
    s->uses_varargs = saw_varargs_;
    s->uses_kwargs = saw_kwargs_;
    saw_varargs_ = saved_v;
    saw_kwargs_ = saved_k;
    loop_depth_ = saved_loops;
    return s;
  }

  StmtPtr parse_call_block(StmtPtr s) {
    s->kind = StmtKind::kCallBlock;
    if (is_op("(")) parse_signature(s.get());
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::kCall) fail("expected call");
    const int saved_loops = loop_depth_;
    loop_depth_ = 0;
    s->body = hard_frame([&] { return parse_statements({"endcall"}, true); });
    loop_depth_ = saved_loops;
    return s;
  }

  StmtPtr parse_filter_block(StmtPtr s) {
    s->kind = StmtKind::kFilterBlock;
    s->filter = parse_filter(nullptr, true);
    s->body = hard_frame([&] { return parse_statements({"endfilter"}, true); });
    return s;
  }

  StmtPtr parse_with(StmtPtr s) {
    s->kind = StmtKind::kWith;
    while (cur().type != TokenType::kBlockEnd) {
      if (!s->params.empty()) expect_op(",");
      std::string name = expect_name();
      expect_op("=");
      s->params.emplace_back(std::move(name), parse_expression(true));
    }
    s->body = hard_frame([&] { return parse_statements({"endwith"}, true); });
    return s;
  }

  // ---- expressions ----
  bool is_tuple_end(std::initializer_list<std::string_view> extra_end) const {
    if (cur().type == TokenType::kVarEnd || cur().type == TokenType::kBlockEnd || is_op(")")) return true;
    for (std::string_view n : extra_end)
      if (is_name(n)) return true;
    return false;
  }

  ExprPtr parse_tuple(bool simplified, bool with_condexpr, std::initializer_list<std::string_view> extra_end,
                      bool explicit_parentheses) {
    const int line = cur().line;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    for (;;) {
      if (!items.empty()) expect_op(",");
      if (is_tuple_end(extra_end)) break;
      items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
      if (is_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (!items.empty()) return std::move(items[0]);
      if (!explicit_parentheses) fail("Expected an expression, got " + describe(cur()));
    }
    auto t = node(ExprKind::kTuple, line);
    t->args = std::move(items);
    return t;
  }

  ExprPtr parse_expression(bool with_condexpr) {
    DepthGuard guard(this);
    return with_condexpr ? parse_condexpr() : parse_or();
  }

  ExprPtr parse_condexpr() {
    ExprPtr expr1 = parse_or();
    while (is_name("if")) {
      const int line = cur().line;
      next();
      ExprPtr cond = parse_or();
      ExprPtr other = skip_name("else") ? parse_condexpr() : nullptr;
      auto c = node(ExprKind::kCondExpr, line);
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(expr1));
      c->args.push_back(std::move(other));
      expr1 = std::move(c);
    }
    return expr1;
  }

  ExprPtr binary(ExprKind kind, ExprPtr l, ExprPtr r, std::string op = "") {
    auto b = node(kind, l->line);
    b->name = std::move(op);
    b->args.push_back(std::move(l));
    b->args.push_back(std::move(r));
    return b;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (skip_name("or")) left = binary(ExprKind::kOr, std::move(left), parse_and());
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (skip_name("and")) left = binary(ExprKind::kAnd, std::move(left), parse_not());
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(this);
      const int line = cur().line;
      next();
      auto n = node(ExprKind::kNot, line);
      n->args.push_back(parse_not());
      return n;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr expr = parse_math1();
    ExprPtr cmp;
    for (;;) {
      std::string op;
      if (cur().type == TokenType::kOp &&
          (is_op("==") || is_op("!=") || is_op("<") || is_op("<=") || is_op(">") || is_op(">="))) {
        op = cur().value;
        next();
      } else if (skip_name("in")) {
        op = "in";
      } else if (is_name("not") && look().type == TokenType::kName && look().value == "in") {
        next();
        next();
        op = "notin";
      } else {
        break;
      }
      if (!cmp) {
        cmp = node(ExprKind::kCompare, expr->line);
        cmp->args.push_back(std::move(expr));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(expr);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      std::string op = cur().value;
      next();
      left = binary(ExprKind::kBinary, std::move(left), parse_concat(), op);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto c = node(ExprKind::kConcat, first->line);
    c->args.push_back(std::move(first));
    while (skip_op("~")) c->args.push_back(parse_math2());
    return c;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      std::string op = cur().value;
      next();
      left = binary(ExprKind::kBinary, std::move(left), parse_pow(), op);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (skip_op("**")) left = binary(ExprKind::kBinary, std::move(left), parse_unary(true), "**");
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(this);
    ExprPtr n;
    if (is_op("-") || is_op("+")) {
      const bool neg = is_op("-");
      n = node(neg ? ExprKind::kNeg : ExprKind::kPos, cur().line);
      next();
      n->args.push_back(parse_unary(false));
    } else {
      n = parse_primary();
    }
    n = parse_postfix(std::move(n));
    if (with_filter) n = parse_filter_expr(std::move(n));
    return n;
  }

  ExprPtr parse_primary() {
    DepthGuard guard(this);
    const Token& t = cur();
    const int line = t.line;
    if (t.type == TokenType::kName) {
      auto n = node(ExprKind::kConst, line);
      if (t.value == "true" || t.value == "True") {
        n->value = Value(true);
      } else if (t.value == "false" || t.value == "False") {
        n->value = Value(false);
      } else if (t.value == "none" || t.value == "None") {
        n->value = Value::none();
      } else {
        n->kind = ExprKind::kName;
        n->name = t.value;
        if (t.value == "varargs") saw_varargs_ = true;
        if (t.value == "kwargs") saw_kwargs_ = true;
      }
      next();
      return n;
    }
    if (t.type == TokenType::kString) {
      std::string s;
      while (cur().type == TokenType::kString) {  // adjacent literals concatenate, as in Python
        s += cur().value;
        next();
      }
      auto n = node(ExprKind::kConst, line);
      n->value = Value(std::move(s));
      return n;
    }
    if (t.type == TokenType::kInt || t.type == TokenType::kFloat) {
      auto n = node(ExprKind::kConst, line);
      n->value = t.type == TokenType::kInt ? Value(t.int_value) : Value(t.float_value);
      next();
      return n;
    }
    if (skip_op("(")) {
      ExprPtr e = parse_tuple(false, true, {}, true);
      expect_op(")");
      return e;
    }
    if (is_op("[")) {
      next();
      auto l = node(ExprKind::kList, line);
      while (!is_op("]")) {
        if (!l->args.empty()) expect_op(",");
        if (is_op("]")) break;
        l->args.push_back(parse_expression(true));
      }
      expect_op("]");
      return l;
    }
    if (is_op("{")) {
      next();
      auto d = node(ExprKind::kDict, line);
      while (!is_op("}")) {
        if (!d->args.empty()) expect_op(",");
        if (is_op("}")) break;
        d->args.push_back(parse_expression(true));
        expect_op(":");
        d->args.push_back(parse_expression(true));
      }
      expect_op("}");
      return d;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr n) {
    for (;;) {
      if (is_op(".") || is_op("[")) {
        n = parse_subscript(std::move(n));
      } else if (is_op("(")) {
        n = parse_call(std::move(n));
      } else {
        return n;
      }
    }
  }

  ExprPtr parse_filter_expr(ExprPtr n) {
    for (;;) {
      if (is_op("|")) {
        n = parse_filter(std::move(n), false);
      } else if (is_name("is")) {
        n = parse_test(std::move(n));
      } else if (is_op("(")) {
        n = parse_call(std::move(n));
      } else {
        return n;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr obj) {
    DepthGuard guard(this);
    const int line = cur().line;
    if (skip_op(".")) {
      if (cur().type == TokenType::kName) {
        auto g = node(ExprKind::kGetAttr, line);
        g->name = cur().value;
        g->args.push_back(std::move(obj));
        next();
        return g;
      }
      if (cur().type == TokenType::kInt) {
        auto g = node(ExprKind::kGetItem, line);
        g->args.push_back(std::move(obj));
        auto k = node(ExprKind::kConst, line);
        k->value = Value(cur().int_value);
        g->args.push_back(std::move(k));
        next();
        return g;
      }
      fail("expected name or number");
    }
    expect_op("[");
    std::vector<ExprPtr> subs;
    while (!is_op("]")) {
      if (!subs.empty()) expect_op(",");
      subs.push_back(parse_subscribed());
    }
    expect_op("]");
    if (subs.empty()) fail("expected subscript expression");
    if (subs.size() > 1)
      for (const ExprPtr& sub : subs)
        if (sub->kind == ExprKind::kSlice) fail("slices inside a subscript tuple are not supported");
    ExprPtr key;
    if (subs.size() == 1) {
      key = std::move(subs[0]);
    } else {
      key = node(ExprKind::kTuple, line);
      key->args = std::move(subs);
    }
    if (key->kind == ExprKind::kSlice) {  // obj[a:b:c] keeps its parts on one node
      key->args.insert(key->args.begin(), std::move(obj));
      return key;
    }
    auto g = node(ExprKind::kGetItem, line);
    g->args.push_back(std::move(obj));
    g->args.push_back(std::move(key));
    return g;
  }

  ExprPtr parse_subscribed() {
    const int line = cur().line;
    std::vector<ExprPtr> parts;
    if (skip_op(":")) {
      parts.push_back(nullptr);
    } else {
      ExprPtr e = parse_expression(true);
      if (!skip_op(":")) return e;
      parts.push_back(std::move(e));
    }
    if (is_op(":") || is_op("]") || is_op(",")) {
      parts.push_back(nullptr);
    } else {
      parts.push_back(parse_expression(true));
    }
    if (skip_op(":")) {
      parts.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression(true));
    } else {
      parts.push_back(nullptr);
    }
    auto s = node(ExprKind::kSlice, line);
    s->args = std::move(parts);
    return s;
  }

  void parse_call_args(Expr* call) {
    expect_op("(");
    bool require_comma = false;
    while (!is_op(")")) {
      if (require_comma) {
        expect_op(",");
        if (is_op(")")) break;
      }
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
      if (cur().type == TokenType::kName && look().type == TokenType::kOp && look().value == "=") {
        std::string key = cur().value;
        next();
        next();
        call->kwargs.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!call->kwargs.empty()) fail("positional argument after keyword argument");
        call->args.push_back(parse_expression(true));
      }
      require_comma = true;
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    DepthGuard guard(this);
    auto c = node(ExprKind::kCall, cur().line);
    c->args.push_back(std::move(callee));
    parse_call_args(c.get());
    return c;
  }

  std::string dotted_name() {
    std::string name = expect_name();
    while (is_op(".")) {
      next();
      name += "." + expect_name();
    }
    return name;
  }

  ExprPtr parse_filter(ExprPtr operand, bool start_inline) {
    while (is_op("|") || start_inline) {
      DepthGuard guard(this);
      if (!start_inline) next();
      start_inline = false;
      auto f = node(ExprKind::kFilter, cur().line);
      f->name = dotted_name();
      if (!has_filter(f->name)) {
        if (!soft_) fail("No filter named '" + f->name + "'.");
        f->unknown = true;
      }
      f->args.push_back(std::move(operand));
      if (is_op("(")) parse_call_args(f.get());
      operand = std::move(f);
    }
    return operand;
  }

  ExprPtr parse_test(ExprPtr operand) {
    DepthGuard guard(this);
    const int line = cur().line;
    next();  // `is`
    const bool negated = skip_name("not");
    auto t = node(ExprKind::kTest, line);
    t->name = dotted_name();
    if (!has_test(t->name)) {
      if (!soft_) fail("No test named '" + t->name + "'.");
      t->unknown = true;
    }
    t->args.push_back(std::move(operand));
    const Token& c = cur();
    if (is_op("(")) {
      parse_call_args(t.get());
    } else if ((c.type == TokenType::kName || c.type == TokenType::kString || c.type == TokenType::kInt ||
                c.type == TokenType::kFloat || is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("You cannot chain multiple tests with is");
      t->args.push_back(parse_postfix(parse_primary()));
    }
    if (!negated) return t;
    auto n = node(ExprKind::kNot, line);
    n->args.push_back(std::move(t));
    return n;
  }

  std::vector<Token> toks_;
  size_t i_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  bool soft_ = false;
  bool saw_varargs_ = false;
  bool saw_kwargs_ = false;
};

}  // namespace

StmtList parse_template(std::vector<Token> tokens) { return Parser(std::move(tokens)).parse(); }

}  // namespace tessera::tokenizer::chat
