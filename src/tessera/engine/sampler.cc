#include "tessera/engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace tessera::engine {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr int32_t kMaxLogprobs = 20;

// Most likely first; ties broken by the smaller id, so the order (and thus a seeded draw) is deterministic.
struct ByLogitDesc {
  std::span<const float> logits;
  bool operator()(int32_t a, int32_t b) const { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); }
};

}  // namespace

Status validate(const SamplingParams& p, int64_t vocab_size) {
  auto bad = [](const std::string& what) { return invalid_argument(what); };
  if (!(p.temperature >= 0.0f) || !std::isfinite(p.temperature)) return bad("temperature must be a number >= 0");
  if (p.top_k < 0) return bad("top_k must be >= 0 (0 turns it off)");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return bad("top_p must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return bad("min_p must be in [0, 1]");
  if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
    return bad("repetition_penalty must be > 0");
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) return bad("presence_penalty must be in [-2, 2]");
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f))
    return bad("frequency_penalty must be in [-2, 2]");
  if (p.min_tokens < 0) return bad("min_tokens must be >= 0");
  if (p.num_logprobs < -1 || p.num_logprobs > kMaxLogprobs) return bad("logprobs must be between 0 and 20");
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab_size)
      return bad("logit_bias: token id " + std::to_string(id) + " is not in the vocabulary");
    if (!(bias >= -100.0f && bias <= 100.0f)) return bad("logit_bias: values must be in [-100, 100]");
  }
  return Status();
}

std::mt19937_64 make_rng(const SamplingParams& p) {
  if (p.seed) return std::mt19937_64(*p.seed);
  std::random_device rd;
  return std::mt19937_64((static_cast<uint64_t>(rd()) << 32) ^ rd());
}

void Sampler::apply_penalties(std::span<float> logits, const SamplingParams& p, std::span<const int32_t> prompt,
                              std::span<const int32_t> output) {
  const size_t V = logits.size();
  if (p.repetition_penalty != 1.0f) {
    seen_.resize(V, 0);
    // Each distinct token once: divide a positive logit, multiply a negative one (both make it less likely).
    auto penalize = [&](int32_t id) {
      if (id < 0 || static_cast<size_t>(id) >= V || seen_[id]) return;
      seen_[id] = 1;
      logits[id] = logits[id] > 0 ? logits[id] / p.repetition_penalty : logits[id] * p.repetition_penalty;
    };
    for (int32_t id : prompt) penalize(id);
    for (int32_t id : output) penalize(id);
    for (int32_t id : prompt)
      if (id >= 0 && static_cast<size_t>(id) < V) seen_[id] = 0;
    for (int32_t id : output)
      if (id >= 0 && static_cast<size_t>(id) < V) seen_[id] = 0;
  }
  if (p.presence_penalty != 0.0f || p.frequency_penalty != 0.0f) {
    counts_.resize(V, 0);
    for (int32_t id : output)
      if (id >= 0 && static_cast<size_t>(id) < V) ++counts_[id];
    for (int32_t id : output) {
      if (id < 0 || static_cast<size_t>(id) >= V || counts_[id] == 0) continue;
      logits[id] -= p.presence_penalty + p.frequency_penalty * static_cast<float>(counts_[id]);
      counts_[id] = 0;  // applied once per distinct token; also leaves the array zeroed for the next call
    }
  }
}

void Sampler::filter_candidates(std::span<const float> logits, const SamplingParams& p) {
  const int32_t V = static_cast<int32_t>(logits.size());
  const ByLogitDesc desc{logits};
  order_.resize(V);
  std::iota(order_.begin(), order_.end(), 0);
  // top_k: the k most likely, in any order for now.
  int32_t k = p.top_k > 0 ? std::min(p.top_k, V) : V;
  if (k < V) std::nth_element(order_.begin(), order_.begin() + k, order_.end(), desc);
  float max_logit = kNegInf;
  for (int32_t i = 0; i < k; ++i) max_logit = std::max(max_logit, logits[order_[i]]);
  const float inv_t = 1.0f / p.temperature;
  auto weight = [&](int32_t id) { return std::exp((logits[id] - max_logit) * inv_t); };

  // top_p: the shortest most-likely prefix whose mass reaches top_p. Sorting all of the vocabulary would cost
  // milliseconds per row, so sort a growing head of it until the head holds enough mass.
  if (p.top_p < 1.0f) {
    double total = 0;
    for (int32_t i = 0; i < k; ++i) total += weight(order_[i]);
    const double target = p.top_p * total;
    for (int32_t head = std::min(k, 64);; head = std::min(k, head * 4)) {
      std::partial_sort(order_.begin(), order_.begin() + head, order_.begin() + k, desc);
      double mass = 0;
      int32_t cut = -1;
      for (int32_t i = 0; i < head; ++i) {
        mass += weight(order_[i]);
        if (mass >= target) {
          cut = i + 1;
          break;
        }
      }
      if (cut > 0) {
        k = cut;
        break;
      }
      if (head == k) break;  // rounding: the whole set is needed
    }
  }

  // min_p: relative to the most likely token, whose weight is 1.
  kept_.clear();
  double kept_total = 0;
  for (int32_t i = 0; i < k; ++i) {
    const float w = weight(order_[i]);
    if (w > 0.0f && w >= p.min_p) {
      kept_.emplace_back(order_[i], w);
      kept_total += w;
    }
  }
  for (auto& [id, w] : kept_) w = static_cast<float>(w / kept_total);
}

SampleResult Sampler::sample(std::span<float> logits, const SamplingParams& p, std::span<const int32_t> prompt,
                             std::span<const int32_t> output, std::span<const int32_t> eos_ids, std::mt19937_64& rng) {
  const int32_t V = static_cast<int32_t>(logits.size());
  SampleResult r;

  // Raw log-probabilities, before anything below changes the logits.
  float log_z = 0.0f;
  if (p.num_logprobs >= 0) {
    probs_.assign(logits.begin(), logits.end());
    const float mx = *std::max_element(probs_.begin(), probs_.end());
    double sum = 0;
    for (float l : probs_) sum += std::exp(static_cast<double>(l) - mx);
    log_z = mx + static_cast<float>(std::log(sum));
    if (p.num_logprobs > 0) {
      const ByLogitDesc desc{probs_};
      order_.resize(V);
      std::iota(order_.begin(), order_.end(), 0);
      const int32_t n = std::min(p.num_logprobs, V);
      std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), desc);
      for (int32_t i = 0; i < n; ++i) r.top.push_back({order_[i], probs_[order_[i]] - log_z});
    }
  }

  for (const auto& [id, bias] : p.logit_bias) logits[id] += bias;
  if (static_cast<int32_t>(output.size()) < p.min_tokens)
    for (int32_t id : eos_ids)
      if (id >= 0 && id < V) logits[id] = kNegInf;
  apply_penalties(logits, p, prompt, output);

  const auto argmax = [&] {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  };
  if (p.temperature == 0.0f || p.top_k == 1) {
    r.token = argmax();
  } else if (filter_candidates(logits, p); kept_.empty()) {
    r.token = argmax();  // every logit is -inf: nothing to draw from
  } else {
    const double u = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    double acc = 0;
    r.token = kept_.back().first;  // where rounding leaves the cumulative sum just below u
    for (const auto& [id, prob] : kept_) {
      acc += prob;
      if (u < acc) {
        r.token = id;
        break;
      }
    }
  }
  if (p.num_logprobs >= 0) r.logprob = probs_[r.token] - log_z;
  return r;
}

}  // namespace tessera::engine
