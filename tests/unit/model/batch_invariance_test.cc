// Batch invariance on the CPU backend: a sequence's logits are bitwise the same whether it runs alone, prefilled in
// one pass among other sequences of different lengths, prefilled in 7-token chunks that straddle sequences, or
// prefilled in chunks mixed with other sequences' decode tokens, and whatever its row in the batch. This is what
// lets the engine promise the same tokens (seeded sampling included) for a request alone or among others.
// Checked at every compiled instruction-set level with 1 and 2 threads (fewer configurations for the default model,
// see check_model), and across the two thread counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../test_util.h"
#include "tessera/backend/cpu/cpu_backend.h"
#include "tessera/model/simple_runner.h"

namespace tessera::model {
namespace {

using backend::cpu::CpuBackend;
using backend::cpu::Kernels;
using backend::cpu::MatmulIsa;

// The levels TESSERA_CPU_ISA selects: matmul kernels and the other ops' kernels.
struct Level {
  MatmulIsa matmul;
  const Kernels* ops;
};

std::vector<Level> levels() {
  std::vector<Level> v = {{MatmulIsa::kPortable, &backend::cpu::portable_kernels()}};
#if defined(TESSERA_X86)
  for (MatmulIsa isa : {MatmulIsa::kAvx2, MatmulIsa::kAvx512})
    if (backend::cpu::matmul_isa_supported(isa)) v.push_back({isa, &backend::cpu::avx2_kernels()});
#endif
  return v;
}

std::vector<int32_t> random_ids(size_t n, uint32_t seed, int64_t vocab) {
  std::mt19937 rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(rng() % static_cast<uint32_t>(vocab));
  return v;
}

// The target's logits after its prompt, then after each decode token.
using Trace = std::vector<std::vector<float>>;

std::vector<float> row(const std::vector<float>& logits, size_t s, int64_t V) {
  return std::vector<float>(logits.begin() + static_cast<int64_t>(s) * V,
                            logits.begin() + static_cast<int64_t>(s + 1) * V);
}

struct Workload {
  std::vector<int32_t> prompt;                      // the target's
  std::vector<int32_t> decode;                      // the target's decode tokens
  std::vector<std::vector<int32_t>> others;         // prompts of the other sequences
  std::vector<std::vector<int32_t>> others_decode;  // one token per decode step for each other sequence
};

Trace alone(Model& m, const Workload& w) {
  Trace t;
  auto r = SimpleRunner::create(m, 1, 64);
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return t;
  std::vector<float> l;
  EXPECT_TRUE(r->append({w.prompt}, l).ok());
  t.push_back(l);
  for (int32_t tok : w.decode) {
    EXPECT_TRUE(r->decode(std::span<const int32_t>(&tok, 1), l).ok());
    t.push_back(l);
  }
  return t;
}

// Decode steps of the target at row `target` among the others (each takes its next token).
void decode_together(SimpleRunner& r, const Workload& w, size_t target, int64_t V, Trace& t) {
  std::vector<float> l;
  for (size_t step = 0; step < w.decode.size(); ++step) {
    std::vector<int32_t> toks;
    for (size_t s = 0, o = 0; s < w.others.size() + 1; ++s)
      toks.push_back(s == target ? w.decode[step] : w.others_decode[o++][step]);
    EXPECT_TRUE(r.decode(toks, l).ok());
    t.push_back(row(l, target, V));
  }
}

// All sequences prefilled together (in passes of at most `chunk` tokens, 0: one pass), then decoded together.
Trace together(Model& m, const Workload& w, size_t target, int64_t chunk) {
  Trace t;
  const int32_t S = static_cast<int32_t>(w.others.size()) + 1;
  auto r = SimpleRunner::create(m, S, 64, /*block_size=*/4);
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return t;
  std::vector<std::vector<int32_t>> prompts;
  for (size_t s = 0, o = 0; s < static_cast<size_t>(S); ++s) prompts.push_back(s == target ? w.prompt : w.others[o++]);
  std::vector<float> l;
  EXPECT_TRUE(r->append(prompts, l, chunk).ok());
  t.push_back(row(l, target, m.config().vocab_size));
  decode_together(*r, w, target, m.config().vocab_size, t);
  return t;
}

// The others are prefilled first; then each pass carries one decode token of every other sequence and the next
// chunk of at most 7 prompt tokens of the target (the engine's steps: decodes first, then a prefill chunk).
Trace chunks_among_decodes(Model& m, const Workload& w, size_t target) {
  Trace t;
  const int32_t S = static_cast<int32_t>(w.others.size()) + 1;
  const int64_t V = m.config().vocab_size;
  auto r = SimpleRunner::create(m, S, 64, /*block_size=*/16);
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return t;
  std::vector<std::vector<int32_t>> toks(S);
  for (size_t s = 0, o = 0; s < static_cast<size_t>(S); ++s)
    if (s != target) toks[s] = w.others[o++];
  std::vector<float> l;
  EXPECT_TRUE(r->append(toks, l).ok());
  uint32_t filler = 1;
  for (size_t p = 0; p < w.prompt.size(); p += 7) {
    for (size_t s = 0; s < static_cast<size_t>(S); ++s) toks[s] = {static_cast<int32_t>(filler++ % V)};
    toks[target].assign(w.prompt.begin() + p, w.prompt.begin() + std::min(w.prompt.size(), p + 7));
    EXPECT_TRUE(r->append(toks, l).ok());
  }
  t.push_back(row(l, target, V));
  decode_together(*r, w, target, V, t);
  return t;
}

// Bitwise equality, with the largest difference in the message when it fails.
void expect_same(const Trace& want, const Trace& got, const std::string& what) {
  ASSERT_EQ(want.size(), got.size()) << what;
  for (size_t step = 0; step < want.size(); ++step) {
    ASSERT_EQ(want[step].size(), got[step].size()) << what;
    if (std::memcmp(want[step].data(), got[step].data(), want[step].size() * sizeof(float)) == 0) continue;
    double max_diff = 0;
    for (size_t i = 0; i < want[step].size(); ++i)
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(want[step][i]) - got[step][i]));
    ADD_FAILURE() << what << ": logits of step " << step << " (0: prefill) differ, by up to " << max_diff;
    return;
  }
}

