// SimpleRunner: one static batch of sequences over a private KV cache with fixed block tables (sequence s owns
// blocks 1 + s*B .. (s+1)*B). It is the foundation's stand-in for the engine: `tessera generate`, `tessera logits`
// and the latency benchmark drive the model through it. The engine (engine/) replaces it with paged allocation,
// prefix caching and continuous batching.
//
// Threading: one thread.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tessera/model/model.h"

namespace tessera::model {

class SimpleRunner {
 public:
  // Room for `num_seqs` sequences of up to `max_len` tokens each.
  static Expected<SimpleRunner> create(Model& model, int32_t num_seqs, int32_t max_len, int32_t block_size = 16,
                                       tensor::DType kv_dtype = tensor::DType::kF16);

  int32_t num_seqs() const { return num_seqs_; }
  int64_t vocab_size() const { return model_->config().vocab_size; }
  const std::vector<int32_t>& seq_lens() const { return seq_lens_; }

  // Appends tokens[s] to sequence s for every s (any lengths, empty allowed), in one forward pass or in chunks of
  // at most `max_batch_tokens` tokens (0: one pass), and returns the logits after each sequence's last token:
  // [num_seqs, V] (rows of sequences that got no token are left as they were).
  Status append(const std::vector<std::vector<int32_t>>& tokens, std::vector<float>& logits,
                int64_t max_batch_tokens = 0);
  // One decode step: token[s] for every sequence; logits [num_seqs, V].
  Status decode(std::span<const int32_t> tokens, std::vector<float>& logits);

 private:
  SimpleRunner(Model& model, KVCache cache, int32_t num_seqs, int32_t blocks_per_seq);
  Status run(const std::vector<int32_t>& seqs, std::span<const int32_t> ids, std::vector<float>& logits);

  Model* model_;
  KVCache cache_;
  int32_t num_seqs_;
  int32_t blocks_per_seq_;
  std::vector<int32_t> seq_lens_;
  std::vector<int32_t> block_tables_;
  // Batch buffers, reused across calls.
  std::vector<int32_t> ids_, positions_, token_seq_, logits_indices_, batch_seq_lens_, batch_tables_;
  std::vector<int64_t> slots_;
  std::vector<float> batch_logits_;
};

}  // namespace tessera::model
