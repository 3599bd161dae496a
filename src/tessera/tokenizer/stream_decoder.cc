#include "tessera/tokenizer/stream_decoder.h"

#include "tessera/tokenizer/utf8.h"

namespace tessera::tokenizer {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, Options options)
    : tokenizer_(tokenizer),
      options_(options),
      strip_next_space_(options.at_sequence_start && tokenizer.strips_leading_space()) {}

std::string StreamDecoder::push(int32_t id) {
  if (options_.skip_special && tokenizer_.is_special(id)) return {};
  const std::string& piece = tokenizer_.token_to_piece(id);
  if (piece.empty()) return {};
  if (strip_next_space_) {
    // decode() drops one leading space of the whole text; the same byte is dropped here.
    strip_next_space_ = false;
    pending_.append(piece, piece[0] == ' ' ? 1 : 0);
  } else {
    pending_ += piece;
  }
  size_t hold = utf8_incomplete_tail(pending_);
  std::string out = utf8_sanitize(std::string_view(pending_).substr(0, pending_.size() - hold));
  pending_.erase(0, pending_.size() - hold);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out = utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace tessera::tokenizer
