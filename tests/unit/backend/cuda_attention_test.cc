// Paged attention on the GPU against contiguous attention in float64: block tables scrambled (non-contiguous,
// random order), two sequences sharing their prefix blocks, unused cache slots full of random data, and one
// batch mixing a full prefill, decode tokens and chunked-prefill tails, over grouped-query shapes.
#ifdef TESSERA_CUDA

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "../test_util.h"
#include "cuda_test_util.h"
#include "tessera/tensor/half.h"

namespace tessera::backend::cuda {
namespace {

using tensor::DType;
using testing::DeviceArrays;
using testing::rel_error;

struct Shape {
  int32_t nh, nkv, hd;
  DType kv;
};

void run_case(const Shape& sh, const std::vector<int32_t>& lens, const std::vector<int32_t>& num_q, uint64_t seed) {
  TESSERA_REQUIRE_GPU();
  auto gpu = CudaBackend::create(0);
  ASSERT_TRUE(gpu.ok());
  DeviceArrays dev(**gpu);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const int32_t bs = 16, S = static_cast<int32_t>(lens.size()), row = sh.nkv * sh.hd;
  // Sequences S-2 and S-1 share their first full blocks (up to 4: 64 positions).
  const int32_t shared_blocks = std::min(4, lens[S - 2] / bs);

  // Block ids: a random permutation of 1..num_blocks-1, handed out in order; the sharing sequence reuses its
  // partner's first blocks.
  int32_t max_blocks = 0, needed = 0;
  for (int32_t L : lens) max_blocks = std::max(max_blocks, (L + bs - 1) / bs), needed += (L + bs - 1) / bs;
  const int32_t num_blocks = needed + 8;
  std::vector<int32_t> ids(num_blocks - 1);
  for (int32_t i = 0; i < num_blocks - 1; ++i) ids[i] = i + 1;
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<int32_t> tables(S * max_blocks, 0);
  size_t next = 0;
  for (int32_t s = 0; s < S; ++s)
    for (int32_t b = 0; b < (lens[s] + bs - 1) / bs; ++b)
      tables[s * max_blocks + b] = (s == S - 1 && b < shared_blocks) ? tables[(S - 2) * max_blocks + b] : ids[next++];

  // The cache starts random everywhere; each sequence's K/V (rounded to the cache type) is written at its slots.
  const int64_t cache_elems = static_cast<int64_t>(num_blocks) * bs * row;
  const bool f16 = sh.kv == DType::kF16;
  std::vector<uint16_t> kh(f16 ? cache_elems : 0), vh(f16 ? cache_elems : 0);
  std::vector<float> kf(f16 ? 0 : cache_elems), vf(f16 ? 0 : cache_elems);
  auto put = [&](int64_t i, float k, float v) {
    if (f16) {
      kh[i] = tensor::f32_to_f16(k), vh[i] = tensor::f32_to_f16(v);
    } else {
      kf[i] = k, vf[i] = v;
    }
  };
  auto round = [&](float x) { return f16 ? tensor::f16_to_f32(tensor::f32_to_f16(x)) : x; };
  for (int64_t i = 0; i < cache_elems; ++i) put(i, uni(rng), uni(rng));
  std::vector<std::vector<float>> K(S), V(S);  // contiguous [L, nkv, hd] per sequence
  for (int32_t s = 0; s < S; ++s) {
    K[s].resize(static_cast<size_t>(lens[s]) * row);
    V[s].resize(K[s].size());
    for (int32_t p = 0; p < lens[s]; ++p) {
      const bool shared = s == S - 1 && p < shared_blocks * bs;
      for (int32_t i = 0; i < row; ++i) {
        float k = round(uni(rng)), v = round(uni(rng));
        if (shared) k = K[S - 2][p * row + i], v = V[S - 2][p * row + i];
        K[s][p * row + i] = k, V[s][p * row + i] = v;
        const int64_t slot = static_cast<int64_t>(tables[s * max_blocks + p / bs]) * bs + p % bs;
        put(slot * row + i, k, v);
      }
    }
  }
  const std::initializer_list<int64_t> cshape = {num_blocks, bs, sh.nkv, sh.hd};
  Tensor kc = dev.upload(f16 ? static_cast<void*>(kh.data()) : kf.data(), sh.kv, cshape);
  Tensor vc = dev.upload(f16 ? static_cast<void*>(vh.data()) : vf.data(), sh.kv, cshape);

  // Query tokens: the last num_q[s] positions of each sequence, sequences interleaved in batch order.
  std::vector<int32_t> positions, token_seq, tok_ids;
  std::vector<int64_t> slots;
  for (int32_t s = 0; s < S; ++s)
    for (int32_t p = lens[s] - num_q[s]; p < lens[s]; ++p)
      positions.push_back(p), token_seq.push_back(s), tok_ids.push_back(0), slots.push_back(-1);
  const int32_t T = static_cast<int32_t>(positions.size());
  std::vector<int32_t> seq_lens = lens, logits_idx = {0};
  BatchMeta m;
  m.num_tokens = T;
  m.num_seqs = S;
  m.token_ids = tok_ids.data();
  m.positions = positions.data();
  m.slot_mapping = slots.data();
  m.token_seq = token_seq.data();
  m.seq_lens = seq_lens.data();
  m.block_tables = tables.data();
  m.max_blocks_per_seq = max_blocks;
  m.block_size = bs;
  m.num_logits = 1;
  m.logits_indices = logits_idx.data();
  (*gpu)->begin_forward(m);

  std::vector<float> q(static_cast<size_t>(T) * sh.nh * sh.hd);
  for (auto& x : q) x = uni(rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(sh.hd));
  Tensor out = dev.poisoned({T, sh.nh, sh.hd});
  (*gpu)->attention(dev.upload(q.data(), DType::kF32, {T, sh.nh, sh.hd}), kc, vc, scale, out);

  std::vector<double> ref(q.size());
  const int32_t G = sh.nh / sh.nkv;
  for (int32_t t = 0; t < T; ++t) {
    const int32_t s = token_seq[t], ctx = positions[t] + 1;
    for (int32_t h = 0; h < sh.nh; ++h) {
      const float* qh = q.data() + (static_cast<int64_t>(t) * sh.nh + h) * sh.hd;
      const int32_t kvh = h / G;
      std::vector<double> p(ctx);
      double mx = -1e300, sum = 0;
      for (int32_t j = 0; j < ctx; ++j) {
        double d = 0;
        for (int32_t i = 0; i < sh.hd; ++i) d += static_cast<double>(qh[i]) * K[s][(j * sh.nkv + kvh) * sh.hd + i];
        p[j] = d * scale;
        mx = std::max(mx, p[j]);
      }
      for (auto& x : p) sum += (x = std::exp(x - mx));
      double* o = ref.data() + (static_cast<int64_t>(t) * sh.nh + h) * sh.hd;
      for (int32_t j = 0; j < ctx; ++j)
        for (int32_t i = 0; i < sh.hd; ++i) o[i] += p[j] / sum * V[s][(j * sh.nkv + kvh) * sh.hd + i];
    }
  }
  // f32 arithmetic over exactly represented K/V; the exponentials are the fast approximations (~1e-6).
  EXPECT_LT(rel_error(dev.download(out), ref), 1e-4);
  EXPECT_TRUE((*gpu)->status().ok()) << (*gpu)->status().to_string();
}

const Shape kShapes[] = {
    {6, 2, 64, DType::kF16},  {4, 4, 16, DType::kF32},  {12, 3, 128, DType::kF16},
    {8, 1, 128, DType::kF16}, {18, 2, 32, DType::kF16},  // 9 query heads per KV head: more than one pass
};

TEST(CudaAttentionTest, ScrambledBlockTablesMatchContiguousFloat64) {
  uint64_t seed = 1;
  for (const Shape& sh : kShapes) {
    SCOPED_TRACE("nh=" + std::to_string(sh.nh) + " nkv=" + std::to_string(sh.nkv) + " hd=" + std::to_string(sh.hd));
    // A 1-token sequence, a whole prefill, a decode token after 300, a 20-token tail of a 2100-token sequence
    // that shares its first blocks with the previous one.
    run_case(sh, {1, 37, 300, 2100}, {1, 37, 1, 20}, ++seed);
    // Decode only, small batch: the KV length is split across blocks and combined.
    run_case(sh, {700, 1500}, {1, 1}, ++seed);
    // Many query tokens: one split per token, several shared-memory chunks inside it.
    run_case(sh, {50, 2500}, {50, 200}, ++seed);
  }
}

}  // namespace
}  // namespace tessera::backend::cuda

#endif  // TESSERA_CUDA
