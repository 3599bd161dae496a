#include "tessera/engine/engine_core.h"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "tessera/util/log.h"

namespace tessera::engine {
namespace {

constexpr int32_t kMaxN = 128;
constexpr int32_t kMaxTokensLimit = 1 << 24;

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", b, units[u]);
  return buf;
}

// Identifies the weights for the prefix cache, the same on every machine: a hash of every tensor's name, type,
// shape and the bytes at both ends of its data. Reading two pages per tensor keeps it instant for any size.
std::string model_fingerprint(const model::Model& m) {
  XXH3_state_t* st = XXH3_createState();
  XXH3_128bits_reset(st);
  std::vector<const format::TensorEntry*> entries;
  for (const format::TensorEntry& e : m.source().tensors()) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->name < b->name; });
  for (const format::TensorEntry* e : entries) {
    const uint64_t name_len = e->name.size(), dtype = static_cast<uint64_t>(e->dtype), rank = e->shape.size();
    XXH3_128bits_update(st, &name_len, sizeof name_len);
    XXH3_128bits_update(st, e->name.data(), e->name.size());
    XXH3_128bits_update(st, &dtype, sizeof dtype);
    XXH3_128bits_update(st, &rank, sizeof rank);
    for (int64_t d : e->shape) XXH3_128bits_update(st, &d, sizeof d);
    const uint64_t edge = std::min<uint64_t>(e->nbytes, 4096);
    XXH3_128bits_update(st, e->data, edge);
    XXH3_128bits_update(st, e->data + e->nbytes - edge, edge);
  }
  const XXH128_hash_t h = XXH3_128bits_digest(st);
  XXH3_freeState(st);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h.high64),
                static_cast<unsigned long long>(h.low64));
  return buf;
}

int64_t context_length(const model::Model& m, const EngineConfig& c) {
  const int64_t model_len = m.config().max_position_embeddings > 0 ? m.config().max_position_embeddings : 4096;
  return c.max_model_len > 0 ? std::min(c.max_model_len, model_len) : model_len;
}

// Bytes the forward pass needs beside weights and KV at the largest step, so a GPU pool leaves room for them.
size_t activation_bytes(const model::ModelConfig& c, const EngineConfig& e) {
  const size_t T = static_cast<size_t>(e.max_num_batched_tokens);
  const size_t per_token = 4 * (3 * c.hidden_size + 2 * c.num_heads * c.head_dim + 2 * c.num_kv_heads * c.head_dim +
                                2 * c.intermediate_size);
  return T * per_token + 4 * static_cast<size_t>(e.max_num_seqs) * c.vocab_size;
}

}  // namespace

Expected<KVPoolPlan> plan_kv_pool(const model::Model& model, const EngineConfig& config) {
  KVPoolPlan plan;
  plan.block_nbytes = model.kv_block_nbytes(config.block_size, config.kv_dtype);
  const int64_t max_len = context_length(model, config);
  const int64_t blocks_per_seq = (max_len + config.block_size - 1) / config.block_size;
  const int64_t wanted = static_cast<int64_t>(config.max_num_seqs) * blocks_per_seq;  // no use for more
  int64_t usable;
  if (config.num_blocks > 0) {
    usable = config.num_blocks;
    plan.reason = "--num-blocks";
  } else if (config.kv_cache_memory > 0) {
    usable = static_cast<int64_t>(config.kv_cache_memory / plan.block_nbytes);
    plan.reason = "--kv-cache-memory " + human_bytes(static_cast<double>(config.kv_cache_memory));
  } else if (std::optional<backend::MemoryInfo> mem = model.backend().memory_info()) {
    const double allowed = config.gpu_memory_utilization * static_cast<double>(mem->total_bytes);
    const double used = static_cast<double>(mem->total_bytes - mem->free_bytes);
    const double budget = allowed - used - static_cast<double>(activation_bytes(model.config(), config));
    if (budget < static_cast<double>(2 * plan.block_nbytes))
      return resource_exhausted("no device memory left for the KV cache: " + human_bytes(used) + " of " +
                                human_bytes(static_cast<double>(mem->total_bytes)) +
                                " in use; raise --gpu-memory-utilization or give --kv-cache-memory");
    usable = std::min<int64_t>(static_cast<int64_t>(budget / static_cast<double>(plan.block_nbytes)), wanted);
    plan.reason = "--gpu-memory-utilization " + std::to_string(config.gpu_memory_utilization).substr(0, 4) + " of " +
                  human_bytes(static_cast<double>(mem->total_bytes));
  } else {
    const double ram = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * static_cast<double>(sysconf(_SC_PAGE_SIZE));
    const double budget = std::min(4.0 * (1 << 30), ram > 0 ? ram / 4 : 4.0 * (1 << 30));
    usable = std::min<int64_t>(static_cast<int64_t>(budget / static_cast<double>(plan.block_nbytes)), wanted);
    plan.reason = "default: min(4 GiB, RAM/4), capped at --max-num-seqs full-length sequences";
  }
  if (usable < 1) return invalid_argument("the KV cache must hold at least one block (" + plan.reason + ")");
  if (usable > (1 << 30)) return invalid_argument("the KV cache is too large: " + std::to_string(usable) + " blocks");
  plan.num_blocks = static_cast<int32_t>(usable + 1);
  return plan;
}

