// Shared by the engine tests: loading a model onto a CPU backend, building requests, and running an EngineCore
// until every request has finished, collecting each request's tokens and finish events.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../test_util.h"
#include "tessera/backend/cpu/cpu_backend.h"
#include "tessera/engine/engine_core.h"
#include "tessera/model/model.h"
#include "tessera/tokenizer/tokenizer.h"

namespace tessera::engine::testing {

struct LoadedModel {
  std::unique_ptr<backend::cpu::CpuBackend> backend;
  std::unique_ptr<model::Model> model;
  std::shared_ptr<const tokenizer::Tokenizer> tokenizer;
};

// Tiny models run fastest on one thread: their ops are too small to share.
inline LoadedModel load(const std::string& path, bool with_tokenizer, int threads = 2) {
  LoadedModel m;
  m.backend = std::make_unique<backend::cpu::CpuBackend>(threads);
  auto model = model::Model::load(path, *m.backend);
  EXPECT_TRUE(model.ok()) << model.status().to_string();
  if (model.ok()) m.model = std::move(*model);
  if (with_tokenizer) {
    auto tok = tokenizer::Tokenizer::load(path);
    EXPECT_TRUE(tok.ok()) << tok.status().to_string();
    if (tok.ok()) m.tokenizer = *tok;
  }
  return m;
}

inline std::string tiny_model_path() { return ::tessera::testing::fixtures_dir() + "/models/tiny-llama"; }

inline GenerationRequest greedy(std::vector<int32_t> prompt, int32_t max_tokens) {
  GenerationRequest r;
  r.prompt = std::move(prompt);
  r.sampling.temperature = 0.0f;
  r.max_tokens = max_tokens;
  r.ignore_eos = true;
  r.detokenize = false;
  return r;
}

inline std::vector<int32_t> random_prompt(std::mt19937_64& rng, int len, int32_t vocab) {
  std::uniform_int_distribution<int32_t> tok(3, vocab - 1);
  std::vector<int32_t> p(static_cast<size_t>(len));
  for (auto& t : p) t = tok(rng);
  return p;
}

// What one request produced: per sequence, its tokens, text and final event.
struct Result {
  std::vector<std::vector<int32_t>> tokens;
  std::vector<std::string> text;
  std::vector<RequestEvent> finish;  // the last event of each sequence
  Usage usage;
};

// Adds requests to a core and steps it until all have finished (or max_steps pass).
class Driver {
 public:
  explicit Driver(EngineCore& core) : core_(core) {}

  RequestId add(GenerationRequest r) {
    const RequestId id = next_id_++;
    auto stream = std::make_shared<RequestStream>(id, r.n);
    EXPECT_TRUE(core_.validate(r).ok()) << core_.validate(r).to_string();
    core_.add_request(id, std::move(r), stream);
    streams_[id] = stream;
    return id;
  }

  void collect() {
    for (auto& [id, stream] : streams_) {
      Result& res = results_[id];
      const auto n = static_cast<size_t>(stream->num_sequences());
      res.tokens.resize(n);
      res.text.resize(n);
      res.finish.resize(n);
      for (RequestEvent& ev : stream->poll()) {
        const auto i = static_cast<size_t>(ev.index);
        EXPECT_LT(i, n);
        EXPECT_FALSE(res.finish[i].finish.has_value()) << "an event after the finish of sequence " << i;
        res.tokens[i].insert(res.tokens[i].end(), ev.token_ids.begin(), ev.token_ids.end());
        res.text[i] += ev.text;
        res.usage = ev.usage;
        if (ev.finish) res.finish[i] = ev;
      }
    }
  }

  // Steps until the core has no work; false if it still had some after max_steps.
  bool run(int max_steps = 100000) {
    for (int i = 0; i < max_steps && core_.has_work(); ++i) {
      core_.step();
      collect();
    }
    collect();
    return !core_.has_work();
  }

  const Result& result(RequestId id) { return results_[id]; }
  bool finished(RequestId id) { return streams_[id]->finished(); }

 private:
  EngineCore& core_;
  RequestId next_id_ = 1;
  std::map<RequestId, std::shared_ptr<RequestStream>> streams_;
  std::map<RequestId, Result> results_;
};

inline std::unique_ptr<EngineCore> make_core(LoadedModel& m, EngineConfig c) {
  auto core = EngineCore::create(*m.model, m.tokenizer, c);
  EXPECT_TRUE(core.ok()) << core.status().to_string();
  return core.ok() ? std::move(*core) : nullptr;
}

// The pool holds no owned block: everything finished or aborted gave its blocks back.
inline void expect_pool_free(const EngineCore& core) {
  EXPECT_EQ(core.kv().pool().num_free_blocks(), core.kv().pool().num_blocks() - 1);
  EXPECT_EQ(core.kv().usage(), 0.0);
}

}  // namespace tessera::engine::testing
