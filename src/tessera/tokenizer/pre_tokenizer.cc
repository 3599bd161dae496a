#include "tessera/tokenizer/pre_tokenizer.h"

#include <utility>

namespace tessera::tokenizer {
namespace {

// Applies one stage to `piece` (offsets into `text`), appending the resulting pieces to `out`.
void split_piece(const SplitStage& stage, std::string_view text, Span piece, std::vector<Span>& matches,
                 std::vector<Span>& out) {
  matches.clear();
  stage.regex.find_all(text.substr(piece.begin, piece.end - piece.begin), matches);
  // Walk matches and gaps in order; `is_match` marks the delimiter role (swapped when inverted).
  size_t pos = piece.begin;
  size_t pending_begin = SIZE_MAX;  // an open piece for kMergedWithNext
  bool prev_open = false;           // the last piece emitted here is text a delimiter may join
  auto emit = [&](size_t b, size_t e, bool is_delim) {
    if (b == e) return;
    switch (stage.behavior) {
      case SplitBehavior::kIsolated:
        out.push_back({b, e});
        break;
      case SplitBehavior::kRemoved:
        if (!is_delim) out.push_back({b, e});
        break;
      case SplitBehavior::kMergedWithPrevious:
        // A delimiter joins the piece before it, unless that piece is itself a delimiter (Hugging Face's rule).
        if (is_delim && prev_open && out.back().end == b) {
          out.back().end = e;
          prev_open = false;
        } else {
          out.push_back({b, e});
          prev_open = !is_delim;
        }
        break;
      case SplitBehavior::kMergedWithNext:
        if (is_delim) {
          if (pending_begin != SIZE_MAX) out.push_back({pending_begin, b});
          pending_begin = b;
        } else if (pending_begin != SIZE_MAX) {
          out.push_back({pending_begin, e});
          pending_begin = SIZE_MAX;
        } else {
          out.push_back({b, e});
        }
        break;
    }
  };
  for (const Span& m : matches) {
    size_t b = piece.begin + m.begin, e = piece.begin + m.end;
    emit(pos, b, stage.invert);
    emit(b, e, !stage.invert);
    pos = e;
  }
  emit(pos, piece.end, stage.invert);
  if (pending_begin != SIZE_MAX) out.push_back({pending_begin, piece.end});
}

}  // namespace

const char* const kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

Status PreTokenizer::set_metaspace(std::string replacement, PrependScheme scheme, bool split) {
  if (!stages_.empty() || prefix_space_) return unimplemented("Metaspace must be the first pre-tokenizer");
  metaspace_ = true;
  replacement_ = std::move(replacement);
  scheme_ = scheme;
  if (split) return add_regex(replacement_, SplitBehavior::kMergedWithNext, false, true);
  return Status();
}

Status PreTokenizer::add_regex(std::string_view pattern, SplitBehavior behavior, bool invert, bool literal) {
  TESSERA_ASSIGN_OR_RETURN(Regex re, Regex::compile(pattern, literal));
  stages_.push_back({std::move(re), behavior, invert});
  return Status();
}

void PreTokenizer::run(std::string_view segment, bool first, std::string& buf, std::vector<Span>& pieces,
                       std::vector<Span>& scratch) const {
  buf.clear();
  if (metaspace_) {
    bool prepend = scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && first);
    // Hugging Face prepends only when the text (after replacing spaces) does not already start with "▁".
    if (prepend && !segment.empty() && segment[0] != ' ' && segment.substr(0, replacement_.size()) != replacement_)
      buf += replacement_;
    for (char c : segment) {
      if (c == ' ')
        buf += replacement_;
      else
        buf += c;
    }
  } else {
    if (prefix_space_ && !segment.empty() && segment[0] != ' ') buf += ' ';
    buf.append(segment);
  }
  pieces.clear();
  if (buf.empty()) return;
  pieces.push_back({0, buf.size()});
  std::vector<Span> next;
  for (const SplitStage& stage : stages_) {
    next.clear();
    for (const Span& p : pieces) split_piece(stage, buf, p, scratch, next);
    pieces.swap(next);
  }
}

}  // namespace tessera::tokenizer