Expected<std::unique_ptr<EngineCore>> EngineCore::create(model::Model& model,
                                                         std::shared_ptr<const tokenizer::Tokenizer> tokenizer,
                                                         EngineConfig config) {
  if (config.block_size < 1 || config.block_size > 1024)
    return invalid_argument("--block-size must be between 1 and 1024");
  if (config.max_num_seqs < 1) return invalid_argument("--max-num-seqs must be positive");
  if (config.max_num_batched_tokens == 0)
    config.max_num_batched_tokens = model.backend().device() == tensor::Device::kCpu ? 512 : 8192;
  if (config.max_num_batched_tokens < 1) return invalid_argument("--max-num-batched-tokens must be positive");
  // Every running sequence must be able to decode in every step, or the newest would wait behind the oldest.
  if (config.max_num_batched_tokens < config.max_num_seqs)
    return invalid_argument("--max-num-batched-tokens (" + std::to_string(config.max_num_batched_tokens) +
                            ") must be at least --max-num-seqs (" + std::to_string(config.max_num_seqs) + ")");
  if (config.max_model_len < 0) return invalid_argument("--max-model-len must be positive");
  if (!(config.gpu_memory_utilization > 0 && config.gpu_memory_utilization <= 1))
    return invalid_argument("--gpu-memory-utilization must be in (0, 1]");
  KVPoolPlan plan;
  TESSERA_ASSIGN_OR_RETURN(plan, plan_kv_pool(model, config));
  model::KVCache cache;
  TESSERA_ASSIGN_OR_RETURN(cache, model.allocate_kv_cache(plan.num_blocks, config.block_size, config.kv_dtype));
  return std::unique_ptr<EngineCore>(
      new EngineCore(model, std::move(tokenizer), std::move(config), std::move(plan), std::move(cache)));
}

EngineCore::EngineCore(model::Model& model, std::shared_ptr<const tokenizer::Tokenizer> tokenizer, EngineConfig config,
                       KVPoolPlan plan, model::KVCache cache)
    : model_(model),
      tokenizer_(std::move(tokenizer)),
      config_(std::move(config)),
      plan_(std::move(plan)),
      // A sequence never needs more than the whole pool: longer ones could not run even alone.
      max_model_len_(std::min<int64_t>(context_length(model, config_),
                                       static_cast<int64_t>(plan_.num_blocks - 1) * config_.block_size)),
      kv_(KVCacheConfig{plan_.num_blocks, config_.block_size, config_.enable_prefix_caching, model_fingerprint(model)}),
      scheduler_(SchedulerConfig{config_.max_num_seqs, config_.max_num_batched_tokens, config_.enable_chunked_prefill},
                 kv_),
      runner_(model, std::move(cache)) {
  for (int64_t id : model.config().eos_token_ids) eos_ids_.push_back(static_cast<int32_t>(id));
  if (tokenizer_)
    for (int32_t id : tokenizer_->end_of_generation_ids())
      if (std::find(eos_ids_.begin(), eos_ids_.end(), id) == eos_ids_.end()) eos_ids_.push_back(id);
}

