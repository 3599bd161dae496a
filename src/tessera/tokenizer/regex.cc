#define PCRE2_CODE_UNIT_WIDTH 8
#include "tessera/tokenizer/regex.h"

#include <pcre2.h>

#include "tessera/tokenizer/utf8.h"

namespace tessera::tokenizer {

struct Regex::Code {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Code() { pcre2_code_free(code); }
};

namespace {

// Per-thread scratch: the match data holds one pair (we only need the whole match), and the JIT stack is larger
// than PCRE2's 32 KiB default so long runs of whitespace or letters do not hit its limit.
struct ThreadScratch {
  pcre2_match_data* match_data = pcre2_match_data_create(1, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
  ThreadScratch() {
    if (context && jit_stack) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~ThreadScratch() {
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_context_free(context);
    pcre2_match_data_free(match_data);
  }
  ThreadScratch(const ThreadScratch&) = delete;
  ThreadScratch& operator=(const ThreadScratch&) = delete;
};

ThreadScratch& scratch() {
  thread_local ThreadScratch s;
  return s;
}

}  // namespace

Expected<Regex> Regex::compile(std::string_view pattern, bool literal) {
  uint32_t options = PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF;
  if (literal) options = (options & ~PCRE2_UCP) | PCRE2_LITERAL;  // UCP is meaningless (and refused) there
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &error,
                                   &error_offset, nullptr);
  if (!code) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(error, buf, sizeof(buf));
    return invalid_argument("bad pre-tokenizer regex at offset " + std::to_string(error_offset) + ": " +
                            reinterpret_cast<const char*>(buf));
  }
  auto c = std::make_shared<Code>();
  c->code = code;
  // Without JIT (a platform PCRE2 lacks it for) matching still works, through the interpreter.
  c->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  Regex r;
  r.code_ = std::move(c);
  r.pattern_ = std::string(pattern);
  return r;
}

void Regex::find_all(std::string_view text, std::vector<Span>& out) const {
  ThreadScratch& s = scratch();
  if (!s.match_data) return;
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset < text.size()) {
    int rc = code_->jit ? pcre2_jit_match(code_->code, subject, text.size(), offset, 0, s.match_data, s.context)
                        : pcre2_match(code_->code, subject, text.size(), offset, 0, s.match_data, s.context);
    if (rc < 0) return;  // no (further) match, or a resource limit: the rest stays one gap
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.match_data);
    size_t b = ov[0], e = ov[1];
    if (e > b) {
      out.push_back({b, e});
      offset = e;
    } else {
      // An empty match: step over one character (or one invalid byte) so the loop always advances.
      size_t n = utf8_valid_char_length(text, b);
      offset = b + (n ? n : 1);
    }
  }
}

}  // namespace tessera::tokenizer
