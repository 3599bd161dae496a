#include "tessera/tokenizer/tokenizer.h"

#include <algorithm>

#include "tessera/tokenizer/bpe_model.h"
#include "tessera/tokenizer/byte_level.h"
#include "tessera/tokenizer/wordpiece_model.h"

namespace tessera::tokenizer {
namespace {

const std::string kEmpty;
constexpr const char* kSpmSpace = "\xE2\x96\x81";  // "▁"

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string_view::npos; pos = hit + from.size()) {
    out.append(s.substr(pos, hit - pos));
    out.append(to);
  }
  out.append(s.substr(pos));
  return out;
}

bool is_text_kind(TokenKind k) { return k == TokenKind::kNormal || k == TokenKind::kUnused; }

// Per-thread scratch for encode(), reused between calls so the hot path does not allocate.
struct EncodeScratch {
  std::vector<AddedTokenMatcher::Piece> parts;
  std::string normalized;
  std::string pre_buf;
  std::vector<Span> pieces;
  std::vector<Span> matches;
};

EncodeScratch& encode_scratch() {
  thread_local EncodeScratch s;
  return s;
}

}  // namespace

Tokenizer::~Tokenizer() = default;

Expected<std::shared_ptr<const Tokenizer>> Tokenizer::create(TokenizerData data) {
  const size_t n = data.pieces.size();
  if (n == 0) return invalid_argument("the vocabulary is empty");
  if (data.kinds.size() != n) data.kinds.resize(n, TokenKind::kNormal);
  if (!data.scores.empty() && data.scores.size() != n) return invalid_argument("scores and tokens differ in count");
  auto check_id = [n](std::optional<int32_t>& id) {
    if (id && (*id < 0 || static_cast<size_t>(*id) >= n)) id.reset();
  };
  check_id(data.bos_id);
  check_id(data.eos_id);
  check_id(data.eot_id);
  check_id(data.pad_id);
  check_id(data.unk_id);
  for (int32_t id : data.prefix_ids)
    if (id < 0 || static_cast<size_t>(id) >= n) return invalid_argument("a BOS/EOS id is outside the vocabulary");
  for (int32_t id : data.suffix_ids)
    if (id < 0 || static_cast<size_t>(id) >= n) return invalid_argument("a BOS/EOS id is outside the vocabulary");

  std::shared_ptr<Tokenizer> t(new Tokenizer());
  t->model_pieces_.resize(n);
  t->output_pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& p = data.pieces[i];
    TokenKind k = data.kinds[i];
    switch (data.model) {
      case ModelKind::kByteLevelBpe:
        if (is_text_kind(k) || k == TokenKind::kByte) {
          auto raw = byte_level_decode(p);
          t->model_pieces_[i] = raw ? *raw : p;
        } else {
          t->model_pieces_[i] = p;
        }
        t->output_pieces_[i] = t->model_pieces_[i];
        break;
      case ModelKind::kSentencePieceBpe:
        t->model_pieces_[i] = p;
        if (k == TokenKind::kByte && p.size() == 6 && p.compare(0, 3, "<0x") == 0) {
          t->output_pieces_[i] = std::string(1, static_cast<char>(std::stoi(p.substr(3, 2), nullptr, 16)));
        } else if (is_text_kind(k)) {
          t->output_pieces_[i] = replace_all(p, kSpmSpace, " ");
        } else {
          t->output_pieces_[i] = p;
        }
        break;
      case ModelKind::kWordPiece:
        t->model_pieces_[i] = p;
        t->output_pieces_[i] = p;
        break;
    }
  }
  if (data.model == ModelKind::kWordPiece) {
    t->wordpiece_ = std::make_unique<WordPieceModel>();
    // A GGUF conversion marks word starts with "▁"; a Hugging Face file marks continuations with "##".
    bool gguf_style = false;
    for (size_t i = 0; i < n && !gguf_style; ++i)
      gguf_style = data.pieces[i].rfind(kSpmSpace, 0) == 0 && is_text_kind(data.kinds[i]);
    if (gguf_style) {
      t->wordpiece_->build(data, t->model_pieces_, kSpmSpace, "");
      for (size_t i = 0; i < n; ++i)
        if (is_text_kind(data.kinds[i]) && data.pieces[i].rfind(kSpmSpace, 0) == 0)
          t->output_pieces_[i] = " " + data.pieces[i].substr(3);
    } else {
      t->wordpiece_->build(data, t->model_pieces_, "", data.wordpiece_prefix);
    }
  } else {
    TESSERA_ASSIGN_OR_RETURN(BpeModel bpe, BpeModel::build(data, t->model_pieces_));
    t->bpe_ = std::make_unique<BpeModel>(std::move(bpe));
  }
  t->added_.build(data.added);
  t->text_to_id_.reserve(n);
  for (size_t i = 0; i < n; ++i) t->text_to_id_.emplace(data.pieces[i], static_cast<int32_t>(i));

  // End-of-generation ids: EOS, EOT, and the end markers llama.cpp also stops at when the vocabulary has them.
  auto add_eog = [&t](int32_t id) {
    if (std::find(t->eog_ids_.begin(), t->eog_ids_.end(), id) == t->eog_ids_.end()) t->eog_ids_.push_back(id);
  };
  static const char* const kEotTexts[] = {"<|eot_id|>",      "<|im_end|>", "<|end|>",   "<end_of_turn>",
                                          "<|end_of_turn|>", "<EOT>",      "<|eom_id|>"};
  for (const char* s : kEotTexts) {
    auto it = t->text_to_id_.find(s);
    if (it == t->text_to_id_.end() || data.kinds[it->second] != TokenKind::kControl) continue;
    if (!data.eot_id && std::string_view(s) != "<|eom_id|>") data.eot_id = it->second;
    add_eog(it->second);
  }
  if (data.eos_id) add_eog(*data.eos_id);
  if (data.eot_id) add_eog(*data.eot_id);
  std::sort(t->eog_ids_.begin(), t->eog_ids_.end());
  if (data.bos_token.empty() && data.bos_id) data.bos_token = data.pieces[*data.bos_id];
  if (data.eos_token.empty() && data.eos_id) data.eos_token = data.pieces[*data.eos_id];
  t->data_ = std::move(data);
  return std::shared_ptr<const Tokenizer>(std::move(t));
}