Status EngineCore::validate(const GenerationRequest& req) const {
  const int64_t V = model_.config().vocab_size;
  if (req.prompt.empty()) return invalid_argument("the prompt has no tokens");
  for (int32_t id : req.prompt)
    if (id < 0 || id >= V)
      return invalid_argument("prompt token id " + std::to_string(id) + " is outside the vocabulary");
  if (static_cast<int64_t>(req.prompt.size()) >= max_model_len_)
    return invalid_argument("the prompt has " + std::to_string(req.prompt.size()) + " tokens; at most " +
                            std::to_string(max_model_len_ - 1) + " fit this model's context (" +
                            std::to_string(max_model_len_) + " tokens with the output)");
  if (req.max_tokens < 1 || req.max_tokens > kMaxTokensLimit) return invalid_argument("max_tokens must be positive");
  const int32_t max_n = std::min(kMaxN, config_.max_num_seqs);
  if (req.n < 1 || req.n > max_n) return invalid_argument("n must be between 1 and " + std::to_string(max_n));
  if (req.sampling.min_tokens > req.max_tokens) return invalid_argument("min_tokens must not exceed max_tokens");
  TESSERA_RETURN_IF_ERROR(engine::validate(req.sampling, V));
  for (int32_t id : req.stop_token_ids)
    if (id < 0 || id >= V)
      return invalid_argument("stop_token_ids: " + std::to_string(id) + " is outside the vocabulary");
  const bool has_stop_string =
      std::any_of(req.stop.begin(), req.stop.end(), [](const std::string& s) { return !s.empty(); });
  if (has_stop_string && (!tokenizer_ || !req.detokenize))
    return invalid_argument("stop strings need detokenized output (and a tokenizer)");
  return Status();
}

void EngineCore::add_request(RequestId id, GenerationRequest request, std::shared_ptr<RequestStream> stream) {
  auto group = std::make_unique<RequestGroup>();
  group->id = id;
  group->stream = std::move(stream);
  group->usage.prompt_tokens = static_cast<int64_t>(request.prompt.size());
  group->min_tokens_mask = request.stop_token_ids;
  if (!request.ignore_eos)
    group->min_tokens_mask.insert(group->min_tokens_mask.end(), eos_ids_.begin(), eos_ids_.end());
  group->params = std::move(request);
  const GenerationRequest& p = group->params;
  counters_.prompt_tokens_total += static_cast<int64_t>(p.prompt.size());

  std::vector<std::unique_ptr<CoreRequest>>& seqs = sequences_[id];
  for (int32_t i = 0; i < p.n; ++i) {
    auto r = std::make_unique<CoreRequest>();
    r->id = next_seq_id_++;
    r->group = group.get();
    r->index = i;
    r->token_ids = p.prompt;
    r->num_prompt_tokens = static_cast<int64_t>(p.prompt.size());
    r->max_len = std::min<int64_t>(r->num_prompt_tokens + p.max_tokens, max_model_len_);
    r->cache_salt = p.cache_salt;
    r->adapter_id = p.adapter_id;
    r->media = p.media;
    // Sequence i of a seeded request has its own stream, derived from the seed: n > 1 gives n different answers,
    // each reproducible.
    SamplingParams sp = p.sampling;
    if (sp.seed && i > 0) sp.seed = XXH3_64bits_withSeed(&i, sizeof i, *sp.seed);
    r->rng = make_rng(sp);
    if (tokenizer_ && p.detokenize) {
      tokenizer::StreamDecoder::Options o;
      o.skip_special = p.skip_special_tokens;
      r->decoder.emplace(*tokenizer_, o);
      if (!p.stop.empty()) r->stops.emplace(p.stop);
    }
    seqs.push_back(std::move(r));
  }
  // The first sequence computes the prompt; the others fork from it when its logits are ready.
  scheduler_.add_waiting(seqs[0].get());
  groups_[id] = std::move(group);
}

