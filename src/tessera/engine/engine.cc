#include "tessera/engine/engine.h"

#include <utility>

namespace tessera::engine {

Expected<std::unique_ptr<Engine>> Engine::create(model::Model& model,
                                                 std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                                                 EngineConfig config) {
  std::unique_ptr<EngineCore> core;
  TESSERA_ASSIGN_OR_RETURN(core, EngineCore::create(model, tokenizer, std::move(config)));
  return std::unique_ptr<Engine>(new Engine(std::move(core), std::move(tokenizer)));
}

Engine::Engine(std::unique_ptr<EngineCore> core, std::shared_ptr<const tokenizer::Tokenizer> tokenizer)
    : core_(std::move(core)),
      tokenizer_(std::move(tokenizer)),
      config_(core_->config()),
      model_config_(core_->model().config()),
      max_model_len_(core_->max_model_len()),
      pool_plan_(core_->pool_plan()) {
  stats_ = core_->stats();
  thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Expected<std::shared_ptr<RequestStream>> Engine::submit(GenerationRequest request) {
  // Validation reads only what never changes after construction (the config, the vocabulary, the pool's size),
  // so it runs on the caller's thread.
  TESSERA_RETURN_IF_ERROR(core_->validate(request));
  std::shared_ptr<RequestStream> stream;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || draining_) return unavailable("the engine is shutting down");
    stream = std::make_shared<RequestStream>(next_id_++, request.n);
    pending_.push_back({std::move(request), stream});
    ++num_unfinished_;
  }
  cv_.notify_all();
  return stream;
}

void Engine::abort(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    aborts_.push_back(id);
  }
  cv_.notify_all();
}

void Engine::drain() {
  std::lock_guard<std::mutex> lock(mu_);
  draining_ = true;
}

bool Engine::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  return num_unfinished_ == 0;
}

EngineStats Engine::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void Engine::loop() {
  std::vector<std::pair<GenerationRequest, std::shared_ptr<RequestStream>>> pending;
  std::vector<RequestId> aborts;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty() || !aborts_.empty() || core_->has_work(); });
      if (stopping_) break;
      pending.swap(pending_);
      aborts.swap(aborts_);
    }
    for (auto& [request, stream] : pending) {
      const RequestId id = stream->id();  // not in the call below: its arguments are evaluated in any order
      core_->add_request(id, std::move(request), std::move(stream));
    }
    for (RequestId id : aborts) core_->abort_request(id);
    pending.clear();
    aborts.clear();
    core_->step();
    const EngineStats s = core_->stats();
    std::lock_guard<std::mutex> lock(mu_);
    stats_ = s;
    num_unfinished_ = static_cast<int64_t>(pending_.size()) + core_->num_requests();
  }
  core_->abort_all();
  std::lock_guard<std::mutex> lock(mu_);
  // Requests submitted after the last step never reached the core: end their streams too.
  for (auto& [request, stream] : pending_) {
    for (int32_t i = 0; i < request.n; ++i) {
      RequestEvent ev;
      ev.index = i;
      ev.finish = FinishReason::kAbort;
      ev.usage.prompt_tokens = static_cast<int64_t>(request.prompt.size());
      stream->push(std::move(ev));
    }
  }
  pending_.clear();
  num_unfinished_ = 0;
}

}  // namespace tessera::engine
