#include "tessera/engine/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "../test_util.h"

namespace tessera::engine {
namespace {

std::vector<float> logits_of(std::initializer_list<float> v) { return std::vector<float>(v); }

SampleResult draw(Sampler& s, std::vector<float> logits, const SamplingParams& p, std::mt19937_64& rng,
                  std::vector<int32_t> prompt = {}, std::vector<int32_t> output = {}, std::vector<int32_t> eos = {}) {
  return s.sample(logits, p, prompt, output, eos, rng);
}

TEST(Sampler, GreedyIsArgmaxAndIgnoresTheRng) {
  Sampler s;
  SamplingParams p;
  p.temperature = 0.0f;
  std::mt19937_64 rng(1);
  const auto x = testing::random_floats(1000, 3, -5, 5);
  const int32_t want = static_cast<int32_t>(std::max_element(x.begin(), x.end()) - x.begin());
  for (int i = 0; i < 5; ++i) EXPECT_EQ(draw(s, x, p, rng).token, want);
  p.temperature = 2.0f;
  p.top_k = 1;
  EXPECT_EQ(draw(s, x, p, rng).token, want);
}

// Frequencies of many seeded draws match softmax(logits / T) within sampling error (5 sigma).
TEST(Sampler, TemperatureSamplingFollowsTheDistribution) {
  Sampler s;
  SamplingParams p;
  p.temperature = 0.7f;
  std::mt19937_64 rng(42);
  const std::vector<float> x = {1.0f, 0.5f, -0.3f, 2.0f, 0.0f};
  std::vector<double> want(x.size());
  double z = 0;
  for (size_t i = 0; i < x.size(); ++i) z += (want[i] = std::exp(x[i] / 0.7));
  const int n = 20000;
  std::vector<int> got(x.size(), 0);
  for (int i = 0; i < n; ++i) ++got[draw(s, x, p, rng).token];
  for (size_t i = 0; i < x.size(); ++i) {
    const double q = want[i] / z, sigma = std::sqrt(n * q * (1 - q));
    EXPECT_NEAR(got[i], n * q, 5 * sigma) << "token " << i;
  }
}

TEST(Sampler, TopKTopPAndMinPOnlyDrawFromTheirSets) {
  Sampler s;
  std::mt19937_64 rng(7);
  // Probabilities at T=1 (after normalization): 0.5, 0.25, 0.125, 0.0625, ...
  std::vector<float> x;
  for (int i = 0; i < 200; ++i) x.push_back(-static_cast<float>(i) * std::log(2.0f));
  auto seen = [&](const SamplingParams& p) {
    std::map<int32_t, int> m;
    for (int i = 0; i < 3000; ++i) ++m[draw(s, x, p, rng).token];
    return m;
  };
  SamplingParams k;
  k.top_k = 3;
  auto m = seen(k);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.rbegin()->first, 2);
  SamplingParams tp;
  tp.top_p = 0.8f;  // 0.5 + 0.25 = 0.75 < 0.8 <= 0.875: the first three
  m = seen(tp);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.rbegin()->first, 2);
  tp.top_p = 0.999f;  // nearly all the mass: at least the ten most likely tokens
  m = seen(tp);
  EXPECT_GE(m.size(), 5u);
  SamplingParams mp;
  mp.min_p = 0.2f;  // keeps probabilities >= 0.1: the first three
  m = seen(mp);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.rbegin()->first, 2);
}

// top_p over a large flat-ish vocabulary, where the nucleus is longer than the first sorted head.
TEST(Sampler, TopPWithAWideNucleus) {
  Sampler s;
  std::mt19937_64 rng(9);
  std::vector<float> x(5000, 0.0f);
  for (int i = 0; i < 1000; ++i) x[i] = 5.0f;  // 1000 equal favourites hold ~99.3% of the mass
  SamplingParams p;
  p.top_p = 0.9f;
  for (int i = 0; i < 2000; ++i) {
    const int32_t t = draw(s, x, p, rng).token;
    ASSERT_LT(t, 1000);
  }
}

TEST(Sampler, LogitBiasBansAndForces) {
  Sampler s;
  std::mt19937_64 rng(3);
  SamplingParams p;
  p.logit_bias = {{2, 100.0f}};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(draw(s, logits_of({3, 1, 0, 2}), p, rng).token, 2);
  p.logit_bias = {{0, -100.0f}};
  p.temperature = 0.0f;
  EXPECT_EQ(draw(s, logits_of({3, 1, 0, 2}), p, rng).token, 3);
}