void EngineCore::abort_request(RequestId id) {
  auto it = sequences_.find(id);
  if (it == sequences_.end()) return;
  for (auto& r : it->second)
    if (!r->finished) finish(*r, FinishReason::kAbort, RequestEvent{});
  release_if_done(*groups_[id]);
}

void EngineCore::abort_all() {
  std::vector<RequestId> ids;
  for (auto& [id, g] : groups_) ids.push_back(id);
  for (RequestId id : ids) abort_request(id);
}

bool EngineCore::is_eos(const CoreRequest& r, int32_t token) const {
  const GenerationRequest& p = r.group->params;
  if (std::find(p.stop_token_ids.begin(), p.stop_token_ids.end(), token) != p.stop_token_ids.end()) return true;
  return !p.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), token) != eos_ids_.end();
}

void EngineCore::finish(CoreRequest& r, FinishReason reason, RequestEvent event) {
  RequestGroup& g = *r.group;
  r.finished = true;
  scheduler_.remove(&r);
  ++g.num_finished;
  event.index = r.index;
  event.finish = reason;
  event.usage = g.usage;
  g.stream->push(std::move(event));
  if (g.num_finished == g.params.n) ++counters_.requests_finished;
}

void EngineCore::release_if_done(RequestGroup& g) {
  if (g.num_finished < g.params.n) return;
  const RequestId id = g.id;
  sequences_.erase(id);
  groups_.erase(id);  // destroys g
}

void EngineCore::fail_group(RequestGroup& g, const std::string& message) {
  for (auto& r : sequences_[g.id]) {
    if (r->finished) continue;
    RequestEvent ev;
    ev.error = message;
    finish(*r, FinishReason::kError, std::move(ev));
  }
}

void EngineCore::append_token(CoreRequest& r, const SampleResult& sample) {
  RequestGroup& g = *r.group;
  const GenerationRequest& p = g.params;
  const int32_t tok = sample.token;
  r.token_ids.push_back(tok);
  ++g.usage.completion_tokens;
  ++counters_.generation_tokens_total;

  RequestEvent ev;
  ev.token_ids.push_back(tok);
  if (p.sampling.num_logprobs >= 0) ev.logprobs.push_back(sample);
  const bool stop_token = is_eos(r, tok);
  const bool at_length = static_cast<int64_t>(r.token_ids.size()) >= r.max_len;
  if (r.decoder) {
    // A stop token's own text is not part of the answer (EOS is special and shows nothing anyway).
    std::string text = stop_token && !p.include_stop_str_in_output ? std::string() : r.decoder->push(tok);
    if (stop_token || at_length) text += r.decoder->finish();
    if (r.stops) {
      std::string shown = r.stops->push(text);
      if (r.stops->stopped()) {
        ev.stop_string = p.stop[r.stops->matched_index()];
        if (p.include_stop_str_in_output) shown += ev.stop_string;
      } else if (stop_token || at_length) {
        shown += r.stops->finish();
      }
      text = std::move(shown);
    }
    ev.text = std::move(text);
  }
  if (r.stops && r.stops->stopped()) {
    finish(r, FinishReason::kStop, std::move(ev));
  } else if (stop_token) {
    ev.stop_token_id = tok;
    finish(r, FinishReason::kStop, std::move(ev));
  } else if (at_length) {
    finish(r, FinishReason::kLength, std::move(ev));
  } else {
    ev.index = r.index;
    ev.usage = g.usage;
    g.stream->push(std::move(ev));
  }
}

