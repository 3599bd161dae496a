// ModelRunner: turns a SchedulerOutput into the model's flat Batch (token ids, positions, KV slots, block tables,
// which rows need logits), runs the forward pass over the KV cache it owns, and hands back the logits of the
// sequences that reached the end of their tokens this step.
//
// Threading: engine thread only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tessera/engine/scheduler.h"
#include "tessera/model/model.h"

namespace tessera::engine {

class ModelRunner {
 public:
  // `model` must outlive the runner; `cache` is the pool's memory (num_blocks equal to the BlockPool's).
  ModelRunner(model::Model& model, model::KVCache cache);

  // Runs the step. On success `logits` holds [R, V] rows and `sampled` the R scheduled sequences they belong to
  // (those whose computed tokens reach the end of their token list after this step), in scheduling order.
  Status execute(const SchedulerOutput& step, std::vector<float>& logits, std::vector<Request*>& sampled);

  const model::KVCache& cache() const { return cache_; }

 private:
  model::Model& model_;
  model::KVCache cache_;
  // Batch buffers, reused across steps.
  std::vector<int32_t> ids_, positions_, token_seq_, seq_lens_, block_tables_, logits_indices_;
  std::vector<int64_t> slots_;
};

}  // namespace tessera::engine
