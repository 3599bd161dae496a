// The scheduler's decisions on hand-built sequences, no model involved: token budget, decodes before prefill
// chunks, preemption of the newest, admission order, the sequence cap and chunked prefill switched off.
#include "tessera/engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <vector>

namespace tessera::engine {
namespace {

constexpr int32_t kBlockSize = 4;

struct Fixture {
  explicit Fixture(int32_t num_blocks, SchedulerConfig sc, bool prefix_caching = true)
      : kv(KVCacheConfig{num_blocks, kBlockSize, prefix_caching, "m"}), sched(sc, kv) {}

  Request* add(int n, TokenId start) {
    auto r = std::make_unique<Request>();
    r->id = static_cast<RequestId>(requests.size() + 1);
    r->token_ids.resize(static_cast<size_t>(n));
    std::iota(r->token_ids.begin(), r->token_ids.end(), start);
    requests.push_back(std::move(r));
    sched.add_waiting(requests.back().get());
    return requests.back().get();
  }

  // One step: schedule, mark the tokens computed, and give every sequence that reached its end a new token.
  std::map<Request*, int64_t> step() {
    last = sched.schedule();
    std::map<Request*, int64_t> n;
    for (const ScheduledSequence& s : last.scheduled) {
      Scheduler::advance(s);
      n[s.request] = s.num_new_tokens;
      if (s.request->num_computed_tokens == static_cast<int64_t>(s.request->token_ids.size()))
        s.request->token_ids.push_back(7);
    }
    return n;
  }