void Tokenizer::encode_segment(std::string_view text, bool first, std::vector<int32_t>& out) const {
  EncodeScratch& s = encode_scratch();
  if (!data_.normalizer.empty()) {
    data_.normalizer.apply(text, s.normalized);
    text = s.normalized;
  }
  auto encode_word = [this, &out](std::string_view word) {
    if (bpe_) {
      bpe_->encode_word(word, out);
    } else {
      wordpiece_->encode_word(word, out);
    }
  };
  if (data_.pre_tokenizer.empty()) {
    encode_word(text);
    return;
  }
  data_.pre_tokenizer.run(text, first, s.pre_buf, s.pieces, s.matches);
  std::string_view buf = s.pre_buf;
  for (const Span& p : s.pieces) encode_word(buf.substr(p.begin, p.end - p.begin));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special) out = data_.prefix_ids;
  if (added_.empty()) {
    if (!text.empty()) encode_segment(text, true, out);
  } else {
    // encode_segment() reuses the scratch, so the parts are copied out first.
    std::vector<AddedTokenMatcher::Piece> parts;
    added_.split(text, parse_special, parts);
    for (const auto& p : parts) {
      if (p.id >= 0) {
        out.push_back(p.id);
      } else {
        encode_segment(text.substr(p.begin, p.end - p.begin), p.begin == 0, out);
      }
    }
  }
  if (add_special) out.insert(out.end(), data_.suffix_ids.begin(), data_.suffix_ids.end());
  return out;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  bool word_piece = data_.model == ModelKind::kWordPiece;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= output_pieces_.size()) continue;
    if (skip_special && is_special(id)) continue;
    const std::string& p = output_pieces_[id];
    if (word_piece && is_text_kind(data_.kinds[id]) && !data_.wordpiece_prefix.empty() &&
        data_.pieces[id].rfind(data_.wordpiece_prefix, 0) == 0) {
      out.append(p, data_.wordpiece_prefix.size());  // a continuation joins the previous piece
    } else if (word_piece && !p.empty() && p[0] != ' ' && !out.empty()) {
      out += ' ';
      out += p;
    } else {
      out += p;
    }
  }
  if ((data_.decode_strip_leading_space || word_piece) && !out.empty() && out[0] == ' ') out.erase(0, 1);
  return out;
}

const std::string& Tokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= output_pieces_.size()) return kEmpty;
  return output_pieces_[id];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= data_.pieces.size()) return kEmpty;
  return data_.pieces[id];
}

std::optional<int32_t> Tokenizer::token_id(std::string_view token_text) const {
  auto it = text_to_id_.find(std::string(token_text));
  if (it == text_to_id_.end()) return std::nullopt;
  return it->second;
}

bool Tokenizer::is_special(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= data_.kinds.size()) return false;
  return data_.kinds[id] == TokenKind::kControl;
}

bool Tokenizer::is_byte_piece(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= data_.kinds.size()) return false;
  return data_.kinds[id] == TokenKind::kByte;
}

}  // namespace tessera::tokenizer
