// A compiled PCRE2 pattern for pre-tokenizers: UTF-8 with Unicode properties (\p{L}, and \s, \w and case
// folding by Unicode rules), JIT-compiled once at load. Matching keeps its scratch state (match data, JIT stack)
// per thread, so one Regex may be used by any number of threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/util/status.h"

namespace tessera::tokenizer {

struct Span {
  size_t begin = 0;
  size_t end = 0;
};

class Regex {
 public:
  // `literal`: the pattern is plain text (Hugging Face's {"String": ...} patterns).
  static Expected<Regex> compile(std::string_view pattern, bool literal = false);

  // Appends the non-empty, non-overlapping leftmost matches in `text`, in order. Invalid UTF-8 in `text` never
  // matches anything (so it ends up in the gaps between matches). If PCRE2 gives up (a resource limit on
  // pathological input) the rest of the text is left unmatched rather than failing the request.
  void find_all(std::string_view text, std::vector<Span>& out) const;

  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::shared_ptr<const Code> code_;  // immutable after compile; shared by copies
  std::string pattern_;
};

}  // namespace tessera::tokenizer
