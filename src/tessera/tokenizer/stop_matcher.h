// StopMatcher: finds stop strings in generated text across token boundaries, for one request. Text that might
// be the start of a stop string is held back until the next text decides it; the matched stop string and
// everything after it are never returned. Stops are matched on text (after detokenizing), so "</answer>" stops
// whether the model wrote it as one token or five.
//
// Threading: one owner (the request's stream).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tessera::tokenizer {

class StopMatcher {
 public:
  // Empty strings are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  // Adds generated text; returns the part that can be shown now. Once a stop string matched, returns the text
  // before it and then only empty strings.
  std::string push(std::string_view text);
  // The end of the stream without a stop: the held-back text.
  std::string finish();

  bool stopped() const { return matched_ >= 0; }
  // Which stop string matched (its index in the constructor's list); -1 before a match.
  int matched_index() const { return matched_; }
  size_t num_held_bytes() const { return held_.size(); }

 private:
  std::vector<std::string> stops_;
  std::vector<int> original_index_;
  std::string held_;
  int matched_ = -1;
};

}  // namespace tessera::tokenizer
