// The one error type of the template interpreter. It is thrown inside the lexer, parser and renderer only: a
// template can fail at any depth of a recursive evaluation, and unwinding is the simplest faithful model of
// Python's exceptions. Template::parse and Template::render catch it and return a Status; it never escapes them.
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace tessera::tokenizer::chat {

enum class ErrorKind {
  kSyntax,     // the template does not parse (Jinja2's TemplateSyntaxError / TemplateAssertionError)
  kRaised,     // the template called raise_exception(msg): the request, not the template, is at fault
  kUndefined,  // used an undefined value in a way Jinja2's Undefined refuses (UndefinedError)
  kType,       // Python TypeError / ValueError / IndexError / KeyError / ZeroDivisionError equivalents
  kSecurity,   // the immutable sandbox refused an operation (SecurityError)
  kLimit,      // output size, loop iterations or recursion depth went past the configured bound
  kRuntime,    // other TemplateRuntimeError cases (unknown filter at run time, bad assignment)
};

class TemplateError : public std::exception {
 public:
  TemplateError(ErrorKind kind, std::string message) : kind_(kind), message_(std::move(message)) {}
  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  int line() const { return line_; }
  // The first (innermost) line wins: it is where the failing node sits.
  void set_line_if_unset(int line) {
    if (line_ == 0) line_ = line;
  }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ErrorKind kind_;
  std::string message_;
  int line_ = 0;
};

[[noreturn]] inline void throw_error(ErrorKind kind, std::string message) {
  throw TemplateError(kind, std::move(message));
}
[[noreturn]] inline void type_error(std::string message) { throw_error(ErrorKind::kType, std::move(message)); }

}  // namespace tessera::tokenizer::chat