  KVCacheManager kv;
  Scheduler sched;
  std::vector<std::unique_ptr<Request>> requests;
  SchedulerOutput last;
};

TEST(Scheduler, ChunksAPromptOverTheTokenBudget) {
  Fixture f(64, {.max_num_seqs = 10, .max_num_batched_tokens = 8});
  Request* a = f.add(10, 100);
  EXPECT_EQ(f.step()[a], 8);
  EXPECT_EQ(f.last.num_tokens, 8);
  EXPECT_EQ(a->token_ids.size(), 10u);  // no logits yet: the prompt is not finished
  EXPECT_EQ(f.step()[a], 2);
  EXPECT_EQ(a->token_ids.size(), 11u);  // sampled
  EXPECT_EQ(f.step()[a], 1);            // decoding
}

TEST(Scheduler, ALongPromptTakesOnlyWhatTheDecodesLeave) {
  Fixture f(64, {.max_num_seqs = 10, .max_num_batched_tokens = 8});
  Request* b = f.add(3, 500);
  Request* c = f.add(2, 600);
  f.step();  // both prefilled
  Request* a = f.add(40, 100);
  // Every step until a's 40 tokens are computed: b and c decode one token each, a gets the other 6.
  int64_t a_done = 0;
  for (int i = 0; a->num_computed_tokens < 40; ++i) {
    auto n = f.step();
    EXPECT_EQ(n[b], 1) << "step " << i;
    EXPECT_EQ(n[c], 1) << "step " << i;
    EXPECT_EQ(n[a], std::min<int64_t>(6, 40 - a_done)) << "step " << i;
    a_done += n[a];
    EXPECT_LE(f.last.num_tokens, 8);
    ASSERT_LT(i, 10);
  }
}

TEST(Scheduler, PreemptsTheNewestAndReadmitsItFirst) {
  // 6 usable blocks of 4 tokens. Three sequences of 7 tokens take 2 blocks each; the first decode that crosses
  // into a third block forces a preemption.
  Fixture f(7, {.max_num_seqs = 16, .max_num_batched_tokens = 64}, /*prefix_caching=*/false);
  Request* a = f.add(7, 100);
  Request* b = f.add(7, 200);
  Request* c = f.add(7, 300);
  f.step();  // all three prefilled: 6 blocks, pool full; each now holds 8 tokens (7 + 1 sampled)
  EXPECT_EQ(f.kv.pool().num_free_blocks(), 0);
  f.step();  // the 8th token still fits the second block
  EXPECT_TRUE(f.last.preempted.empty());
  // The 9th token needs a third block for each: c (newest) is preempted, which gives a and b one block each.
  auto n = f.step();
  ASSERT_EQ(f.last.preempted.size(), 1u);
  EXPECT_EQ(f.last.preempted[0], c);
  EXPECT_EQ(n[a], 1);
  EXPECT_EQ(n[b], 1);
  EXPECT_EQ(n.count(c), 0u);
  EXPECT_EQ(f.sched.num_preemptions(), 1);
  EXPECT_EQ(f.sched.num_waiting(), 1);
  EXPECT_EQ(c->num_computed_tokens, 0);
  EXPECT_TRUE(c->block_table.empty());
  EXPECT_EQ(c->token_ids.size(), 9u);  // its sampled tokens are kept; only K/V is recomputed
  // When a finishes, c is readmitted ahead of anything queued after it.
  Request* d = f.add(2, 400);
  f.sched.remove(a);
  n = f.step();
  EXPECT_EQ(n[c], 9);
  EXPECT_EQ(n.count(d), 0u);  // 3 free blocks went to c; d waits behind it
}

TEST(Scheduler, AStepThatPreemptsAdmitsNobody) {
  Fixture f(5, {.max_num_seqs = 16, .max_num_batched_tokens = 64}, /*prefix_caching=*/false);  // 4 usable blocks
  Request* a = f.add(8, 100);
  Request* b = f.add(8, 200);
  f.step();  // 2 blocks each
  Request* c = f.add(1, 300);
  f.step();  // a needs a 3rd block: b is preempted; c must not be admitted in that step
  EXPECT_EQ(f.last.preempted.size(), 1u);
  EXPECT_EQ(f.last.preempted[0], b);
  for (const ScheduledSequence& s : f.last.scheduled) EXPECT_NE(s.request, c);
  (void)a;
}

TEST(Scheduler, RespectsTheSequenceCapAndAdmitsInOrder) {
  Fixture f(64, {.max_num_seqs = 2, .max_num_batched_tokens = 100});
  Request* a = f.add(3, 100);
  Request* b = f.add(3, 200);
  Request* c = f.add(3, 300);
  auto n = f.step();
  EXPECT_EQ(n.size(), 2u);
  EXPECT_TRUE(n.count(a) && n.count(b));
  EXPECT_EQ(f.sched.num_waiting(), 1);
  f.sched.remove(a);
  n = f.step();
  EXPECT_TRUE(n.count(c));
}

TEST(Scheduler, WithoutChunkingAPromptRunsWholeAndAloneWhenOverBudget) {
  Fixture f(64, {.max_num_seqs = 10, .max_num_batched_tokens = 8, .enable_chunked_prefill = false});
  Request* a = f.add(20, 100);
  Request* b = f.add(5, 200);
  auto n = f.step();
  EXPECT_EQ(n[a], 20);
  EXPECT_EQ(n.count(b), 0u);
  n = f.step();  // a decodes (1), b's 5 fit the remaining 7
  EXPECT_EQ(n[a], 1);
  EXPECT_EQ(n[b], 5);
}

TEST(Scheduler, RemoveFreesEverythingFromEitherQueue) {
  Fixture f(16, {.max_num_seqs = 10, .max_num_batched_tokens = 8});
  Request* a = f.add(6, 100);
  Request* b = f.add(6, 200);
  f.step();  // a gets 6 tokens; b gets 2 of its 6
  EXPECT_LT(f.kv.pool().num_free_blocks(), 15);
  f.sched.remove(a);
  f.sched.remove(b);
  f.sched.remove(b);  // idempotent
  EXPECT_FALSE(f.sched.has_work());
  EXPECT_EQ(f.kv.pool().num_free_blocks(), 15);
}

}  // namespace
}  // namespace tessera::engine
