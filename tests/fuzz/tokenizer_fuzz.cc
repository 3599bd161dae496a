// libFuzzer target for the tokenizer: arbitrary bytes (invalid UTF-8, NULs, huge runs) through encode, decode,
// the streaming decoder and the stop matcher, on hand-built vocabularies and, when the shared assets are there
// ($TESSERA_ASSETS or ../shared/assets beside the repository), on the real Llama 3.1, Qwen3, Mistral and BERT
// files. Checks the properties that must hold for any input, so a wrong answer fails like a crash does:
//   ids are inside the vocabulary; byte-level models without a normalizer decode back to the exact input;
//   streaming gives valid UTF-8 equal to the lossy full decode; the stop matcher's output is a prefix of the text
//   that is followed by the stop string it reports.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "../unit/tokenizer/tiny_tokenizers.h"
#include "tessera/tokenizer/stop_matcher.h"
#include "tessera/tokenizer/stream_decoder.h"
#include "tessera/tokenizer/tokenizer.h"
#include "tessera/tokenizer/utf8.h"

namespace {

using tessera::tokenizer::Tokenizer;

struct Subject {
  std::shared_ptr<const Tokenizer> tok;
  bool lossless;  // decode(encode(text)) == text when special tokens are not parsed
};

std::vector<Subject> load_subjects() {
  std::vector<Subject> s;
  s.push_back({tessera::tokenizer::testing::tiny_byte_level(), true});
  s.push_back({tessera::tokenizer::testing::tiny_sentencepiece(), false});
  std::filesystem::path assets;
  if (const char* a = std::getenv("TESSERA_ASSETS"); a && *a) {
    assets = a;
  } else {
    assets = std::filesystem::path(__FILE__).parent_path() / "../../../shared/assets";
  }
  const std::pair<const char*, bool> files[] = {{"tokenizers/llama3_1", true},
                                                {"tokenizers/qwen3", false},
                                                {"tokenizers/mistral-7b-v0.1", false},
                                                {"vocab/ggml-vocab-bert-bge.gguf", false}};
  for (auto [rel, lossless] : files) {
    auto t = Tokenizer::load((assets / rel).string());
    if (t.ok()) s.push_back({*t, lossless});
  }
  return s;
}

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tokenizer_fuzz: property failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<Subject> subjects = load_subjects();
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const bool add_special = flags & 1, parse_special = flags & 2;

  for (const Subject& s : subjects) {
    if (!s.tok) continue;
    const Tokenizer& tok = *s.tok;
    std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
    for (int32_t id : ids) check(id >= 0 && static_cast<size_t>(id) < tok.vocab_size(), "id in vocabulary");
    std::string decoded = tok.decode(ids);
    if (s.lossless && !add_special && !parse_special) check(decoded == text, "byte-level round trip");

    tessera::tokenizer::StreamDecoder dec(tok);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = dec.push(id);
      check(tessera::tokenizer::utf8_is_valid(piece), "streamed text is valid UTF-8");
      streamed += piece;
    }
    streamed += dec.finish();
    if (tok.model_kind() == tessera::tokenizer::ModelKind::kByteLevelBpe)
      check(streamed == tessera::tokenizer::utf8_sanitize(tok.decode(ids, true)), "stream equals decode");
  }

  // Stop strings cut from the input itself, fed in uneven chunks.
  std::vector<std::string> stops;
  for (size_t i = 0; i + 1 < text.size() && stops.size() < 3; i += 1 + flags % 7)
    stops.push_back(text.substr(i, 1 + (data[i % size] % 5)));
  tessera::tokenizer::StopMatcher stop(stops);
  std::string shown;
  for (size_t i = 0; i < text.size();) {
    size_t n = 1 + (data[i % size] % 9);
    shown += stop.push(std::string_view(text).substr(i, n));
    i += n;
    if (stop.stopped()) break;
  }
  if (stop.stopped()) {
    const std::string& s = stops[stop.matched_index()];
    check(text.compare(0, shown.size(), shown) == 0, "stop output is a prefix");
    check(text.compare(shown.size(), s.size(), s) == 0, "stop string follows the output");
  } else {
    shown += stop.finish();
    check(shown == text, "no stop: everything is shown");
  }
  return 0;
}
