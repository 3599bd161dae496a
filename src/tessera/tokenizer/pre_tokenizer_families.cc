// The byte-level BPE pre-tokenizer families of GGUF files (`tokenizer.ggml.pre`), with the regexes llama.cpp
// runs for each. Hugging Face files carry their regex in tokenizer.json instead (hf_loader.cc).
//
// To add a family: find the name llama.cpp's converter writes for it and the regex list llama.cpp uses, add a
// row below, and add the model's ggml-vocab-*.gguf with its .inp/.out to the assets so the vocab test covers it.
#include <array>

#include "tessera/tokenizer/pre_tokenizer.h"

namespace tessera::tokenizer {
namespace {

// Llama 3: contractions (any case), letters with one leading non-letter, digits in groups of up to three.
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))"
    R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2/Qwen3: Llama 3's shape with single digits.
constexpr const char* kQwen2 = R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))"
                               R"(|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen 3.5: Qwen2's shape, with combining marks kept inside words and out of punctuation runs.
constexpr const char* kQwen35 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]))"
    R"(|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// GPT-2 without the final `\s+` alternative, as llama.cpp writes it; gaps become pieces anyway, so the two
// split identically.
constexpr const char* kGpt2Llama = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";

struct Family {
  std::array<const char*, 8> names;
  std::array<const char*, 4> regexes;
  bool ignore_merges;
};

const Family kFamilies[] = {
    {{"llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral", "dbrx", "smaug-bpe", "chatglm-bpe"}, {kLlama3}, true},
    {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez", "hunyuan"}, {kQwen2}, false},
    {{"qwen35"}, {kQwen35}, false},
    {{"gpt-2", "phi-2", "jina-es", "jina-de", "mpt", "olmo", "jais", "trillion"}, {kGpt2Llama}, false},
    // Digits one by one, then GPT-2's split.
    {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
     {R"(\p{N})", kGpt2Llama},
     false},
    {{"falcon"},
     {R"([\p{P}\$\+<=>\^~\|`]+)", R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))",
      R"([0-9][0-9][0-9])"},
     false},
    // What llama.cpp does for a byte-level vocabulary that names no family (older conversions, GPT-NeoX).
    {{"default"}, {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2Llama, R"(\p{N}+)", R"([0-9][0-9][0-9])"}, false},
};

}  // namespace

Expected<PreTokenizerFamily> pre_tokenizer_for_family(std::string_view name) {
  if (name.empty()) name = "default";
  for (const Family& f : kFamilies) {
    for (const char* n : f.names) {
      if (!n || name != n) continue;
      PreTokenizerFamily out;
      out.ignore_merges = f.ignore_merges;
      for (const char* re : f.regexes)
        if (re) TESSERA_RETURN_IF_ERROR(out.pre.add_regex(re, SplitBehavior::kIsolated));
      return out;
    }
  }
  return unimplemented("unknown pre-tokenizer family '" + std::string(name) +
                       "' (tokenizer.ggml.pre); see tokenizer/pre_tokenizer_families.cc");
}

}  // namespace tessera::tokenizer
