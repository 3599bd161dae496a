// Byte-pair encoding of one pre-tokenized word: start from single bytes (byte-level) or characters
// (SentencePiece), then repeatedly merge the adjacent pair with the best rank, leftmost first, until no pair
// merges. A binary heap over a linked list of symbols makes a word of n symbols cost O(n log n), so even a
// SentencePiece "word" of a whole document is fine. Results for short words are cached per thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/tokenizer/flat_map.h"
#include "tessera/tokenizer/tokenizer_data.h"
#include "tessera/util/status.h"

namespace tessera::tokenizer {

// Immutable after build(): any thread may call encode_word() (the cache is thread-local).
class BpeModel {
 public:
  // `model_pieces`: each id's bytes in the space the model merges in (raw bytes for byte-level models, "▁"
  // text for SentencePiece). The vector must outlive the model and stay unchanged.
  static Expected<BpeModel> build(const TokenizerData& data, const std::vector<std::string>& model_pieces);

  // Appends the ids of `word` to `out`.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  // The id of a piece given in model space, or -1.
  int32_t find_piece(std::string_view piece) const { return piece_to_id_.find(piece); }
  size_t num_merges() const { return merges_.size(); }

 private:
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;

  bool byte_level_ = true;
  bool ignore_merges_ = false;
  bool fuse_unk_ = false;
  int32_t unk_id_ = -1;
  int32_t byte_ids_[256];  // byte-level: the piece of each byte; SentencePiece: its <0xXX> fallback piece
  StringIdMap piece_to_id_;
  PairMap merges_;
  uint64_t instance_id_ = 0;  // tells this model's entries apart in the thread-local cache
};

}  // namespace tessera::tokenizer
