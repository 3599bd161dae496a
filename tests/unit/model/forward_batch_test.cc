// The flat batch: many sequences in one forward pass, chunked prefill and decode give the same logits as each
// sequence run alone in one pass, bit for bit on the CPU (batch_invariance_test.cc checks every level and more
// batch shapes).
#include <gtest/gtest.h>

#include <cmath>

#include "../test_util.h"
#include "tessera/backend/cpu/cpu_backend.h"
#include "tessera/model/simple_runner.h"

namespace tessera::model {
namespace {

std::unique_ptr<Model> load_tiny(backend::Backend& be, const char* name) {
  auto m = Model::load(testing::fixtures_dir() + "/models/" + name, be);
  EXPECT_TRUE(m.ok()) << m.status().to_string();
  return m.ok() ? std::move(*m) : nullptr;
}

std::vector<int32_t> random_ids(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(rng() % 512);
  return v;
}

TEST(ForwardBatch, MixedBatchEqualsSequencesAlone) {
  for (const char* name : {"tiny-llama", "tiny-qwen3"}) {
    SCOPED_TRACE(name);
    backend::cpu::CpuBackend be(2);
    auto m = load_tiny(be, name);
    ASSERT_TRUE(m);
    const int64_t V = m->config().vocab_size;
    const std::vector<std::vector<int32_t>> prompts = {random_ids(23, 1), random_ids(1, 2), random_ids(40, 3)};
    const std::vector<int32_t> next = {17, 400, 3};

    // Alone: each sequence prefilled in one pass, then one decode step.
    std::vector<std::vector<float>> alone_prefill, alone_decode;
    for (size_t s = 0; s < prompts.size(); ++s) {
      auto r = SimpleRunner::create(*m, 1, 64);
      ASSERT_TRUE(r.ok());
      std::vector<float> l;
      ASSERT_TRUE(r->append({prompts[s]}, l).ok());
      alone_prefill.push_back(l);
      ASSERT_TRUE(r->decode(std::span<const int32_t>(&next[s], 1), l).ok());
      alone_decode.push_back(l);
    }
    // Together: all three prefilled in chunks of 7 tokens (so chunks straddle sequences), then decoded together.
    for (int64_t chunk : {int64_t{0}, int64_t{7}}) {
      auto r = SimpleRunner::create(*m, 3, 64, /*block_size=*/4);
      ASSERT_TRUE(r.ok());
      std::vector<float> l;
      ASSERT_TRUE(r->append(prompts, l, chunk).ok());
      for (size_t s = 0; s < 3; ++s)
        for (int64_t i = 0; i < V; ++i) ASSERT_EQ(l[s * V + i], alone_prefill[s][i]) << "seq " << s;
      ASSERT_TRUE(r->decode(next, l).ok());
      for (size_t s = 0; s < 3; ++s)
        for (int64_t i = 0; i < V; ++i) ASSERT_EQ(l[s * V + i], alone_decode[s][i]) << "seq " << s;
    }
  }
}

TEST(ForwardBatch, InconsistentBatchIsRefused) {
  backend::cpu::CpuBackend be(1);
  auto m = load_tiny(be, "tiny-llama");
  ASSERT_TRUE(m);
  auto cache = m->allocate_kv_cache(4, 4, tensor::DType::kF32);
  ASSERT_TRUE(cache.ok());
  std::vector<int32_t> ids = {1, 2}, pos = {0, 1}, seq = {0, 0}, lens = {2}, table = {1, 2}, rows = {1};
  std::vector<int64_t> slots = {4, 5};
  std::vector<float> logits(512);
  Batch b{ids, pos, slots, seq, lens, table, 2, rows};
  EXPECT_TRUE(m->forward(b, *cache, logits).ok());

  auto expect_refused = [&](Batch bad, const char* what) {
    Status s = m->forward(bad, *cache, logits);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << what << ": " << s.to_string();
  };
  std::vector<int32_t> bad_ids = {1, 512};
  Batch b1 = b;
  b1.token_ids = bad_ids;
  expect_refused(b1, "token id outside the vocabulary");
  std::vector<int64_t> bad_slots = {4, 16};
  Batch b2 = b;
  b2.slot_mapping = bad_slots;
  expect_refused(b2, "slot outside the cache");
  std::vector<int32_t> bad_table = {1, 9};
  Batch b3 = b;
  b3.block_tables = bad_table;
  expect_refused(b3, "block outside the cache");
  std::vector<int32_t> bad_pos = {0, 2};
  Batch b4 = b;
  b4.positions = bad_pos;
  expect_refused(b4, "position beyond the sequence length");
  std::vector<float> small(10);
  EXPECT_EQ(m->forward(b, *cache, small).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::model
