// Finds added and special tokens in raw text before anything else sees it, as Hugging Face's AddedVocabulary
// and llama.cpp's special-token partition do: leftmost match, longest first. Special (control) tokens are only
// recognized when the caller asks to parse them; non-special added tokens are always recognized.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::tokenizer {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool special = false;      // matched only with parse_special
  bool lstrip = false;       // swallows whitespace before it
  bool rstrip = false;       // swallows whitespace after it
  bool single_word = false;  // matches only when not inside a word
};

// Immutable after build: any thread may call split().
class AddedTokenMatcher {
 public:
  void build(const std::vector<AddedToken>& tokens);
  bool empty() const { return tokens_.empty(); }

  // One piece of the input: a run of text (id < 0) or a matched token.
  struct Piece {
    size_t begin = 0;
    size_t end = 0;
    int32_t id = -1;
  };
  void split(std::string_view text, bool parse_special, std::vector<Piece>& out) const;

 private:
  struct Node {
    int32_t token = -1;        // index into tokens_ when a token ends here
    uint32_t first_child = 0;  // children are contiguous in nodes_ (sorted by byte) after finalization
    uint16_t num_children = 0;
    uint8_t byte = 0;
  };
  // Longest token starting at text[pos] that may be matched; -1 when none. Sets `len`.
  int32_t match_at(std::string_view text, size_t pos, bool parse_special, size_t& len) const;

  std::vector<AddedToken> tokens_;
  std::vector<Node> nodes_;  // nodes_[0] is the root
  bool first_byte_[256] = {};
};

}  // namespace tessera::tokenizer
