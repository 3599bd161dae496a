// Pre-tokenizers: split normalized text into the pieces ("words") that the model encodes one at a time. A
// pipeline is an optional prefix step (Hugging Face's Metaspace or ByteLevel add_prefix_space) followed by regex
// split stages, each applied to every piece the previous stage produced, as Hugging Face's Sequence does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tessera/tokenizer/regex.h"
#include "tessera/util/status.h"

namespace tessera::tokenizer {

// What happens to a regex match and the gaps around it (Hugging Face's SplitDelimiterBehavior).
enum class SplitBehavior { kIsolated, kRemoved, kMergedWithPrevious, kMergedWithNext };

struct SplitStage {
  Regex regex;
  SplitBehavior behavior = SplitBehavior::kIsolated;
  bool invert = false;  // the regex finds the pieces to keep, not the delimiters
};

enum class PrependScheme { kAlways, kFirst, kNever };

class PreTokenizer {
 public:
  // Metaspace: spaces become `replacement` ("▁") and the segment gets a leading one by `scheme`; with `split`
  // each piece starts at a replacement character.
  Status set_metaspace(std::string replacement, PrependScheme scheme, bool split);
  // ByteLevel's add_prefix_space: a segment that does not start with a space gets one.
  void set_prefix_space() { prefix_space_ = true; }
  Status add_regex(std::string_view pattern, SplitBehavior behavior, bool invert = false, bool literal = false);

  bool empty() const { return !prefix_space_ && !metaspace_ && stages_.empty(); }

  // Splits `segment` into pieces of `buf` (the segment after the prefix step). `first` says whether the
  // segment starts the whole input (for PrependScheme::kFirst). `scratch` is reused between calls.
  void run(std::string_view segment, bool first, std::string& buf, std::vector<Span>& pieces,
           std::vector<Span>& scratch) const;

 private:
  bool prefix_space_ = false;
  bool metaspace_ = false;
  std::string replacement_;
  PrependScheme scheme_ = PrependScheme::kAlways;
  std::vector<SplitStage> stages_;
};

// The pre-tokenizer llama.cpp uses for a GGUF's `tokenizer.ggml.pre` value (a byte-level BPE family). Also says
// whether the family takes a word that is in the vocabulary whole instead of merging it (Llama 3's
// ignore_merges). Unimplemented for a name we do not know: guessing would silently give wrong ids.
struct PreTokenizerFamily {
  PreTokenizer pre;
  bool ignore_merges = false;
};
Expected<PreTokenizerFamily> pre_tokenizer_for_family(std::string_view name);

// The regex of GPT-2's ByteLevel pre-tokenizer (Hugging Face's `use_regex: true`).
extern const char* const kGpt2Pattern;

}  // namespace tessera::tokenizer
