// Normalizers: text rewrites applied to each text segment before pre-tokenization (Hugging Face's
// `normalizer`): Unicode normal forms and case mapping through utf8proc, replacements, a prepended string, and
// BERT's cleanup. Invalid UTF-8 passes through untouched: only the valid runs around it are rewritten.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tokenizer/regex.h"
#include "tessera/util/status.h"

namespace tessera::tokenizer {

class Normalizer {
 public:
  enum class Kind {
    kNfc,
    kNfd,
    kNfkc,
    kNfkd,
    kLowercase,
    kStripAccents,  // drops nonspacing marks (Mn), which after NFD are the accents
    kStrip,         // surrounding whitespace; `left`/`right`
    kReplace,       // every match of `pattern` becomes `content`
    kPrepend,       // `content` before a non-empty segment
    kBertClean,     // BERT: drop controls and U+FFFD, map whitespace to ' '
    kBertChinese,   // BERT: spaces around CJK ideographs
  };

  void add(Kind kind) { steps_.push_back({kind, {}, std::nullopt, true, true}); }
  void add_prepend(std::string content) {
    steps_.push_back({Kind::kPrepend, std::move(content), std::nullopt, true, true});
  }
  void add_strip(bool left, bool right) { steps_.push_back({Kind::kStrip, {}, std::nullopt, left, right}); }
  Status add_replace(std::string_view pattern, std::string content, bool literal);

  bool empty() const { return steps_.empty(); }

  // Rewrites `text` into `out` (REQUIRES: &out != text's storage).
  void apply(std::string_view text, std::string& out) const;

 private:
  struct Step {
    Kind kind;
    std::string content;
    std::optional<Regex> pattern;
    bool left, right;
  };
  std::vector<Step> steps_;
};

}  // namespace tessera::tokenizer
