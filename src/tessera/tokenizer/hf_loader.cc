// Tokenizer::from_hf_json: a Hugging Face tokenizer.json (model, normalizer, pre_tokenizer, post_processor,
// decoder, added_tokens) and the tokenizer_config.json beside it (chat template, BOS/EOS texts). Each JSON
// component type maps onto one of our stages; a type we do not implement is an Unimplemented error naming it,
// never a silent approximation.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer {
namespace {

using nlohmann::json;

Expected<json> read_json(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return not_found("cannot open " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_argument(path + ": not valid JSON");
  return j;
}

std::string str(const json& j, const char* key, std::string fallback = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

bool flag(const json& j, const char* key, bool fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

// {"String": "x"} or {"Regex": "x"}: the pattern and whether it is literal.
Expected<std::pair<std::string, bool>> pattern_of(const json& j) {
  auto it = j.find("pattern");
  if (it == j.end() || !it->is_object()) return invalid_argument("a pattern is missing");
  if (it->contains("String") && (*it)["String"].is_string())
    return std::make_pair((*it)["String"].get<std::string>(), true);
  if (it->contains("Regex") && (*it)["Regex"].is_string())
    return std::make_pair((*it)["Regex"].get<std::string>(), false);
  return invalid_argument("a pattern is neither String nor Regex");
}

Status add_normalizer(const json& j, Normalizer& n) {
  if (j.is_null()) return Status();
  std::string type = str(j, "type");
  if (type == "Sequence") {
    for (const json& s : j.value("normalizers", json::array())) TESSERA_RETURN_IF_ERROR(add_normalizer(s, n));
  } else if (type == "NFC") {
    n.add(Normalizer::Kind::kNfc);
  } else if (type == "NFD") {
    n.add(Normalizer::Kind::kNfd);
  } else if (type == "NFKC") {
    n.add(Normalizer::Kind::kNfkc);
  } else if (type == "NFKD") {
    n.add(Normalizer::Kind::kNfkd);
  } else if (type == "Lowercase") {
    n.add(Normalizer::Kind::kLowercase);
  } else if (type == "StripAccents") {
    n.add(Normalizer::Kind::kStripAccents);
  } else if (type == "Strip") {
    n.add_strip(flag(j, "strip_left", true), flag(j, "strip_right", true));
  } else if (type == "Prepend") {
    n.add_prepend(str(j, "prepend"));
  } else if (type == "Replace") {
    TESSERA_ASSIGN_OR_RETURN(auto p, pattern_of(j));
    TESSERA_RETURN_IF_ERROR(n.add_replace(p.first, str(j, "content"), p.second));
  } else if (type == "BertNormalizer") {
    bool lowercase = flag(j, "lowercase", true);
    if (flag(j, "clean_text", true)) n.add(Normalizer::Kind::kBertClean);
    if (flag(j, "handle_chinese_chars", true)) n.add(Normalizer::Kind::kBertChinese);
    if (flag(j, "strip_accents", lowercase)) {  // null follows lowercase, as in Hugging Face
      n.add(Normalizer::Kind::kNfd);
      n.add(Normalizer::Kind::kStripAccents);
    }
    if (lowercase) n.add(Normalizer::Kind::kLowercase);
  } else {
    return unimplemented("normalizer type '" + type + "'");
  }
  return Status();
}

Expected<SplitBehavior> behavior_of(const json& j) {
  std::string b = str(j, "behavior", "Isolated");
  if (b == "Isolated") return SplitBehavior::kIsolated;
  if (b == "Removed") return SplitBehavior::kRemoved;
  if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  return unimplemented("split behavior '" + b + "'");
}

// Adds `j` to `pre`; sets `byte_level` when a ByteLevel step is present.
Status add_pre_tokenizer(const json& j, PreTokenizer& pre, bool& byte_level) {
  if (j.is_null()) return Status();
  std::string type = str(j, "type");
  if (type == "Sequence") {
    for (const json& s : j.value("pretokenizers", json::array()))
      TESSERA_RETURN_IF_ERROR(add_pre_tokenizer(s, pre, byte_level));
  } else if (type == "Split") {
    TESSERA_ASSIGN_OR_RETURN(auto p, pattern_of(j));
    TESSERA_ASSIGN_OR_RETURN(SplitBehavior b, behavior_of(j));
    TESSERA_RETURN_IF_ERROR(pre.add_regex(p.first, b, flag(j, "invert", false), p.second));
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (flag(j, "add_prefix_space", false)) {
      if (!pre.empty()) return unimplemented("ByteLevel add_prefix_space after another pre-tokenizer");
      pre.set_prefix_space();
    }
    if (flag(j, "use_regex", true)) TESSERA_RETURN_IF_ERROR(pre.add_regex(kGpt2Pattern, SplitBehavior::kIsolated));
  } else if (type == "Metaspace") {
    PrependScheme scheme = flag(j, "add_prefix_space", true) ? PrependScheme::kAlways : PrependScheme::kNever;
    std::string s = str(j, "prepend_scheme");
    if (s == "first") scheme = PrependScheme::kFirst;
    if (s == "never") scheme = PrependScheme::kNever;
    if (s == "always") scheme = PrependScheme::kAlways;
    TESSERA_RETURN_IF_ERROR(pre.set_metaspace(str(j, "replacement", "\xE2\x96\x81"), scheme, flag(j, "split", true)));
  } else if (type == "Digits") {
    TESSERA_RETURN_IF_ERROR(
        pre.add_regex(flag(j, "individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)", SplitBehavior::kIsolated));
  } else if (type == "Whitespace") {
    TESSERA_RETURN_IF_ERROR(pre.add_regex(R"(\w+|[^\w\s]+)", SplitBehavior::kRemoved, true));
  } else if (type == "WhitespaceSplit") {
    TESSERA_RETURN_IF_ERROR(pre.add_regex(R"(\s+)", SplitBehavior::kRemoved));
  } else if (type == "Punctuation") {
    TESSERA_ASSIGN_OR_RETURN(SplitBehavior b, behavior_of(j));
    TESSERA_RETURN_IF_ERROR(pre.add_regex(R"([\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E])", b));
  } else if (type == "BertPreTokenizer") {
    TESSERA_RETURN_IF_ERROR(pre.add_regex(R"(\s+)", SplitBehavior::kRemoved));
    TESSERA_RETURN_IF_ERROR(pre.add_regex(R"([\p{P}\x21-\x2F\x3A-\x40\x5B-\x60\x7B-\x7E])", SplitBehavior::kIsolated));
  } else {
    return unimplemented("pre-tokenizer type '" + type + "'");
  }
  return Status();
}

// Collects the ids the post-processor puts around a single sequence.
Status add_post_processor(const json& j, TokenizerData& d) {
  if (j.is_null()) return Status();
  std::string type = str(j, "type");
  if (type == "Sequence") {
    for (const json& s : j.value("processors", json::array())) TESSERA_RETURN_IF_ERROR(add_post_processor(s, d));
  } else if (type == "ByteLevel") {
    // Offsets only; ids are unchanged.
  } else if (type == "TemplateProcessing") {
    const json specials = j.value("special_tokens", json::object());
    bool after = false;
    for (const json& item : j.value("single", json::array())) {
      if (item.contains("Sequence")) {
        after = true;
        continue;
      }
      if (!item.contains("SpecialToken")) continue;
      std::string name = str(item["SpecialToken"], "id");
      auto it = specials.find(name);
      if (it == specials.end()) return invalid_argument("post_processor names unknown special token " + name);
      for (const json& id : it->value("ids", json::array()))
        (after ? d.suffix_ids : d.prefix_ids).push_back(id.get<int32_t>());
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    const json& cls = j["cls"];
    const json& sep = j["sep"];
    if (cls.is_array() && cls.size() == 2) d.prefix_ids.push_back(cls[1].get<int32_t>());
    if (sep.is_array() && sep.size() == 2) d.suffix_ids.push_back(sep[1].get<int32_t>());
  } else {
    return unimplemented("post_processor type '" + type + "'");
  }
  return Status();
}

// What the decoder says about leading spaces and byte-level text.
void scan_decoder(const json& j, TokenizerData& d, bool& byte_level) {
  if (!j.is_object()) return;
  std::string type = str(j, "type");
  if (type == "Sequence") {
    for (const json& s : j.value("decoders", json::array())) scan_decoder(s, d, byte_level);
  } else if (type == "ByteLevel") {
    byte_level = true;
  } else if (type == "Strip") {
    if (str(j, "content") == " " && j.value("start", 0) >= 1) d.decode_strip_leading_space = true;
  } else if (type == "Metaspace") {
    std::string s = str(j, "prepend_scheme", flag(j, "add_prefix_space", true) ? "always" : "never");
    if (s != "never") d.decode_strip_leading_space = true;
  } else if (type == "WordPiece") {
    d.wordpiece_prefix = str(j, "prefix", "##");
  }
}

std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object()) return str(j, "content");
  return "";
}

Status read_model(const json& model, TokenizerData& d) {
  std::string type = str(model, "type");
  if (type == "WordPiece") {
    d.model = ModelKind::kWordPiece;
    d.wordpiece_prefix = str(model, "continuing_subword_prefix", "##");
    d.wordpiece_max_chars = model.value("max_input_chars_per_word", 100);
  } else if (type != "BPE") {
    return unimplemented("tokenizer model type '" + type + "' (BPE and WordPiece are supported)");
  }
  if (!str(model, "continuing_subword_prefix").empty() && type == "BPE")
    return unimplemented("BPE continuing_subword_prefix");
  if (!str(model, "end_of_word_suffix").empty()) return unimplemented("BPE end_of_word_suffix");
  const json& vocab = model["vocab"];
  if (!vocab.is_object()) return invalid_argument("model.vocab is not an object");
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    if (!it.value().is_number_integer()) return invalid_argument("a vocabulary id is not an integer");
    int64_t id = it.value().get<int64_t>();
    if (id < 0 || id > (1 << 24)) return invalid_argument("vocabulary id out of range");
    if (static_cast<size_t>(id) >= d.pieces.size()) {
      d.pieces.resize(id + 1);
      d.kinds.resize(id + 1, TokenKind::kUnused);
    }
    d.pieces[id] = it.key();
    d.kinds[id] = TokenKind::kNormal;
  }
  for (const json& m : model.value("merges", json::array())) {
    if (m.is_string()) {
      const std::string& s = m.get_ref<const std::string&>();
      size_t sp = s.find(' ', 1);
      if (sp == std::string::npos) return invalid_argument("a merge is not two pieces: " + s);
      d.merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      d.merges.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
    } else {
      return invalid_argument("a merge is neither \"a b\" nor [\"a\", \"b\"]");
    }
  }
  d.ignore_merges = flag(model, "ignore_merges", false);
  d.byte_fallback = flag(model, "byte_fallback", false);
  d.fuse_unk = flag(model, "fuse_unk", false);
  std::string unk = str(model, "unk_token");
  if (!unk.empty() && vocab.contains(unk)) {
    d.unk_id = vocab[unk].get<int32_t>();
    d.kinds[*d.unk_id] = TokenKind::kUnknown;
  }
  if (d.byte_fallback) {
    for (size_t i = 0; i < d.pieces.size(); ++i) {
      const std::string& p = d.pieces[i];
      if (p.size() == 6 && p.compare(0, 3, "<0x") == 0 && p[5] == '>') d.kinds[i] = TokenKind::kByte;
    }
  }
  return Status();
}

Status read_tokenizer_json(const json& j, TokenizerData& d) {
  if (!j.is_object() || !j.contains("model")) return invalid_argument("no model");
  TESSERA_RETURN_IF_ERROR(read_model(j["model"], d));
  for (const json& a : j.value("added_tokens", json::array())) {
    AddedToken t;
    t.id = a.value("id", -1);
    t.content = str(a, "content");
    t.special = flag(a, "special", false);
    t.lstrip = flag(a, "lstrip", false);
    t.rstrip = flag(a, "rstrip", false);
    t.single_word = flag(a, "single_word", false);
    if (t.id < 0 || t.id > (1 << 24) || t.content.empty()) return invalid_argument("a bad added token");
    if (static_cast<size_t>(t.id) >= d.pieces.size()) {
      d.pieces.resize(t.id + 1);
      d.kinds.resize(t.id + 1, TokenKind::kUnused);
    }
    d.pieces[t.id] = t.content;
    d.kinds[t.id] = t.special ? TokenKind::kControl : TokenKind::kUserDefined;
    d.added.push_back(std::move(t));
  }
  TESSERA_RETURN_IF_ERROR(add_normalizer(j.value("normalizer", json()), d.normalizer));
  bool byte_level = false;
  TESSERA_RETURN_IF_ERROR(add_pre_tokenizer(j.value("pre_tokenizer", json()), d.pre_tokenizer, byte_level));
  scan_decoder(j.value("decoder", json()), d, byte_level);
  if (d.model != ModelKind::kWordPiece) d.model = byte_level ? ModelKind::kByteLevelBpe : ModelKind::kSentencePieceBpe;
  TESSERA_RETURN_IF_ERROR(add_post_processor(j.value("post_processor", json()), d));
  return Status();
}

}  // namespace

Expected<std::shared_ptr<const Tokenizer>> Tokenizer::from_hf_json(const std::string& tokenizer_json_path,
                                                                   const std::string& config_json_path) {
  TESSERA_ASSIGN_OR_RETURN(json j, read_json(tokenizer_json_path));
  TokenizerData d;
  Status st = read_tokenizer_json(j, d);
  if (!st.ok()) return st.with_context(tokenizer_json_path);
  j = json();  // the parsed vocabulary is large; free it before building the tables

  json config = json::object();
  if (!config_json_path.empty()) {
    auto c = read_json(config_json_path);
    if (c.ok()) {
      config = std::move(*c);
    } else if (c.status().code() != StatusCode::kNotFound) {
      return c.status();
    }
  }
  auto id_of = [&d](const std::string& text) -> std::optional<int32_t> {
    for (const AddedToken& t : d.added)
      if (t.content == text) return t.id;
    for (size_t i = 0; i < d.pieces.size(); ++i)
      if (d.pieces[i] == text) return static_cast<int32_t>(i);
    return std::nullopt;
  };
  if (config.is_object()) {
    d.bos_token = token_content(config.value("bos_token", json()));
    d.eos_token = token_content(config.value("eos_token", json()));
    if (!d.bos_token.empty()) d.bos_id = id_of(d.bos_token);
    if (!d.eos_token.empty()) d.eos_id = id_of(d.eos_token);
    if (std::string pad = token_content(config.value("pad_token", json())); !pad.empty()) d.pad_id = id_of(pad);
    const json& tmpl = config.value("chat_template", json());
    if (tmpl.is_string()) {
      d.chat_template = tmpl.get<std::string>();
    } else if (tmpl.is_array()) {
      // [{"name": "default", "template": "..."}, {"name": "tool_use", ...}]: the default one.
      for (const json& t : tmpl)
        if (t.is_object() && (str(t, "name") == "default" || d.chat_template.empty()))
          d.chat_template = str(t, "template");
    }
    // Without a post-processor, add_bos_token / add_eos_token say what add_special adds.
    if (d.prefix_ids.empty() && d.suffix_ids.empty()) {
      if (flag(config, "add_bos_token", false) && d.bos_id) d.prefix_ids.push_back(*d.bos_id);
      if (flag(config, "add_eos_token", false) && d.eos_id) d.suffix_ids.push_back(*d.eos_id);
    }
  }
  auto result = create(std::move(d));
  if (!result.ok()) return result.status().with_context(tokenizer_json_path);
  return result;
}

}  // namespace tessera::tokenizer
