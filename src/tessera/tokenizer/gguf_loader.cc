// Tokenizer::from_gguf: the tokenizer.ggml.* metadata that llama.cpp's converter writes. Vocabulary-only GGUF
// files (no tensors) load the same way.
#include <cstdint>
#include <string>

#include "tessera/format/gguf/gguf_file.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer {
namespace {

constexpr const char* kSpmSpace = "\xE2\x96\x81";  // "▁"

std::optional<int32_t> get_id(const format::GgufFile& g, std::string_view key) {
  auto v = g.get_int(key);
  if (!v || *v < 0 || *v > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(*v);
}

std::optional<bool> get_bool(const format::GgufFile& g, std::string_view key) {
  const format::GgufValue* v = g.find_metadata(key);
  if (!v) return std::nullopt;
  return v->as_bool();
}

Status read_vocab(const format::GgufFile& g, TokenizerData& d) {
  const format::GgufValue* tokens = g.find_metadata("tokenizer.ggml.tokens");
  if (!tokens || tokens->type() != format::GgufType::kArray || tokens->array_type() != format::GgufType::kString)
    return invalid_argument(g.path() + ": no tokenizer.ggml.tokens string array");
  const uint64_t n = tokens->array_size();
  if (n == 0 || n > (1u << 30)) return invalid_argument(g.path() + ": bad vocabulary size");
  d.pieces.resize(n);
  for (uint64_t i = 0; i < n; ++i) {
    auto s = tokens->string_at(i);
    if (!s) return data_loss(g.path() + ": unreadable token " + std::to_string(i));
    d.pieces[i] = std::string(*s);
  }
  d.kinds.assign(n, TokenKind::kNormal);
  if (const format::GgufValue* types = g.find_metadata("tokenizer.ggml.token_type");
      types && types->type() == format::GgufType::kArray && types->array_size() == n) {
    for (uint64_t i = 0; i < n; ++i) {
      auto t = types->int_at(i);
      if (t && *t >= 1 && *t <= 6) d.kinds[i] = static_cast<TokenKind>(*t);
    }
  }
  if (const format::GgufValue* scores = g.find_metadata("tokenizer.ggml.scores");
      scores && scores->type() == format::GgufType::kArray && scores->array_size() == n) {
    d.scores.resize(n);
    for (uint64_t i = 0; i < n; ++i) d.scores[i] = static_cast<float>(scores->float_at(i).value_or(0.0));
  }
  if (const format::GgufValue* merges = g.find_metadata("tokenizer.ggml.merges");
      merges && merges->type() == format::GgufType::kArray && merges->array_type() == format::GgufType::kString) {
    d.merges.reserve(merges->array_size());
    for (uint64_t i = 0; i < merges->array_size(); ++i) {
      auto m = merges->string_at(i);
      if (!m) return data_loss(g.path() + ": unreadable merge " + std::to_string(i));
      // Pieces in a merge never hold a plain space (spaces are written "Ġ" or "▁"), so the first one splits.
      size_t sp = m->find(' ', 1);
      if (sp == std::string_view::npos) continue;
      d.merges.emplace_back(std::string(m->substr(0, sp)), std::string(m->substr(sp + 1)));
    }
  }
  // Control and user-defined tokens are found in text before splitting; control (and unknown) ones only when
  // the caller parses special tokens, as llama.cpp does.
  for (uint64_t i = 0; i < n; ++i) {
    TokenKind k = d.kinds[i];
    if (k != TokenKind::kControl && k != TokenKind::kUserDefined && k != TokenKind::kUnknown) continue;
    AddedToken t;
    t.id = static_cast<int32_t>(i);
    t.content = d.pieces[i];
    t.special = k != TokenKind::kUserDefined;
    d.added.push_back(std::move(t));
  }
  return Status();
}

}  // namespace

Expected<std::shared_ptr<const Tokenizer>> Tokenizer::from_gguf(const format::GgufFile& g) {
  TokenizerData d;
  auto model = g.get_string("tokenizer.ggml.model");
  if (!model) return invalid_argument(g.path() + ": no tokenizer.ggml.model");
  TESSERA_RETURN_IF_ERROR(read_vocab(g, d));
  std::string pre(g.get_string("tokenizer.ggml.pre").value_or(""));
  d.bos_id = get_id(g, "tokenizer.ggml.bos_token_id");
  d.eos_id = get_id(g, "tokenizer.ggml.eos_token_id");
  d.eot_id = get_id(g, "tokenizer.ggml.eot_token_id");
  d.pad_id = get_id(g, "tokenizer.ggml.padding_token_id");
  d.unk_id = get_id(g, "tokenizer.ggml.unknown_token_id");
  bool add_bos = false;
  bool add_eos = false;

  if (*model == "gpt2") {
    d.model = ModelKind::kByteLevelBpe;
    TESSERA_ASSIGN_OR_RETURN(PreTokenizerFamily family, pre_tokenizer_for_family(pre));
    d.pre_tokenizer = std::move(family.pre);
    d.ignore_merges = family.ignore_merges;
    d.unk_id.reset();                // byte-level vocabularies cover every byte; llama.cpp never emits UNK for them
    add_bos = family.ignore_merges;  // Llama 3's family starts with BOS; llama.cpp's default for the others is off
  } else if (*model == "llama") {
    d.model = ModelKind::kSentencePieceBpe;
    d.byte_fallback = true;
    d.fuse_unk = true;
    if (!d.unk_id) d.unk_id = 0;
    bool space_prefix = get_bool(g, "tokenizer.ggml.add_space_prefix").value_or(true);
    // SentencePiece's dummy prefix and its space symbol, written as Hugging Face's equivalent normalizer.
    if (space_prefix) d.normalizer.add_prepend(kSpmSpace);
    TESSERA_RETURN_IF_ERROR(d.normalizer.add_replace(" ", kSpmSpace, true));
    d.decode_strip_leading_space = space_prefix;
    add_bos = true;
  } else if (*model == "bert") {
    d.model = ModelKind::kWordPiece;
    // BertNormalizer with lowercase (and so accent stripping) and BertPreTokenizer, as bert-base-uncased has.
    d.normalizer.add(Normalizer::Kind::kBertClean);
    d.normalizer.add(Normalizer::Kind::kBertChinese);
    d.normalizer.add(Normalizer::Kind::kNfd);
    d.normalizer.add(Normalizer::Kind::kStripAccents);
    d.normalizer.add(Normalizer::Kind::kLowercase);
    TESSERA_RETURN_IF_ERROR(d.pre_tokenizer.add_regex(R"(\s+)", SplitBehavior::kRemoved));
    TESSERA_RETURN_IF_ERROR(
        d.pre_tokenizer.add_regex(R"([\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E])", SplitBehavior::kIsolated));
    auto cls = get_id(g, "tokenizer.ggml.cls_token_id");
    auto sep = get_id(g, "tokenizer.ggml.seperator_token_id");
    if (!d.bos_id) d.bos_id = cls;
    if (!d.eos_id) d.eos_id = sep;
    add_bos = add_eos = true;
  } else {
    return unimplemented(g.path() + ": tokenizer model '" + std::string(*model) +
                         "' is not supported (gpt2, llama and bert are)");
  }
  add_bos = get_bool(g, "tokenizer.ggml.add_bos_token").value_or(add_bos);
  add_eos = get_bool(g, "tokenizer.ggml.add_eos_token").value_or(add_eos);
  if (add_bos && d.bos_id) d.prefix_ids.push_back(*d.bos_id);
  if (add_eos && d.eos_id) d.suffix_ids.push_back(*d.eos_id);
  d.chat_template = std::string(g.get_string("tokenizer.chat_template").value_or(""));
  auto result = create(std::move(d));
  if (!result.ok()) return result.status().with_context(g.path());
  return result;
}

}  // namespace tessera::tokenizer
