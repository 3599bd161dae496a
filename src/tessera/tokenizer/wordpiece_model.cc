#include "tessera/tokenizer/wordpiece_model.h"

#include "tessera/tokenizer/utf8.h"

namespace tessera::tokenizer {

void WordPieceModel::build(const TokenizerData& data, const std::vector<std::string>& model_pieces,
                           std::string start_prefix, std::string continuation_prefix) {
  std::vector<bool> include(model_pieces.size());
  for (size_t i = 0; i < include.size(); ++i)
    include[i] = data.kinds[i] == TokenKind::kNormal || data.kinds[i] == TokenKind::kUnused;
  piece_to_id_.build(model_pieces, include);
  start_prefix_ = std::move(start_prefix);
  continuation_prefix_ = std::move(continuation_prefix);
  unk_id_ = data.unk_id.value_or(-1);
  max_chars_ = data.wordpiece_max_chars;
}

void WordPieceModel::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  // Character boundaries: pieces never split a character (an invalid byte counts as one).
  std::vector<size_t> bounds;
  for (size_t i = 0; i < word.size();) {
    bounds.push_back(i);
    size_t n = utf8_valid_char_length(word, i);
    i += n ? n : 1;
  }
  bounds.push_back(word.size());
  if (bounds.size() - 1 > max_chars_) {
    if (unk_id_ >= 0) out.push_back(unk_id_);
    return;
  }
  size_t start_out = out.size();
  std::string candidate;
  size_t start = 0;  // index into bounds
  while (start + 1 < bounds.size()) {
    int32_t found = -1;
    size_t end = bounds.size() - 1;
    for (; end > start; --end) {
      candidate = start == 0 ? start_prefix_ : continuation_prefix_;
      candidate.append(word.substr(bounds[start], bounds[end] - bounds[start]));
      found = piece_to_id_.find(candidate);
      if (found >= 0) break;
    }
    if (found < 0) {
      out.resize(start_out);
      if (unk_id_ >= 0) out.push_back(unk_id_);
      return;
    }
    out.push_back(found);
    start = end;
  }
}

}  // namespace tessera::tokenizer
