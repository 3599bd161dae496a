#include "tessera/server/api/response_accumulator.h"

namespace tessera::server::api {

void ResponseAccumulator::add(const engine::RequestEvent& event) {
  if (event.index < 0 || event.index >= static_cast<int32_t>(sequences_.size()) || error_) return;
  SequenceOutput& seq = sequences_[event.index];
  if (seq.finish) return;
  usage_ = event.usage;
  seq.text += event.text;
  seq.token_ids.insert(seq.token_ids.end(), event.token_ids.begin(), event.token_ids.end());
  seq.logprobs.insert(seq.logprobs.end(), event.logprobs.begin(), event.logprobs.end());
  if (!event.finish) return;
  if (is_failure(*event.finish)) {
    error_ = error_from_finish(event);
    return;
  }
  seq.finish = event.finish;
  seq.stop_string = event.stop_string;
  seq.stop_token_id = event.stop_token_id;
  ++num_finished_;
}

}  // namespace tessera::server::api