TEST(Sampler, PenaltiesFollowTheirFormulas) {
  Sampler s;
  std::mt19937_64 rng(3);
  SamplingParams p;
  p.temperature = 0.0f;
  p.repetition_penalty = 2.0f;
  std::vector<float> x = {4.0f, -1.0f, 3.0f, 1.0f};
  std::vector<int32_t> prompt = {0, 1, 0}, output = {};
  s.sample(x, p, prompt, output, {}, rng);
  EXPECT_EQ(x, (std::vector<float>{2.0f, -2.0f, 3.0f, 1.0f}));  // each distinct token once

  SamplingParams q;
  q.temperature = 0.0f;
  q.presence_penalty = 0.5f;
  q.frequency_penalty = 0.25f;
  x = {4.0f, -1.0f, 3.0f, 1.0f};
  prompt = {3};
  output = {2, 2, 1};
  s.sample(x, q, prompt, output, {}, rng);
  EXPECT_EQ(x, (std::vector<float>{4.0f, -1.75f, 2.0f, 1.0f}));  // prompt tokens are not penalized
  // The scratch counts were reset: the same call again applies the same amounts.
  x = {4.0f, -1.0f, 3.0f, 1.0f};
  s.sample(x, q, prompt, output, {}, rng);
  EXPECT_EQ(x, (std::vector<float>{4.0f, -1.75f, 2.0f, 1.0f}));
}

TEST(Sampler, MinTokensMasksEndOfSequence) {
  Sampler s;
  std::mt19937_64 rng(3);
  SamplingParams p;
  p.temperature = 0.0f;
  p.min_tokens = 2;
  const std::vector<int32_t> eos = {0};
  EXPECT_EQ(draw(s, logits_of({9, 1, 2}), p, rng, {}, {5}, eos).token, 2);
  EXPECT_EQ(draw(s, logits_of({9, 1, 2}), p, rng, {}, {5, 6}, eos).token, 0);
}

TEST(Sampler, SeededRequestsRepeatWhateverElseIsSampled) {
  Sampler s;
  SamplingParams p;
  p.seed = 1234;
  p.top_p = 0.95f;
  const auto x = testing::random_floats(3000, 5, -3, 3);
  auto run = [&](bool interleave) {
    std::mt19937_64 rng = make_rng(p), other(99);
    SamplingParams q;
    std::vector<int32_t> out;
    for (int i = 0; i < 40; ++i) {
      out.push_back(draw(s, x, p, rng).token);
      if (interleave) draw(s, x, q, other);  // another request in the same batch
    }
    return out;
  };
  EXPECT_EQ(run(false), run(true));
}

TEST(Sampler, LogprobsAreTheRawDistribution) {
  Sampler s;
  std::mt19937_64 rng(3);
  SamplingParams p;
  p.temperature = 0.0f;
  p.num_logprobs = 2;
  p.logit_bias = {{1, 50.0f}};  // changes the choice, not the reported raw logprobs
  const std::vector<float> x = {2.0f, 0.0f, 1.0f};
  const double z = std::log(std::exp(2.0) + std::exp(0.0) + std::exp(1.0));
  const SampleResult r = draw(s, x, p, rng);
  EXPECT_EQ(r.token, 1);
  EXPECT_NEAR(r.logprob, 0.0 - z, 1e-6);
  ASSERT_EQ(r.top.size(), 2u);
  EXPECT_EQ(r.top[0].token, 0);
  EXPECT_NEAR(r.top[0].logprob, 2.0 - z, 1e-6);
  EXPECT_EQ(r.top[1].token, 2);
}

TEST(Sampler, ValidateNamesTheBadField) {
  SamplingParams p;
  EXPECT_TRUE(validate(p, 10).ok());
  p.top_p = 0.0f;
  EXPECT_NE(validate(p, 10).message().find("top_p"), std::string::npos);
  p = SamplingParams();
  p.logit_bias = {{10, 1.0f}};
  EXPECT_NE(validate(p, 10).message().find("logit_bias"), std::string::npos);
  p = SamplingParams();
  p.num_logprobs = 21;
  EXPECT_FALSE(validate(p, 10).ok());
  p = SamplingParams();
  p.temperature = -1.0f;
  EXPECT_FALSE(validate(p, 10).ok());
}

}  // namespace
}  // namespace tessera::engine
