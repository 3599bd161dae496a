// EngineCore: the single-threaded heart of the engine. It owns the KV pool (KVCacheManager), the Scheduler and the
// ModelRunner, and turns one call of step() into: schedule -> build the flat batch -> forward -> sample each
// finished row with its request's own parameters -> detokenize and match stops -> events on each request's stream.
// Engine (engine.h) runs it on a thread; tests and the offline benchmark may drive it directly.
//
// Threading: one thread at a time (the engine thread).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "tessera/engine/generation.h"
#include "tessera/engine/kv_cache_manager.h"
#include "tessera/engine/model_runner.h"
#include "tessera/engine/scheduler.h"
#include "tessera/model/model.h"
#include "tessera/tokenizer/stop_matcher.h"
#include "tessera/tokenizer/stream_decoder.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::engine {

struct EngineConfig {
  // Scheduling (vLLM's flag names): per step, at most this many tokens and sequences.
  int32_t max_num_seqs = 256;
  // 0: by device. A CPU computes ~1k tokens a second, so 512 keeps a prefill chunk from stalling everyone's next
  // token for more than about half a second; a GPU takes 8192, where a step's cost is flat up to thousands of tokens.
  int32_t max_num_batched_tokens = 0;
  // Tokens a sequence may hold (prompt + output); 0: the model's context length. Also capped by the pool.
  int64_t max_model_len = 0;
  // Off: a prompt is prefilled in one step (the token budget grows to fit it when it runs alone).
  bool enable_chunked_prefill = true;
  // KV pool: --num-blocks wins over --kv-cache-memory; with neither, a GPU takes gpu_memory_utilization of its
  // free memory and a CPU takes min(4 GiB, a quarter of RAM), both capped at what max_num_seqs full-length
  // sequences could use.
  int32_t block_size = 16;
  int64_t kv_cache_memory = 0;  // bytes
  int32_t num_blocks = 0;       // usable blocks (the null block is added)
  double gpu_memory_utilization = 0.9;
  bool enable_prefix_caching = true;
  tensor::DType kv_dtype = tensor::DType::kF16;
};

// Why the pool has the size it has, for the startup log.
struct KVPoolPlan {
  int32_t num_blocks = 0;  // including the null block
  size_t block_nbytes = 0;
  std::string reason;
};
Expected<KVPoolPlan> plan_kv_pool(const model::Model& model, const EngineConfig& config);

struct EngineStats {
  int32_t num_running = 0;
  int32_t num_waiting = 0;
  int32_t num_blocks = 0;  // usable
  int32_t num_free_blocks = 0;
  double kv_usage = 0;  // fraction of usable blocks owned by a sequence
  int64_t prefix_cache_queries = 0;
  int64_t prefix_cache_query_tokens = 0;
  int64_t prefix_cache_hit_tokens = 0;
  int64_t num_preemptions = 0;
  double kv_usage_at_first_preemption = -1;  // -1: no preemption yet
  int64_t num_steps = 0;
  double step_seconds_total = 0;
  double last_step_seconds = 0;
  int32_t last_batch_tokens = 0;
  int32_t last_batch_seqs = 0;
  int64_t batch_tokens_total = 0;
  int64_t requests_finished = 0;
  int64_t prompt_tokens_total = 0;      // over admitted requests
  int64_t generation_tokens_total = 0;  // tokens sampled
};

// A submitted request: one stream and n sequences (CoreRequests) that share its prompt.
struct RequestGroup {
  RequestId id = 0;
  GenerationRequest params;
  std::shared_ptr<RequestStream> stream;
  Usage usage;
  int32_t num_finished = 0;
  std::vector<int32_t> min_tokens_mask;  // ids min_tokens keeps out: the stop token ids and, unless ignore_eos, EOS
};

// One sequence the scheduler moves between waiting and running. Request (the KV view) is its base.
struct CoreRequest : Request {
  RequestGroup* group = nullptr;
  int32_t index = 0;              // which of the group's sequences
  int64_t num_prompt_tokens = 0;  // token_ids[0, num_prompt_tokens) is the prompt
  int64_t max_len = 0;            // token_ids stops growing at this size (prompt + max_tokens, capped)
  std::mt19937_64 rng;
  std::optional<tokenizer::StreamDecoder> decoder;
  std::optional<tokenizer::StopMatcher> stops;
  bool finished = false;

  int64_t num_output_tokens() const { return static_cast<int64_t>(token_ids.size()) - num_prompt_tokens; }
  std::span<const int32_t> prompt() const { return {token_ids.data(), static_cast<size_t>(num_prompt_tokens)}; }
  std::span<const int32_t> output() const {
    return {token_ids.data() + num_prompt_tokens, static_cast<size_t>(num_output_tokens())};
  }
};

class EngineCore {
 public:
  // Plans and allocates the KV pool. `model` must outlive the core; `tokenizer` may be null (then requests must
  // not ask for text or stop strings).
  static Expected<std::unique_ptr<EngineCore>> create(model::Model& model,
                                                      std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                                                      EngineConfig config);

  // InvalidArgument / ResourceExhausted when the request can never run (see Engine::submit).
  Status validate(const GenerationRequest& request) const;
  // Queues a validated request under `id` (unique among live requests); its events go to `stream`.
  void add_request(RequestId id, GenerationRequest request, std::shared_ptr<RequestStream> stream);
  // Finishes the request with kAbort and frees its blocks; unknown ids are ignored.
  void abort_request(RequestId id);
  void abort_all();

  // One scheduling step and forward pass. Returns false when there was nothing to run.
  bool step();
  bool has_work() const { return scheduler_.has_work(); }
  // Requests added and not yet finished.
  int64_t num_requests() const { return static_cast<int64_t>(groups_.size()); }

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }
  const KVPoolPlan& pool_plan() const { return plan_; }
  int64_t max_model_len() const { return max_model_len_; }
  const KVCacheManager& kv() const { return kv_; }
  const model::Model& model() const { return model_; }

 private:
  EngineCore(model::Model& model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer, EngineConfig config,
             KVPoolPlan plan, model::KVCache cache);

  // Appends a sampled token to `r` and emits its event; finishes the sequence when a stop rule says so.
  void append_token(CoreRequest& r, const SampleResult& sample);
  // n > 1: the group's other sequences start from the same prompt (sharing its full blocks) and `logits`.
  void fork_siblings(CoreRequest& first, std::span<const float> logits);
  void finish(CoreRequest& r, FinishReason reason, RequestEvent event);
  void fail_group(RequestGroup& g, const std::string& message);
  void release_if_done(RequestGroup& g);
  bool is_eos(const CoreRequest& r, int32_t token) const;

  model::Model& model_;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  EngineConfig config_;
  KVPoolPlan plan_;
  int64_t max_model_len_;
  std::vector<int32_t> eos_ids_;
  KVCacheManager kv_;
  Scheduler scheduler_;
  ModelRunner runner_;
  Sampler sampler_;

  std::unordered_map<RequestId, std::unique_ptr<RequestGroup>> groups_;
  std::unordered_map<RequestId, std::vector<std::unique_ptr<CoreRequest>>> sequences_;  // by group id
  RequestId next_seq_id_ = 1;  // CoreRequest::id, distinct per sequence (the KV manager's key)
  std::vector<float> logits_, row_copy_;
  EngineStats counters_;
};

}  // namespace tessera::engine
