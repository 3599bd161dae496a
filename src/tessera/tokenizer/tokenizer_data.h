// What a loader reads from a file, before Tokenizer::create() builds the lookup structures from it. Loaders
// (hf_loader.cc, gguf_loader.cc) fill it; tests build small ones by hand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tokenizer/added_tokens.h"
#include "tessera/tokenizer/normalizer.h"
#include "tessera/tokenizer/pre_tokenizer.h"

namespace tessera::tokenizer {

// GGUF's token types (tokenizer.ggml.token_type); Hugging Face files map onto the same set.
enum class TokenKind : uint8_t {
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,      // special: BOS, EOS, chat markers; matched in text only with parse_special
  kUserDefined = 4,  // added tokens that are always matched in text
  kUnused = 5,
  kByte = 6,  // SentencePiece byte fallback pieces, "<0x0A>"
};

enum class ModelKind {
  kByteLevelBpe,      // GPT-2 style: pieces are bytes written in GPT-2's alphabet; merges by rank
  kSentencePieceBpe,  // pieces are text with "▁" for space; byte fallback; merges by rank or by score
  kWordPiece,         // BERT: greedy longest match with "##" continuation pieces
};

struct TokenizerData {
  ModelKind model = ModelKind::kByteLevelBpe;
  std::vector<std::string> pieces;  // by id, as the file writes them
  std::vector<float> scores;        // by id; empty when the file has none
  std::vector<TokenKind> kinds;     // by id
  // Merge rules in priority order, each a pair of pieces as the file writes them. When empty, a
  // SentencePiece model merges by score: a pair may merge when the joined piece exists, higher score first.
  std::vector<std::pair<std::string, std::string>> merges;
  bool ignore_merges = false;  // a word that is a piece is taken whole (Llama 3)
  bool byte_fallback = false;
  bool fuse_unk = false;
  std::optional<int32_t> unk_id;
  std::string wordpiece_prefix = "##";
  size_t wordpiece_max_chars = 100;

  std::vector<AddedToken> added;  // matched in text before normalization
  Normalizer normalizer;
  PreTokenizer pre_tokenizer;

  // add_special: ids put before and after the text (the file's post-processor, or add_bos/add_eos).
  std::vector<int32_t> prefix_ids;
  std::vector<int32_t> suffix_ids;
  // decode: drop one leading space of the text (SentencePiece's dummy prefix).
  bool decode_strip_leading_space = false;

  std::optional<int32_t> bos_id, eos_id, eot_id, pad_id;
  std::string chat_template;
  std::string bos_token, eos_token;  // text, as chat templates see them
};

}  // namespace tessera::tokenizer