void EngineCore::fork_siblings(CoreRequest& first, std::span<const float> logits) {
  RequestGroup& g = *first.group;
  const std::vector<std::unique_ptr<CoreRequest>>& seqs = sequences_[g.id];
  for (size_t i = 1; i < seqs.size(); ++i) {
    CoreRequest& sib = *seqs[i];
    if (sib.finished) continue;
    // Shares the prompt's full blocks; the partial last block is recomputed with its first token next step.
    kv_.share_prefix(first, sib, first.num_prompt_tokens);
    sib.num_cached_tokens = first.num_cached_tokens;
    scheduler_.add_running(&sib);
    row_copy_.assign(logits.begin(), logits.end());
    const SampleResult s =
        sampler_.sample(row_copy_, g.params.sampling, sib.prompt(), sib.output(), g.min_tokens_mask, sib.rng);
    append_token(sib, s);
  }
}

bool EngineCore::step() {
  const auto t0 = std::chrono::steady_clock::now();
  SchedulerOutput out = scheduler_.schedule();
  if (out.empty()) return false;

  std::vector<Request*> sampled;
  if (Status s = runner_.execute(out, logits_, sampled); !s.ok()) {
    // The batch failed as a whole (a backend error): its requests end with the reason; the engine goes on.
    TESSERA_LOG_ERROR("forward pass failed: %s", s.to_string().c_str());
    std::vector<RequestGroup*> failed;
    for (const ScheduledSequence& sch : out.scheduled) {
      RequestGroup* g = static_cast<CoreRequest*>(sch.request)->group;
      if (std::find(failed.begin(), failed.end(), g) == failed.end()) failed.push_back(g);
    }
    for (RequestGroup* g : failed) {
      fail_group(*g, "the forward pass failed: " + std::string(s.message()));
      release_if_done(*g);
    }
    kv_.reset_prefix_cache();  // blocks registered for this step hold no K/V
    return true;
  }
  for (const ScheduledSequence& sch : out.scheduled) Scheduler::advance(sch);

  const int64_t V = model_.config().vocab_size;
  std::vector<RequestGroup*> touched;
  for (size_t i = 0; i < sampled.size(); ++i) {
    auto& r = *static_cast<CoreRequest*>(sampled[i]);
    RequestGroup& g = *r.group;
    std::span<float> row(logits_.data() + i * V, static_cast<size_t>(V));
    std::vector<float> siblings_logits;  // n > 1: the prompt's logits, for the other sequences' first tokens
    if (r.num_output_tokens() == 0 && r.index == 0) {
      g.usage.cached_tokens = std::max<int64_t>(0, r.num_cached_tokens);
      if (g.params.n > 1) siblings_logits.assign(row.begin(), row.end());
    }
    const SampleResult s = sampler_.sample(row, g.params.sampling, r.prompt(), r.output(), g.min_tokens_mask, r.rng);
    // Siblings fork while the first sequence still holds the prompt's blocks: its first token may finish it.
    if (!siblings_logits.empty()) fork_siblings(r, siblings_logits);
    append_token(r, s);
    touched.push_back(&g);
  }
  // Groups are destroyed only after the loop: `sampled` may hold several sequences of one group.
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (RequestGroup* g : touched) release_if_done(*g);

  ++counters_.num_steps;
  counters_.last_batch_tokens = static_cast<int32_t>(out.num_tokens);
  counters_.last_batch_seqs = static_cast<int32_t>(out.scheduled.size());
  counters_.batch_tokens_total += out.num_tokens;
  counters_.last_step_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  counters_.step_seconds_total += counters_.last_step_seconds;
  return true;
}

EngineStats EngineCore::stats() const {
  EngineStats s = counters_;
  s.num_running = scheduler_.num_running();
  s.num_waiting = scheduler_.num_waiting();
  s.num_blocks = kv_.pool().num_blocks() - 1;
  s.num_free_blocks = kv_.pool().num_free_blocks();
  s.kv_usage = kv_.usage();
  s.prefix_cache_queries = kv_.prefix_cache_stats().num_queries;
  s.prefix_cache_query_tokens = kv_.prefix_cache_stats().num_query_tokens;
  s.prefix_cache_hit_tokens = kv_.prefix_cache_stats().num_hit_tokens;
  s.num_preemptions = scheduler_.num_preemptions();
  s.kv_usage_at_first_preemption = scheduler_.usage_at_first_preemption();
  return s;
}

}  // namespace tessera::engine
