// EngineCore with real models on the CPU: the default model's greedy tokens through the engine equal the
// transformers reference; a request's tokens do not depend on what shares its batch (other requests, prefix-cache
// hits, preemption, chunked prefill), greedy or seeded; stops, n > 1, aborts and validation.
#include "tessera/engine/engine_core.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine_test_util.h"

namespace tessera::engine {
namespace {

using testing::Driver;
using testing::greedy;
using testing::load;
using testing::make_core;
using testing::random_prompt;

EngineConfig small_config() {
  EngineConfig c;
  c.num_blocks = 256;
  c.max_num_batched_tokens = 256;
  return c;
}

TEST(EngineCore, DefaultModelGivesTheReferenceGreedyTokens) {
  TESSERA_REQUIRE_FILE(::tessera::testing::default_model_path());
  auto m = load(::tessera::testing::default_model_path(), false);
  std::ifstream f(::tessera::testing::fixtures_dir() + "/reference.json");
  const nlohmann::json ref = nlohmann::json::parse(f);
  auto core = make_core(m, small_config());
  Driver d(*core);
  std::vector<std::pair<RequestId, std::vector<int32_t>>> expected;
  // All the default model's cases in one batch.
  for (const auto& c : ref["cases"]) {
    if (c["model"] != "default") continue;
    auto want = c["greedy_tokens"].get<std::vector<int32_t>>();
    expected.emplace_back(d.add(greedy(c["prompt_ids"].get<std::vector<int32_t>>(), static_cast<int32_t>(want.size()))),
                          want);
  }
  ASSERT_GE(expected.size(), 4u);
  ASSERT_TRUE(d.run());
  for (const auto& [id, want] : expected) {
    EXPECT_EQ(d.result(id).tokens[0], want) << "request " << id;
    EXPECT_EQ(*d.result(id).finish[0].finish, FinishReason::kLength);
  }
  testing::expect_pool_free(*core);
}

// A target request and 16 others of varied lengths; the target's tokens under each configuration.
struct InvarianceCase {
  const char* name;
  EngineConfig config;
  bool with_others;
  bool twice;  // run the target a second time in the same engine: a prefix-cache hit
};

std::vector<std::vector<int32_t>> run_case(testing::LoadedModel& m, const InvarianceCase& c,
                                           const GenerationRequest& target, int64_t& preemptions, int64_t& hit_tokens) {
  const auto vocab = static_cast<int32_t>(m.model->config().vocab_size);
  auto core = make_core(m, c.config);
  Driver d(*core);
  std::mt19937_64 rng(99);
  std::vector<std::vector<int32_t>> out;
  const int rounds = c.twice ? 2 : 1;
  for (int round = 0; round < rounds; ++round) {
    std::vector<RequestId> ids;
    if (c.with_others) {
      // Others before and after the target, some sharing its first 16 tokens.
      for (int i = 0; i < 16; ++i) {
        GenerationRequest o = greedy(random_prompt(rng, 17 + static_cast<int>(rng() % 40), vocab), 8 + i % 5);
        if (i % 4 == 0) std::copy(target.prompt.begin(), target.prompt.begin() + 16, o.prompt.begin());
        if (i % 3 == 1) {
          o.sampling.temperature = 1.0f;
          o.sampling.top_k = 20;
        }
        if (i == 8) ids.push_back(d.add(target));
        d.add(std::move(o));
      }
    } else {
      ids.push_back(d.add(target));
    }
    EXPECT_TRUE(d.run());
    out.push_back(d.result(ids[0]).tokens[0]);
  }
  preemptions = core->stats().num_preemptions;
  hit_tokens = core->stats().prefix_cache_hit_tokens;
  testing::expect_pool_free(*core);
  return out;
}

// Sanitizer builds run the invariance tests on the tiny model: the default model's 30 layers at -O0 under ASan
// take many minutes per configuration. Release builds run them on the default model. The kernels' bitwise
// invariance on the default model is checked in both (tests/unit/model/batch_invariance_test.cc).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The target: `len` random tokens and 16 greedy (or, with a seed, sampled) tokens, on whichever model runs.
void check_invariance(uint64_t seed, int len, bool sampled) {
  const std::string path = kSanitized ? testing::tiny_model_path() : ::tessera::testing::default_model_path();
  TESSERA_REQUIRE_FILE(path);
  auto m = load(path, false, kSanitized ? 1 : 2);
  std::mt19937_64 rng(seed);
  GenerationRequest target = greedy(random_prompt(rng, len, static_cast<int32_t>(m.model->config().vocab_size)), 16);
  if (sampled) {
    target.sampling.temperature = 0.9f;
    target.sampling.top_p = 0.95f;
    target.sampling.seed = 1234;
  }
  EngineConfig alone = small_config();
  EngineConfig tight = small_config();
  tight.num_blocks = 12;  // 192 tokens for 17 requests of up to ~60: preemption is certain
  EngineConfig small_chunks = small_config();
  small_chunks.max_num_batched_tokens = 7;
  small_chunks.max_num_seqs = 7;
  EngineConfig unchunked = small_config();
  unchunked.enable_chunked_prefill = false;
  unchunked.max_num_batched_tokens = 24;
  unchunked.max_num_seqs = 24;
  EngineConfig no_cache = small_config();
  no_cache.enable_prefix_caching = false;
  const InvarianceCase cases[] = {
      {"among 16 others", alone, true, false},
      {"prefix-cache hit", alone, false, true},
      {"preempted", tight, true, false},
      {"7-token chunks", small_chunks, true, false},
      {"chunked prefill off", unchunked, true, false},
      {"prefix caching off", no_cache, true, true},
  };
  int64_t preemptions = 0, hits = 0;
  const std::vector<int32_t> want = run_case(m, {"alone", alone, false, false}, target, preemptions, hits)[0];
  ASSERT_EQ(want.size(), static_cast<size_t>(target.max_tokens));
  for (const InvarianceCase& c : cases) {
    const auto got = run_case(m, c, target, preemptions, hits);
    for (const auto& tokens : got) EXPECT_EQ(tokens, want) << c.name;
    const std::string name = c.name;
    if (name == "preempted") {
      EXPECT_GT(preemptions, 0) << "the tight pool must force preemption";
    }
    if (name == "prefix-cache hit") {
      EXPECT_GE(hits, 32) << "the second run must hit the cache";
    }
    if (name == "prefix caching off") {
      EXPECT_EQ(hits, 0);
    }
  }
}

TEST(EngineCore, GreedyTokensDoNotDependOnTheBatch) { check_invariance(7, 45, /*sampled=*/false); }

TEST(EngineCore, SeededTokensDoNotDependOnTheBatch) { check_invariance(8, 37, /*sampled=*/true); }

TEST(EngineCore, StopsOnStringsTokensAndLength) {
  TESSERA_REQUIRE_FILE(::tessera::testing::default_model_path());
  auto m = load(::tessera::testing::default_model_path(), true);
  auto core = make_core(m, small_config());
  Driver d(*core);
  const std::vector<int32_t> prompt = m.tokenizer->encode("Once upon a time, there was a little");
  GenerationRequest free_run = greedy(prompt, 24);
  free_run.detokenize = true;
  const RequestId base = d.add(free_run);
  ASSERT_TRUE(d.run());
  const std::vector<int32_t> tokens = d.result(base).tokens[0];
  const std::string text = d.result(base).text[0];
  ASSERT_EQ(tokens.size(), 24u);
  EXPECT_EQ(text, m.tokenizer->decode(tokens, true));
  EXPECT_EQ(*d.result(base).finish[0].finish, FinishReason::kLength);

  // A stop string from the middle of that text: the output ends right before it.
  const size_t cut = text.size() / 2;
  const std::string stop = text.substr(cut, 4);
  const size_t first = text.find(stop);
  GenerationRequest by_string = free_run;
  by_string.stop = {"never appears", stop};
  const RequestId s = d.add(by_string);
  GenerationRequest included = by_string;
  included.include_stop_str_in_output = true;
  const RequestId inc = d.add(included);
  // A stop token: the 5th generated token.
  GenerationRequest by_token = free_run;
  by_token.stop_token_ids = {tokens[4]};
  const auto first_at = std::find(tokens.begin(), tokens.end(), tokens[4]) - tokens.begin();
  const RequestId t = d.add(by_token);
  ASSERT_TRUE(d.run());
  EXPECT_EQ(d.result(s).text[0], text.substr(0, first));
  EXPECT_EQ(*d.result(s).finish[0].finish, FinishReason::kStop);
  EXPECT_EQ(d.result(s).finish[0].stop_string, stop);
  EXPECT_EQ(d.result(inc).text[0], text.substr(0, first + stop.size()));
  EXPECT_EQ(d.result(t).tokens[0].size(), static_cast<size_t>(first_at + 1));
  EXPECT_EQ(*d.result(t).finish[0].finish, FinishReason::kStop);
  EXPECT_EQ(d.result(t).finish[0].stop_token_id, tokens[4]);
  EXPECT_EQ(d.result(t).usage.completion_tokens, first_at + 1);
  EXPECT_EQ(d.result(t).usage.prompt_tokens, static_cast<int64_t>(prompt.size()));
  testing::expect_pool_free(*core);
}

TEST(EngineCore, MinTokensHoldsOffTheEndOfSequence) {
  TESSERA_REQUIRE_FILE(::tessera::testing::default_model_path());
  auto m = load(::tessera::testing::default_model_path(), true);
  auto core = make_core(m, small_config());
  Driver d(*core);
  // A short chat answer ends with the end-of-turn token; min_tokens pushes it past 40 tokens.
  const std::vector<int32_t> prompt =
      m.tokenizer->encode("<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n", false, true);
  GenerationRequest r = greedy(prompt, 200);
  r.ignore_eos = false;
  const RequestId plain = d.add(r);
  r.sampling.min_tokens = 40;
  const RequestId held = d.add(r);
  ASSERT_TRUE(d.run());
  ASSERT_EQ(*d.result(plain).finish[0].finish, FinishReason::kStop);
  ASSERT_LT(d.result(plain).tokens[0].size(), 40u);
  EXPECT_GE(d.result(held).tokens[0].size(), 40u);
}

TEST(EngineCore, NSequencesShareThePromptAndDiffer) {
  auto m = load(testing::tiny_model_path(), false, 1);
  for (bool caching : {true, false}) {
    EngineConfig c = small_config();
    c.enable_prefix_caching = caching;
    auto core = make_core(m, c);
    Driver d(*core);
    std::mt19937_64 rng(3);
    GenerationRequest r = greedy(random_prompt(rng, 40, 512), 12);
    r.sampling.temperature = 1.0f;
    r.sampling.seed = 5;
    r.n = 3;
    const RequestId id = d.add(r);
    core->step();  // the prompt (40 tokens: 2 full blocks + 8) and the three first tokens
    core->step();  // the two forked sequences recompute the 8-token tail with their first token
    // 2 blocks shared by all three sequences + one tail block each.
    const BlockPool& pool = core->kv().pool();
    EXPECT_EQ(pool.num_blocks() - 1 - pool.num_free_blocks(), 5) << "caching " << caching;
    int shared = 0;
    for (BlockId b = 1; b < pool.num_blocks(); ++b) shared += pool.ref_count(b) == 3;
    EXPECT_EQ(shared, 2) << "caching " << caching;
    ASSERT_TRUE(d.run());
    const testing::Result& res = d.result(id);
    ASSERT_EQ(res.tokens.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(res.tokens[i].size(), 12u);
      EXPECT_EQ(*res.finish[i].finish, FinishReason::kLength);
    }
    EXPECT_NE(res.tokens[0], res.tokens[1]);
    EXPECT_NE(res.tokens[1], res.tokens[2]);
    EXPECT_EQ(res.usage.completion_tokens, 36);
    // The same seed repeats all three.
    const RequestId again = d.add(r);
    ASSERT_TRUE(d.run());
    EXPECT_EQ(d.result(again).tokens, res.tokens);
    testing::expect_pool_free(*core);
  }
}

// The first sequence can finish on its very first token (max_tokens 1, a stop): its siblings must fork from its
// prompt blocks before it gives them back.
TEST(EngineCore, SiblingsForkWhenTheFirstSequenceEndsAtOnce) {
  auto m = load(testing::tiny_model_path(), false, 1);
  for (bool caching : {true, false}) {
    EngineConfig c = small_config();
    c.enable_prefix_caching = caching;
    auto core = make_core(m, c);
    Driver d(*core);
    std::mt19937_64 rng(6);
    GenerationRequest r = greedy(random_prompt(rng, 37, 512), 1);
    r.sampling.temperature = 1.0f;
    r.n = 3;
    const RequestId id = d.add(r);
    ASSERT_TRUE(d.run());
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(d.result(id).tokens[i].size(), 1u) << "caching " << caching;
      EXPECT_EQ(*d.result(id).finish[i].finish, FinishReason::kLength);
    }
    testing::expect_pool_free(*core);
  }
}

TEST(EngineCore, ReportsCachedPromptTokensAndLogprobs) {
  auto m = load(testing::tiny_model_path(), false, 1);
  auto core = make_core(m, small_config());
  Driver d(*core);
  std::mt19937_64 rng(4);
  GenerationRequest r = greedy(random_prompt(rng, 50, 256), 3);
  r.sampling.num_logprobs = 5;
  const RequestId a = d.add(r);
  ASSERT_TRUE(d.run());
  EXPECT_EQ(d.result(a).usage.cached_tokens, 0);
  const RequestId b = d.add(r);
  ASSERT_TRUE(d.run());
  EXPECT_EQ(d.result(b).usage.cached_tokens, 48);  // 3 full blocks; the last token is always recomputed
  EXPECT_EQ(d.result(b).tokens, d.result(a).tokens);
  const RequestEvent& last = d.result(b).finish[0];
  ASSERT_EQ(last.logprobs.size(), 1u);
  EXPECT_EQ(last.logprobs[0].top.size(), 5u);
  EXPECT_EQ(last.logprobs[0].top[0].token, last.token_ids[0]);  // greedy: the most likely token
  EXPECT_LE(last.logprobs[0].logprob, 0.0f);
}

TEST(EngineCore, AbortFreesEverything) {
  auto m = load(testing::tiny_model_path(), false, 1);
  auto core = make_core(m, small_config());
  Driver d(*core);
  std::mt19937_64 rng(5);
  GenerationRequest r = greedy(random_prompt(rng, 30, 256), 400);
  r.n = 2;
  const RequestId a = d.add(r);
  const RequestId b = d.add(greedy(random_prompt(rng, 30, 256), 5));
  for (int i = 0; i < 3; ++i) core->step();
  core->abort_request(a);
  core->abort_request(12345);  // unknown: ignored
  ASSERT_TRUE(d.run());
  d.collect();
  for (int i = 0; i < 2; ++i) EXPECT_EQ(*d.result(a).finish[i].finish, FinishReason::kAbort);
  EXPECT_EQ(*d.result(b).finish[0].finish, FinishReason::kLength);
  EXPECT_TRUE(d.finished(a));
  testing::expect_pool_free(*core);
}

TEST(EngineCore, RefusesRequestsThatCanNeverRun) {
  auto m = load(testing::tiny_model_path(), false, 1);
  EngineConfig c = small_config();
  c.num_blocks = 4;  // 64 tokens: less than the model's 512-token context
  auto core = make_core(m, c);
  EXPECT_EQ(core->max_model_len(), 64);
  auto ok = greedy(std::vector<int32_t>(63, 5), 100);
  EXPECT_TRUE(core->validate(ok).ok());
  auto too_long = greedy(std::vector<int32_t>(64, 5), 1);
  EXPECT_EQ(core->validate(too_long).code(), StatusCode::kInvalidArgument);
  auto bad_id = greedy({5, 512}, 1);
  EXPECT_EQ(core->validate(bad_id).code(), StatusCode::kInvalidArgument);
  auto empty = greedy({}, 1);
  EXPECT_EQ(core->validate(empty).code(), StatusCode::kInvalidArgument);
  auto zero_n = greedy({5}, 1);
  zero_n.n = 0;
  EXPECT_EQ(core->validate(zero_n).code(), StatusCode::kInvalidArgument);
  auto stop_without_tokenizer = greedy({5}, 1);
  stop_without_tokenizer.stop = {"x"};
  EXPECT_EQ(core->validate(stop_without_tokenizer).code(), StatusCode::kInvalidArgument);
  auto bad_sampling = greedy({5}, 1);
  bad_sampling.sampling.top_p = 0.0f;
  EXPECT_EQ(core->validate(bad_sampling).code(), StatusCode::kInvalidArgument);

  // The accepted request runs to the pool's capacity and stops by length there.
  Driver d(*core);
  const RequestId id = d.add(ok);
  ASSERT_TRUE(d.run());
  EXPECT_EQ(d.result(id).tokens[0].size(), 1u);
  EXPECT_EQ(*d.result(id).finish[0].finish, FinishReason::kLength);
}

}  // namespace
}  // namespace tessera::engine
