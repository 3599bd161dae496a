// Randomized workloads through EngineCore with a tiny real model: arrivals at random steps, varied prompt and
// output lengths, shared prefixes (cache hits), n > 1, aborts, a pool small enough to force preemption, and random
// scheduler settings. After every step the pool's books must balance; at the end every request has finished with a
// reason, the pool is entirely free, and every greedy request produced exactly the tokens it produces alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine_test_util.h"

namespace tessera::engine {
namespace {

using testing::Driver;
using testing::greedy;

struct Workload {
  uint64_t seed;
  EngineConfig config;
};

// Reference tokens of a greedy request run alone in a roomy engine, memoized by prompt and length.
class AloneOracle {
 public:
  explicit AloneOracle(testing::LoadedModel& m) {
    EngineConfig c;
    c.num_blocks = 256;
    core_ = testing::make_core(m, c);
  }
  const std::vector<int32_t>& tokens(const GenerationRequest& r) {
    auto key = std::make_pair(r.prompt, r.max_tokens);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    Driver d(*core_);
    const RequestId id = d.add(greedy(r.prompt, r.max_tokens));
    EXPECT_TRUE(d.run());
    return memo_[key] = d.result(id).tokens[0];
  }

 private:
  std::unique_ptr<EngineCore> core_;
  std::map<std::pair<std::vector<int32_t>, int32_t>, std::vector<int32_t>> memo_;
};

// The pool's books: free blocks + blocks with owners = all usable blocks, and no negative count.
void check_pool(const EngineCore& core) {
  const BlockPool& pool = core.kv().pool();
  int32_t owned = 0;
  for (BlockId b = 1; b < pool.num_blocks(); ++b) {
    ASSERT_GE(pool.ref_count(b), 0);
    owned += pool.ref_count(b) > 0;
  }
  ASSERT_EQ(owned + pool.num_free_blocks(), pool.num_blocks() - 1);
}

// Returns the number of preemptions the workload caused.
int64_t run_workload(testing::LoadedModel& m, AloneOracle& oracle, const Workload& w) {
  SCOPED_TRACE("seed " + std::to_string(w.seed));
  auto core = testing::make_core(m, w.config);
  if (!core) return 0;
  Driver d(*core);
  std::mt19937_64 rng(w.seed);
  // A few shared prefixes so that prompts hit the cache and share blocks.
  std::vector<std::vector<int32_t>> prefixes;
  for (int i = 0; i < 3; ++i) prefixes.push_back(testing::random_prompt(rng, 8 + static_cast<int>(rng() % 30), 512));

  std::map<RequestId, GenerationRequest> greedy_requests;
  std::set<RequestId> aborted, all;
  const int num_requests = 40;
  int submitted = 0;
  for (int step = 0; step < 5000 && (submitted < num_requests || core->has_work()); ++step) {
    // Arrivals: 0 to 3 per step.
    for (int k = static_cast<int>(rng() % 4); k > 0 && submitted < num_requests; --k, ++submitted) {
      std::vector<int32_t> prompt;
      if (rng() % 2) prompt = prefixes[rng() % prefixes.size()];
      auto tail = testing::random_prompt(rng, 1 + static_cast<int>(rng() % 40), 512);
      prompt.insert(prompt.end(), tail.begin(), tail.end());
      GenerationRequest r = greedy(prompt, 1 + static_cast<int32_t>(rng() % 24));
      if (rng() % 4 == 0) {
        r.sampling.temperature = 1.0f;
        r.n = std::min(w.config.max_num_seqs, 1 + static_cast<int32_t>(rng() % 3));
      }
      EXPECT_TRUE(core->validate(r).ok()) << core->validate(r).to_string();
      const RequestId id = d.add(r);
      all.insert(id);
      if (r.sampling.temperature == 0.0f) greedy_requests[id] = r;
    }
    // Aborts: now and then, of a random earlier request (finished or not: both must be harmless).
    if (!all.empty() && rng() % 10 == 0) {
      const RequestId victim = 1 + rng() % all.size();
      if (!d.finished(victim)) aborted.insert(victim);
      core->abort_request(victim);
    }
    core->step();
    d.collect();
    check_pool(*core);
    if (::testing::Test::HasFatalFailure()) return 0;
  }
  EXPECT_FALSE(core->has_work());
  testing::expect_pool_free(*core);

  for (RequestId id : all) {
    EXPECT_TRUE(d.finished(id)) << "request " << id;
    const testing::Result& res = d.result(id);
    bool all_finished = true;
    for (const RequestEvent& f : res.finish) all_finished &= f.finish.has_value();
    EXPECT_TRUE(all_finished) << "request " << id;
    if (!all_finished) continue;
    if (aborted.count(id)) continue;
    for (const RequestEvent& f : res.finish) EXPECT_EQ(*f.finish, FinishReason::kLength) << "request " << id;
    auto g = greedy_requests.find(id);
    if (g != greedy_requests.end()) {
      EXPECT_EQ(res.tokens[0], oracle.tokens(g->second)) << "request " << id;
    }
  }
  const EngineStats st = core->stats();
  EXPECT_EQ(st.num_running + st.num_waiting, 0);
  return st.num_preemptions;
}

TEST(EngineWorkload, RandomWorkloadsKeepTheBooksAndTheTokens) {
  auto m = testing::load(testing::tiny_model_path(), false, 1);
  AloneOracle oracle(m);
  int64_t preempting_runs = 0;
  for (uint64_t seed = 1; seed <= 8; ++seed) {
    std::mt19937_64 rng(seed * 7919);
    EngineConfig c;
    c.block_size = 1 + static_cast<int32_t>(rng() % 8);
    // Small pools force preemption; the smallest still holds the longest request (~100 tokens) alone.
    c.num_blocks = 110 / c.block_size + 2 + static_cast<int32_t>(rng() % 40);
    c.max_num_batched_tokens = 8 + static_cast<int32_t>(rng() % 64);
    c.max_num_seqs = 1 + static_cast<int32_t>(rng() % 12);
    c.enable_prefix_caching = rng() % 4 != 0;
    c.enable_chunked_prefill = rng() % 4 != 0;
    preempting_runs += run_workload(m, oracle, {seed, c}) > 0;
    if (HasFatalFailure()) return;
  }
  EXPECT_GT(preempting_runs, 0);
}

}  // namespace
}  // namespace tessera::engine
