// Walks a parsed template and writes its output: Jinja2's runtime with transformers' environment (immutable
// sandbox, default Undefined, trim/lstrip blocks, loopcontrols). One Renderer serves one render call on one
// thread; the template tree it reads is shared and never changed.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/tokenizer/chat/ast.h"
#include "tessera/tokenizer/chat/value.h"

namespace tessera::tokenizer::chat {

struct RenderLimits {
  size_t max_output_bytes = 64u << 20;  // any one string the template builds, the output included
  int64_t max_steps = 20'000'000;       // loop iterations, macro calls and list items built, together
  int max_call_depth = 128;             // nested macro calls
};

struct RenderSettings {
  RenderLimits limits;
  // What strftime_now() sees; the current local time when empty. Tests fix it for deterministic output.
  std::optional<std::tm> now;
};

class Renderer {
 public:
  // `context` is a dict whose keys become the template's variables.
  Renderer(const RenderSettings& settings, const Value& context);
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  // Throws TemplateError; Template::render turns it into a Status.
  std::string render(const StmtList& body);

  // ---- for the builtins ----
  Value call(const Value& fn, CallArgs& args);
  // Jinja2's environment.getattr / getitem in the sandbox: attribute falls back to item and item to attribute.
  Value getattr(const Value& obj, const std::string& name);
  Value getitem(const Value& obj, const Value& key);
  const RenderSettings& settings() const { return settings_; }
  // Charges `n` steps against the budget; throws kLimit past it.
  void charge_steps(int64_t n);
  // Throws kLimit when a string of `bytes` would pass the output limit.
  void check_size(size_t bytes) const;
  // Namespaces are the only mutable values, so the only way to build cycles: the renderer empties them all when
  // it finishes, which frees any cycle and any long chain without deep recursion.
  void adopt_namespace(const Value& ns) { namespaces_.push_back(ns); }

 private:
  struct Frame;
  class FrameScope;
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec(const StmtList& body, std::string* out);
  Flow exec_stmt(const Stmt& s, std::string* out);
  Flow exec_for(const Stmt& s, std::string* out);
  Flow exec_block(const Stmt& s, std::string* out);
  void exec_set(const Stmt& s);
  std::string capture(const StmtList& body);
  void append(std::string* out, std::string_view text) const;

  Value eval(const Expr& e);
  Value eval_call(const Expr& e, const Value* caller);
  Value eval_binary(const std::string& op, const Value& a, const Value& b);
  bool eval_compare(const std::string& op, const Value& a, const Value& b);
  Value eval_slice(const Expr& e);
  // Applies a filter chain; `base` replaces the innermost operand (filter blocks and set blocks) when given.
  Value eval_filter(const Expr& e, const Value* base);
  bool eval_test(const Expr& e);
  CallArgs eval_args(const Expr& e);
  Value make_macro(const Stmt& s, std::string name);
  Value call_macro(const Stmt& s, const std::shared_ptr<Frame>& closure, CallArgs& args, const std::string& name);

  Value lookup(const std::string& name) const;
  void assign(const std::string& name, Value v);
  void bind_targets(const Stmt& s, const Value& item);

  const RenderSettings& settings_;
  Value context_;
  std::shared_ptr<Frame> frame_;
  std::vector<Value> namespaces_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
};

}  // namespace tessera::tokenizer::chat
