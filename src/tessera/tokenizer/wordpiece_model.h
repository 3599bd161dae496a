// BERT's WordPiece: each pre-tokenized word is cut greedily into the longest pieces the vocabulary has, the
// first piece as a word start and the rest as continuations ("##ing" in Hugging Face files; llama.cpp's GGUF
// conversion writes word starts with a leading "▁" and continuations bare). A word with an uncovered part, or
// longer than the limit, becomes the unknown token.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tokenizer/flat_map.h"
#include "tessera/tokenizer/tokenizer_data.h"

namespace tessera::tokenizer {

// Immutable after build(): any thread may call encode_word().
class WordPieceModel {
 public:
  // `model_pieces` must outlive the model. `start_prefix`/`continuation_prefix` say how pieces are marked.
  void build(const TokenizerData& data, const std::vector<std::string>& model_pieces, std::string start_prefix,
             std::string continuation_prefix);
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  StringIdMap piece_to_id_;
  std::string start_prefix_;
  std::string continuation_prefix_;
  int32_t unk_id_ = -1;
  size_t max_chars_ = 100;
};

}  // namespace tessera::tokenizer
