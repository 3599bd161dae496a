// What the engine's users (server, CLI, benchmarks) hand in and get back: a GenerationRequest of token ids with its
// sampling and stop rules, and a RequestStream of RequestEvents (new tokens, their text and logprobs, then a finish
// with its reason and usage). Nothing here knows HTTP or JSON; the API layers translate both ways.
//
// Threading: a RequestStream is the only object shared by the engine thread (the producer) and its consumer; it
// locks internally. Everything else here is plain data.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tessera/engine/request.h"
#include "tessera/engine/sampler.h"

namespace tessera::engine {

struct GenerationRequest {
  std::vector<int32_t> prompt;  // token ids, non-empty
  SamplingParams sampling;
  int32_t max_tokens = 16;  // >= 1; generation also ends at the model's context length
  int32_t n = 1;            // independent completions of the same prompt, sharing its KV blocks
  // Stops. Generation ends at an end-of-sequence id (the model's EOS and the tokenizer's end-of-turn ids) unless
  // ignore_eos, at any of stop_token_ids, or when the text contains one of `stop` (matched across token
  // boundaries; the stop string and what follows are not returned unless include_stop_str_in_output).
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  bool include_stop_str_in_output = false;
  // Text: the engine detokenizes incrementally (needed for stop strings) unless detokenize is false.
  bool detokenize = true;
  bool skip_special_tokens = true;
  // Prefix-cache keys besides the tokens (see KVCacheManager).
  std::string cache_salt;
  std::string adapter_id;
  std::vector<MediaRange> media;
};

enum class FinishReason {
  kStop,    // an end-of-sequence id, a stop token id or a stop string
  kLength,  // max_tokens, or the model's context length
  kAbort,   // abort() or engine shutdown
  kError,   // this request failed (the message says why); others go on
};
const char* finish_reason_name(FinishReason r);  // "stop", "length", "abort", "error"

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;  // over all n sequences so far
  int64_t cached_tokens = 0;      // prompt tokens whose K/V came from the prefix cache (first admission)
};

// One update of one of the request's n sequences. Events of a sequence arrive in order; the last one has finish.
struct RequestEvent {
  int32_t index = 0;                   // which sequence, [0, n)
  std::vector<int32_t> token_ids;      // tokens generated since this sequence's previous event
  std::vector<SampleResult> logprobs;  // one per token in token_ids when sampling.num_logprobs >= 0
  std::string text;                    // text those tokens complete (text held back by stop matching comes later)
  std::optional<FinishReason> finish;
  std::string stop_string;               // with kStop by a stop string: which one
  std::optional<int32_t> stop_token_id;  // with kStop by a token: which one (an EOS id or a stop_token_ids entry)
  std::string error;                     // with kError
  Usage usage;                           // the request's usage after this event (cumulative)
};

// The per-request channel from the engine thread to the consumer.
class RequestStream {
 public:
  RequestStream(RequestId id, int32_t num_sequences) : id_(id), num_sequences_(num_sequences) {}
  RequestStream(const RequestStream&) = delete;
  RequestStream& operator=(const RequestStream&) = delete;

  RequestId id() const { return id_; }
  int32_t num_sequences() const { return num_sequences_; }

  // Consumer side. poll() takes what is there now; wait() blocks until there is something or the stream is done.
  // Both return an empty vector once everything was delivered and every sequence finished.
  std::vector<RequestEvent> poll();
  std::vector<RequestEvent> wait();
  // True once every sequence's final event was pushed (it may still be waiting in the stream).
  bool finished() const;
  // Called on the engine thread after each push (and once right away when events are already waiting). It must
  // not block: an asynchronous server posts a wake-up to its own executor here. Replaces any earlier notifier.
  void set_notifier(std::function<void()> notify);

  // Engine side.
  void push(RequestEvent event);

 private:
  const RequestId id_;
  const int32_t num_sequences_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
  int32_t num_finished_ = 0;
  std::function<void()> notify_;
};

}  // namespace tessera::engine
