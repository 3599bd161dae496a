// StreamDecoder: turns generated token ids into text as they arrive, for one request. It never emits part of a
// UTF-8 character: bytes of an unfinished character (split across byte-level tokens or byte-fallback pieces
// like <0xE4>) are held until the character completes. Bytes that can never form a character come out as
// U+FFFD, as Hugging Face's lossy decode shows them, so what it emits is always valid UTF-8.
//
// Threading: one owner (the request's stream); the Tokenizer it reads is shared and immutable.
//
// Usage, with stop strings:
//   StreamDecoder dec(tok);  StopMatcher stop({"\nUser:"});
//   for each token: send(stop.push(dec.push(id)));  if (stop.stopped()) break;
//   at the end:     send(stop.push(dec.finish()) + stop.finish());
#pragma once

#include <cstdint>
#include <string>

#include "tessera/tokenizer/tokenizer.h"

namespace tessera::tokenizer {

class StreamDecoder {
 public:
  struct Options {
    // Control tokens (EOS, <|im_end|>) produce no text.
    bool skip_special = true;
    // The tokens start a sequence (no prompt before them), so the tokenizer's decode rules for the start apply:
    // SentencePiece's dummy leading space is dropped. Off for a completion after a prompt, where the leading
    // space of "▁Paris" is a real space.
    bool at_sequence_start = false;
  };

  // `tokenizer` must outlive the decoder.
  explicit StreamDecoder(const Tokenizer& tokenizer) : StreamDecoder(tokenizer, Options()) {}
  StreamDecoder(const Tokenizer& tokenizer, Options options);

  // The text that token `id` completes; often empty while a character is unfinished.
  std::string push(int32_t id);
  // The end of the stream: anything still held (an unfinished character becomes U+FFFD).
  std::string finish();
  // Bytes held back, waiting for the rest of a character.
  size_t num_held_bytes() const { return pending_.size(); }

 private:
  const Tokenizer& tokenizer_;
  Options options_;
  std::string pending_;
  bool strip_next_space_;  // the first text still owes the dropped dummy space
};

}  // namespace tessera::tokenizer
