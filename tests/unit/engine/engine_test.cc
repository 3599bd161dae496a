// Engine: the step loop on its own thread. Submissions from many threads, streams consumed while the engine
// runs, aborts from other threads, notifiers, statistics, drain and destruction with requests in flight.
#include "tessera/engine/engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine_test_util.h"

namespace tessera::engine {
namespace {

using testing::greedy;
using testing::random_prompt;

std::unique_ptr<Engine> make_engine(testing::LoadedModel& m, EngineConfig c = {}) {
  c.num_blocks = c.num_blocks ? c.num_blocks : 128;
  auto e = Engine::create(*m.model, m.tokenizer, c);
  EXPECT_TRUE(e.ok()) << e.status().to_string();
  return e.ok() ? std::move(*e) : nullptr;
}

// Reads a stream to its end; returns (tokens of sequence 0, finish reason of sequence 0).
std::pair<std::vector<int32_t>, FinishReason> drain_stream(RequestStream& s) {
  std::vector<int32_t> tokens;
  FinishReason reason = FinishReason::kError;
  while (true) {
    std::vector<RequestEvent> evs = s.wait();
    if (evs.empty()) break;
    for (RequestEvent& ev : evs) {
      if (ev.index != 0) continue;
      tokens.insert(tokens.end(), ev.token_ids.begin(), ev.token_ids.end());
      if (ev.finish) reason = *ev.finish;
    }
  }
  return {tokens, reason};
}

TEST(Engine, ServesConcurrentSubmittersLikeTheCoreAlone) {
  auto m = testing::load(testing::tiny_model_path(), false, 1);
  std::mt19937_64 rng(11);
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 24; ++i) reqs.push_back(greedy(random_prompt(rng, 5 + i * 3, 512), 6 + i % 7));

  // Expected tokens from a core driven directly, one request at a time.
  std::vector<std::vector<int32_t>> want;
  {
    EngineConfig c;
    c.num_blocks = 128;
    auto core = testing::make_core(m, c);
    for (const auto& r : reqs) {
      testing::Driver d(*core);
      const RequestId id = d.add(r);
      ASSERT_TRUE(d.run());
      want.push_back(d.result(id).tokens[0]);
    }
  }

  auto engine = make_engine(m);
  std::vector<std::vector<int32_t>> got(reqs.size());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < reqs.size(); i += 4) {
        auto s = engine->submit(reqs[i]);
        ASSERT_TRUE(s.ok()) << s.status().to_string();
        auto [tokens, reason] = drain_stream(**s);
        EXPECT_EQ(reason, FinishReason::kLength);
        got[i] = tokens;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(got, want);
  // The statistics settle once the loop has published its last step.
  for (int i = 0; i < 200 && !engine->idle(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_TRUE(engine->idle());
  const EngineStats st = engine->stats();
  EXPECT_EQ(st.requests_finished, static_cast<int64_t>(reqs.size()));
  EXPECT_GT(st.num_steps, 0);
  EXPECT_EQ(st.num_running + st.num_waiting, 0);
  EXPECT_EQ(st.num_free_blocks, st.num_blocks);
}

TEST(Engine, AbortFromAnotherThreadEndsTheStream) {
  auto m = testing::load(testing::tiny_model_path(), false, 1);
  auto engine = make_engine(m);
  std::mt19937_64 rng(12);
  auto s = engine->submit(greedy(random_prompt(rng, 20, 512), 400));
  ASSERT_TRUE(s.ok());
  std::atomic<int> notified{0};
  (*s)->set_notifier([&] { ++notified; });
  // Wait for the first tokens, then abort.
  while ((*s)->poll().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  engine->abort((*s)->id());
  FinishReason reason = FinishReason::kLength;
  for (int i = 0; i < 2000 && !(*s)->finished(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE((*s)->finished());
  for (const RequestEvent& ev : (*s)->poll())
    if (ev.finish) reason = *ev.finish;
  EXPECT_EQ(reason, FinishReason::kAbort);
  EXPECT_GT(notified.load(), 0);
  for (int i = 0; i < 200 && !engine->idle(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const EngineStats st = engine->stats();
  EXPECT_EQ(st.num_free_blocks, st.num_blocks);
}

TEST(Engine, RejectsInvalidRequestsAtSubmit) {
  auto m = testing::load(testing::tiny_model_path(), false, 1);
  auto engine = make_engine(m);
  EXPECT_EQ(engine->submit(greedy({}, 4)).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->submit(greedy(std::vector<int32_t>(600, 3), 4)).status().code(), StatusCode::kInvalidArgument);
  engine->drain();
  EXPECT_EQ(engine->submit(greedy({3, 4}, 4)).status().code(), StatusCode::kUnavailable);
}

TEST(Engine, DestructionEndsRequestsInFlight) {
  auto m = testing::load(testing::tiny_model_path(), false, 1);
  std::shared_ptr<RequestStream> a, b;
  {
    auto engine = make_engine(m);
    auto sa = engine->submit(greedy({5, 6, 7}, 400));
    auto sb = engine->submit(greedy({8, 9}, 400));
    ASSERT_TRUE(sa.ok() && sb.ok());
    a = *sa;
    b = *sb;
  }
  EXPECT_TRUE(a->finished());
  EXPECT_TRUE(b->finished());
  auto [tokens, reason] = drain_stream(*a);
  EXPECT_TRUE(reason == FinishReason::kAbort || reason == FinishReason::kLength);
}

}  // namespace
}  // namespace tessera::engine
