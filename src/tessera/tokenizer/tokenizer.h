// Tokenizer: text <-> token ids for one model, loaded from a Hugging Face tokenizer.json (with the
// tokenizer_config.json beside it), from a GGUF file's tokenizer.ggml.* metadata (vocabulary-only files too),
// or from a model directory holding either.
//
// Threading: a Tokenizer is immutable after load; every const method may be called from any number of threads
// at once (scratch space and the word cache are thread-local). Share one per model.
//
// Encoding pipeline (each stage is its own file):
//   added_tokens (special tokens only with parse_special) -> normalizer -> pre_tokenizer -> bpe_model/wordpiece
//   -> BOS/EOS from the file when add_special.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tessera/tokenizer/tokenizer_data.h"
#include "tessera/util/status.h"

namespace tessera::format {
class GgufFile;
}

namespace tessera::tokenizer {

class BpeModel;
class WordPieceModel;

class Tokenizer {
 public:
  // A tokenizer.json, a GGUF file, or a directory with tokenizer.json (else a single *.gguf). Errors name the
  // file: NotFound, InvalidArgument / DataLoss for a malformed file, Unimplemented for a model type or
  // pre-tokenizer we do not support.
  static Expected<std::shared_ptr<const Tokenizer>> load(const std::string& path);
  // `config_json_path` may be empty or missing (then no chat template and no config-level BOS/EOS).
  static Expected<std::shared_ptr<const Tokenizer>> from_hf_json(const std::string& tokenizer_json_path,
                                                                 const std::string& config_json_path);
  static Expected<std::shared_ptr<const Tokenizer>> from_gguf(const format::GgufFile& gguf);
  static Expected<std::shared_ptr<const Tokenizer>> create(TokenizerData data);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids for `text` (any bytes: invalid UTF-8 is encoded through the byte-level alphabet or byte fallback
  // pieces, so nothing is lost and nothing fails). add_special: BOS/EOS as the file specifies. parse_special:
  // special tokens written in the text ("<|im_start|>") become their ids; otherwise they are encoded as text.
  // Non-special added tokens are always recognized, as Hugging Face does.
  std::vector<int32_t> encode(std::string_view text, bool add_special = false, bool parse_special = false) const;

  // The bytes of `ids` joined, as the file's decoder would give them (SentencePiece's dummy leading space
  // removed). skip_special drops control tokens. Bytes are returned as they are, so the result can be invalid
  // UTF-8 when `ids` ends inside a character; StreamDecoder is the safe way to show text as it arrives.
  // Out-of-range ids are skipped.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // The bytes one token stands for ("▁" already turned into a space, byte pieces into their byte); empty for
  // an out-of-range id.
  const std::string& token_to_piece(int32_t id) const;
  // The token as the vocabulary writes it ("Ġhello", "▁hello", "<0x0A>", "<|im_end|>").
  const std::string& token_text(int32_t id) const;
  std::optional<int32_t> token_id(std::string_view token_text) const;

  size_t vocab_size() const { return data_.pieces.size(); }
  ModelKind model_kind() const { return data_.model; }
  std::optional<int32_t> bos_id() const { return data_.bos_id; }
  std::optional<int32_t> eos_id() const { return data_.eos_id; }
  // End of turn (<|eot_id|>, <|im_end|>, <end_of_turn>, ...) when the file or the vocabulary has one.
  std::optional<int32_t> eot_id() const { return data_.eot_id; }
  // Every id that ends generation: EOS, EOT and the other end markers the vocabulary has.
  const std::vector<int32_t>& end_of_generation_ids() const { return eog_ids_; }
  bool is_special(int32_t id) const;
  bool is_byte_piece(int32_t id) const;
  // Whether decode() drops the first leading space (SentencePiece's dummy prefix); StreamDecoder follows it.
  bool strips_leading_space() const { return data_.decode_strip_leading_space; }
  bool adds_bos() const { return !data_.prefix_ids.empty(); }

  // For chat templates: the template text ("" when none) and the BOS/EOS token texts.
  const std::string& chat_template() const { return data_.chat_template; }
  const std::string& bos_token() const { return data_.bos_token; }
  const std::string& eos_token() const { return data_.eos_token; }

 private:
  Tokenizer() = default;
  void encode_segment(std::string_view text, bool first, std::vector<int32_t>& out) const;

  TokenizerData data_;
  std::vector<std::string> model_pieces_;   // by id, in the space the model matches in
  std::vector<std::string> output_pieces_;  // by id, the bytes decode() emits
  std::unique_ptr<BpeModel> bpe_;
  std::unique_ptr<WordPieceModel> wordpiece_;
  AddedTokenMatcher added_;
  std::vector<int32_t> eog_ids_;
  std::unordered_map<std::string, int32_t> text_to_id_;  // every token's file text, for token_id()
};

}  // namespace tessera::tokenizer
