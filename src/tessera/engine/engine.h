// Engine: one model's step loop on its own thread. submit() and abort() may be called from any thread; results
// flow back through each request's RequestStream. The loop never blocks on I/O: it drains its inbox, runs one
// EngineCore step (schedule, forward, sample, detokenize), pushes events, and sleeps only when there is no work.
//
// Threading: the engine thread owns the EngineCore (scheduler, KV pool, model runner); other threads touch only
// the inbox (a mutex-protected vector) and the statistics snapshot.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "tessera/engine/engine_core.h"
#include "tessera/engine/generation.h"

namespace tessera::engine {

class Engine {
 public:
  // Starts the engine thread. `model` (and the backend under it) must outlive the engine.
  static Expected<std::unique_ptr<Engine>> create(model::Model& model,
                                                  std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                                                  EngineConfig config);
  // Aborts whatever is left (each stream gets a kAbort finish) and joins the thread.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates the request (InvalidArgument naming the problem; ResourceExhausted when it cannot fit the KV pool
  // or the context even alone) and queues it. The returned stream delivers its events.
  Expected<std::shared_ptr<RequestStream>> submit(GenerationRequest request);
  // Ends a request at the next step (its stream gets kAbort finishes) and frees its blocks. Unknown ids are
  // ignored, so a late abort of a finished request is harmless.
  void abort(RequestId id);

  // Stops admitting: later submits fail with Unavailable. In-flight requests go on until they finish.
  void drain();
  // True when no request is queued or running.
  bool idle() const;

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }
  const model::ModelConfig& model_config() const { return model_config_; }
  const tokenizer::Tokenizer* tokenizer() const { return tokenizer_.get(); }
  // Tokens a request may hold in all (prompt + output): the smaller of max_model_len and what the pool holds.
  int64_t max_model_len() const { return max_model_len_; }
  const KVPoolPlan& pool_plan() const { return pool_plan_; }

 private:
  Engine(std::unique_ptr<EngineCore> core, std::shared_ptr<const tokenizer::Tokenizer> tokenizer);
  void loop();

  std::unique_ptr<EngineCore> core_;  // engine thread only, after construction
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer_;
  const EngineConfig config_;
  const model::ModelConfig model_config_;
  const int64_t max_model_len_;
  const KVPoolPlan pool_plan_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::vector<std::pair<GenerationRequest, std::shared_ptr<RequestStream>>> pending_;
  std::vector<RequestId> aborts_;
  bool stopping_ = false;
  bool draining_ = false;
  int64_t num_unfinished_ = 0;  // submitted and not yet finished
  EngineStats stats_;
  RequestId next_id_ = 1;

  std::thread thread_;
};

}  // namespace tessera::engine