// `prompt_len`: the target's prompt; the others' prompts are shorter and longer. `all_configs`: every level with 1
// and 2 threads; else the SIMD levels with 1 thread and the best one with 2 too (the portable level and both thread
// counts at every level are covered kernel by kernel in tests/unit/backend/).
void check_model(const std::string& path, size_t prompt_len, std::vector<size_t> other_lens, bool all_configs) {
  const std::vector<Level> lvs = levels();
  for (size_t li = 0; li < lvs.size(); ++li) {
    const Level& lv = lvs[li];
    if (!all_configs && lv.matmul == MatmulIsa::kPortable) continue;
    std::vector<Trace> by_threads;
    for (int threads : {1, 2}) {
      if (!all_configs && threads == 2 && li + 1 != lvs.size()) continue;
      SCOPED_TRACE(std::string(backend::cpu::matmul_isa_name(lv.matmul)) + " threads=" + std::to_string(threads));
      CpuBackend be(threads, *lv.ops, lv.matmul);
      auto loaded = Model::load(path, be);
      ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
      Model& m = **loaded;
      const int64_t V = m.config().vocab_size;
      Workload w;
      w.prompt = random_ids(prompt_len, 1, V);
      w.decode = random_ids(3, 2, V);
      for (size_t len : other_lens) {
        w.others.push_back(random_ids(len, 10 + static_cast<uint32_t>(len), V));
        w.others_decode.push_back(random_ids(3, 20 + static_cast<uint32_t>(len), V));
      }
      const Trace ref = alone(m, w);
      ASSERT_EQ(ref.size(), 4u);
      expect_same(ref, together(m, w, 2, 0), "prefilled in one pass among 4 others, row 2");
      expect_same(ref, together(m, w, 0, 7), "prefilled in 7-token passes straddling sequences, row 0");
      expect_same(ref, together(m, w, 4, 7), "prefilled in 7-token passes straddling sequences, row 4");
      expect_same(ref, chunks_among_decodes(m, w, 3), "prefilled in 7-token chunks among decodes, row 3");
      // Two sequences: the decode passes take the small-M kernels with the target in row 1.
      Workload pair = w;
      pair.others.resize(1);
      pair.others_decode.resize(1);
      expect_same(ref, together(m, pair, 1, 0), "prefilled and decoded beside one other sequence, row 1");
      by_threads.push_back(ref);
    }
    if (by_threads.size() == 2) expect_same(by_threads[0], by_threads[1], "1 thread vs 2 threads");
  }
}

TEST(BatchInvariance, TinyLlamaF32) {
  check_model(testing::fixtures_dir() + "/models/tiny-llama", 40, {5, 17, 1, 33}, true);
}
TEST(BatchInvariance, TinyLlamaTiedBf16) {
  check_model(testing::fixtures_dir() + "/models/tiny-llama-tied", 40, {5, 17, 1, 33}, true);
}
TEST(BatchInvariance, TinyQwen3) {
  check_model(testing::fixtures_dir() + "/models/tiny-qwen3", 40, {5, 17, 1, 33}, true);
}

// SmolLM2-135M Q4_1 (q8_0 tied embeddings): the integer kernels at real sizes. A shorter workload and fewer
// configurations keep the test quick; the prompt still takes 3 chunks, and the passes still cover both matmul
// paths (M <= 4 and M > 4).
TEST(BatchInvariance, DefaultModelQ4_1) {
  const std::string path = testing::default_model_path();
  TESSERA_REQUIRE_FILE(path);
  check_model(path, 19, {5, 11, 1, 8}, false);
}

}  // namespace
}  // namespace tessera::model
