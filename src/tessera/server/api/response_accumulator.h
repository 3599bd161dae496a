// ResponseAccumulator: gathers a request's RequestEvents for the non-streaming form of a response (OpenAI's
// chat.completion and text_completion, Anthropic's message), which is rendered once every sequence finished.
//
// Threading: one owner (the connection handling the request).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "tessera/engine/generation.h"
#include "tessera/server/api/api_error.h"

namespace tessera::server::api {

struct SequenceOutput {
  std::string text;
  std::vector<int32_t> token_ids;
  std::vector<engine::SampleResult> logprobs;  // one per token when logprobs were asked for
  std::optional<engine::FinishReason> finish;
  std::string stop_string;               // with kStop by a stop string
  std::optional<int32_t> stop_token_id;  // with kStop by a token
};

class ResponseAccumulator {
 public:
  explicit ResponseAccumulator(int32_t num_sequences) : sequences_(num_sequences > 0 ? num_sequences : 1) {}

  // Events of an unknown index are ignored (the engine never sends them). The first kError/kAbort finish
  // fails the whole response: the glue should then abort the request and reply with error().
  void add(const engine::RequestEvent& event);
  void add(std::span<const engine::RequestEvent> events) {
    for (const auto& e : events) add(e);
  }

  // Every sequence finished, or one failed.
  bool done() const { return error_.has_value() || num_finished_ == static_cast<int32_t>(sequences_.size()); }
  const std::optional<ApiError>& error() const { return error_; }
  const std::vector<SequenceOutput>& sequences() const { return sequences_; }
  // The request's usage after the latest event (cumulative over all sequences).
  const engine::Usage& usage() const { return usage_; }

 private:
  std::vector<SequenceOutput> sequences_;
  int32_t num_finished_ = 0;
  engine::Usage usage_;
  std::optional<ApiError> error_;
};

}  // namespace tessera::server::api
