// The parsed form of a template: expression and statement nodes, as Jinja2's parser builds them. One generic
// node per kind keeps the tree small and the renderer's switch flat. Nodes are immutable once parsed, so one
// tree serves many concurrent renders.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tokenizer/chat/value.h"

namespace tessera::tokenizer::chat {

enum class ExprKind : uint8_t {
  kConst,     // value
  kName,      // name
  kList,      // args: items
  kTuple,     // args: items
  kDict,      // args: key0, value0, key1, value1, ...
  kGetAttr,   // args[0].name
  kGetItem,   // args[0][args[1]]
  kSlice,     // args[0][args[1]:args[2]:args[3]] (null parts allowed)
  kCall,      // args[0](args[1..], kwargs)
  kFilter,    // args[0] | name(args[1..], kwargs); args[0] is null inside filter blocks
  kTest,      // args[0] is name(args[1..], kwargs)
  kNot,       // not args[0]
  kNeg,       // -args[0]
  kPos,       // +args[0]
  kBinary,    // args[0] name args[1], name one of + - * / // % **
  kConcat,    // args joined with ~
  kAnd,       // args[0] and args[1]
  kOr,        // args[0] or args[1]
  kCompare,   // args[0] ops[0] args[1] ops[1] args[2] ...; ops: == != < <= > >= in notin
  kCondExpr,  // args[1] if args[0] else args[2] (args[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  int line = 0;
  Value value;
  std::string name;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;
  // A filter or test unknown at parse time inside an `if`: Jinja2 reports it only when it runs.
  bool unknown = false;
};

enum class StmtKind : uint8_t {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // if expr: body else: else_body (elif is a nested kIf alone in else_body)
  kFor,          // for targets in expr [if filter]: body else: else_body
  kSet,          // set targets = expr, or set targets[0].attr = expr when attr is non-empty
  kSetBlock,     // set targets[0] [| filters]: body
  kMacro,        // macro name(params): body
  kCallBlock,    // call(params) expr: body
  kFilterBlock,  // filter filters: body
  kWith,         // with params: body
  kGeneration,   // generation: body (transformers' AssistantTracker renders just the body)
  kBreak,
  kContinue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;  // kText; kMacro: the macro's name
  ExprPtr expr;      // output / if test / for iterable / set value / call expression
  ExprPtr filter;    // for-loop filter; set-block and filter-block filter chain (kFilter, innermost first)
  std::vector<std::string> targets;                     // names assigned (for, set); several means tuple unpacking
  bool unpack = false;                                  // targets came as a tuple (even of one name)
  std::string attr;                                     // set ns.attr
  std::vector<std::pair<std::string, ExprPtr>> params;  // macro / call-block parameters with defaults; with-assignments
  StmtList body;
  StmtList else_body;
  bool uses_varargs = false;  // macro body names `varargs` / `kwargs`: it then accepts extra arguments
  bool uses_kwargs = false;
};

}  // namespace tessera::tokenizer::chat
