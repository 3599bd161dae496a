// The CPU kernels other than matmul, each ISA build, against float64 references on fresh random inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>

#include "../test_util.h"
#include "tessera/backend/cpu/cpu_backend.h"
#include "tessera/backend/cpu/ops.h"
#include "tessera/tensor/half.h"

namespace tessera::backend::cpu {
namespace {

using tensor::DType;
using testing::random_floats;

std::vector<const Kernels*> all_kernels() {
  std::vector<const Kernels*> ks = {&portable_kernels()};
#if defined(TESSERA_X86)
  if (matmul_isa_supported(MatmulIsa::kAvx2)) ks.push_back(&avx2_kernels());
#endif
  return ks;
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Single-precision kernels against a double reference: relative error of a few float ulps times the reduction
// length's square root; 1e-5 relative (plus 1e-6 absolute for values near zero) covers every shape here.
void expect_close(const std::vector<float>& got, const std::vector<double>& want, double rel = 1e-5,
                  double abs = 1e-6) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], abs + rel * std::fabs(want[i])) << "at " << i;
}

TEST(CpuOps, RmsNormAndAddRmsNorm) {
  for (const Kernels* k : all_kernels()) {
    for (int64_t cols : {1, 7, 67, 576}) {
      SCOPED_TRACE(std::string(k->isa) + " cols=" + std::to_string(cols));
      const int64_t rows = 3;
      auto x = random_floats(rows * cols, 1 + cols, -3, 3);
      auto d = random_floats(rows * cols, 2 + cols, -1, 1);
      auto w = random_floats(cols, 3 + cols, 0.5, 1.5);
      const float eps = 1e-5f;
      std::vector<double> want(rows * cols), want_res(rows * cols), want2(rows * cols);
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0, ss2 = 0;
        for (int64_t i = 0; i < cols; ++i) {
          ss += double(x[r * cols + i]) * x[r * cols + i];
          want_res[r * cols + i] = double(x[r * cols + i]) + d[r * cols + i];
          ss2 += want_res[r * cols + i] * want_res[r * cols + i];
        }
        for (int64_t i = 0; i < cols; ++i) {
          want[r * cols + i] = x[r * cols + i] / std::sqrt(ss / cols + eps) * w[i];
          want2[r * cols + i] = want_res[r * cols + i] / std::sqrt(ss2 / cols + eps) * w[i];
        }
      }
      std::vector<float> out(rows * cols, kNaN);
      k->rmsnorm(x.data(), w.data(), eps, out.data(), rows, cols);
      expect_close(out, want);
      std::vector<float> res = x;
      std::fill(out.begin(), out.end(), kNaN);
      k->add_rmsnorm(res.data(), d.data(), w.data(), eps, out.data(), rows, cols);
      expect_close(res, want_res);
      expect_close(out, want2);
    }
  }
}

TEST(CpuOps, SiluMulAndSoftmax) {
  for (const Kernels* k : all_kernels()) {
    SCOPED_TRACE(k->isa);
    const int64_t n = 1537;
    auto g = random_floats(n, 11, -12, 12), u = random_floats(n, 12, -2, 2);
    std::vector<float> out(n, kNaN);
    k->silu_mul(g.data(), u.data(), out.data(), n);
    std::vector<double> want(n);
    for (int64_t i = 0; i < n; ++i) want[i] = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
    expect_close(out, want, 2e-6, 1e-7);

    for (int64_t cols : {1, 5, 100, 1031}) {
      auto x = random_floats(2 * cols, 13 + cols, -30, 30);
      std::vector<double> ref(2 * cols);
      for (int r = 0; r < 2; ++r) {
        double mx = -1e300, sum = 0;
        for (int64_t i = 0; i < cols; ++i) mx = std::max(mx, double(x[r * cols + i]));
        for (int64_t i = 0; i < cols; ++i) sum += std::exp(x[r * cols + i] - mx);
        for (int64_t i = 0; i < cols; ++i) ref[r * cols + i] = std::exp(x[r * cols + i] - mx) / sum;
      }
      k->softmax(x.data(), 2, cols);
      expect_close(x, ref, 1e-5, 1e-7);
    }
    // A -inf logit (a banned token) gets probability exactly 0.
    std::vector<float> banned = {1.0f, -std::numeric_limits<float>::infinity(), 2.0f};
    k->softmax(banned.data(), 1, 3);
    EXPECT_EQ(banned[1], 0.0f);
    EXPECT_NEAR(banned[0] + banned[2], 1.0f, 1e-6);
  }
}

TEST(CpuOps, RopeBothPairings) {
  for (const Kernels* k : all_kernels()) {
    for (bool neox : {true, false}) {
      for (int32_t rot : {16, 12}) {  // full and partial rotation of a 16-dim head
        SCOPED_TRACE(std::string(k->isa) + (neox ? " neox" : " interleaved") + " rot=" + std::to_string(rot));
        const int64_t rows = 5;
        const int32_t heads = 3, hd = 16, half = rot / 2;
        auto x = random_floats(rows * heads * hd, 21 + rot);
        std::vector<float> cs(rows * rot);
        std::vector<double> angle(rows * half);
        for (int64_t r = 0; r < rows; ++r)
          for (int32_t i = 0; i < half; ++i) {
            angle[r * half + i] = (r * 37 + 3) * std::pow(10000.0, -2.0 * i / rot);
            cs[r * rot + 2 * i] = float(std::cos(angle[r * half + i]));
            cs[r * rot + 2 * i + 1] = float(std::sin(angle[r * half + i]));
          }
        std::vector<double> want(x.begin(), x.end());
        for (int64_t r = 0; r < rows; ++r)
          for (int32_t h = 0; h < heads; ++h)
            for (int32_t i = 0; i < half; ++i) {
              const int64_t base = (r * heads + h) * hd;
              const int64_t a = base + (neox ? i : 2 * i), b = base + (neox ? i + half : 2 * i + 1);
              const double c = std::cos(angle[r * half + i]), s = std::sin(angle[r * half + i]);
              want[a] = x[a] * c - double(x[b]) * s;
              want[b] = x[b] * c + double(x[a]) * s;
            }
        k->rope(x.data(), cs.data(), rows, heads, hd, rot, neox);
        expect_close(x, want, 1e-5, 1e-6);
      }
    }
  }
}

// Paged attention through CpuBackend: a mixed batch (a prefill from 0, a decode, a prefill chunk continuing a
// cached prefix) over scrambled, non-contiguous block tables where two sequences share their first blocks, against
// contiguous float64 attention over each sequence's whole history.
struct SeqCase {
  int32_t history;  // positions already in the cache before the batch
  int32_t new_tokens;
};

void run_attention_case(const Kernels& k, DType kv_dtype, int threads) {
  const int32_t nh = 6, nkv = 2, hd = 20, bs = 4, group = nh / nkv;
  const std::vector<SeqCase> seqs = {{0, 13}, {9, 1}, {6, 5}, {8, 3}};  // seq 3 shares seq 0's first 2 blocks
  const int S = static_cast<int>(seqs.size());
  const int32_t max_blocks = 8;
  const int32_t num_blocks = 1 + S * max_blocks;
  std::mt19937 rng(7);

  // Scrambled block tables: a random permutation of the blocks 1..num_blocks-1.
  std::vector<int32_t> perm(num_blocks - 1);
  std::iota(perm.begin(), perm.end(), 1);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> tables(S * max_blocks, 0);
  for (int s = 0; s < S; ++s)
    for (int b = 0; b < max_blocks; ++b) tables[s * max_blocks + b] = perm[s * max_blocks + b];
  tables[3 * max_blocks + 0] = tables[0];
  tables[3 * max_blocks + 1] = tables[1];

  // Logical per-sequence K/V [pos][nkv][hd]; seq 3's first 8 positions equal seq 0's (the shared blocks).
  auto round = [&](std::vector<float> v) {
    if (kv_dtype == DType::kF16)
      for (float& x : v) x = tensor::f16_to_f32(tensor::f32_to_f16(x));
    return v;
  };
  std::vector<std::vector<float>> K(S), Vv(S);
  for (int s = 0; s < S; ++s) {
    const int32_t len = seqs[s].history + seqs[s].new_tokens;
    K[s] = round(random_floats(len * nkv * hd, 100 + s, -2, 2));
    Vv[s] = round(random_floats(len * nkv * hd, 200 + s, -2, 2));
  }
  std::copy_n(K[0].begin(), 8 * nkv * hd, K[3].begin());
  std::copy_n(Vv[0].begin(), 8 * nkv * hd, Vv[3].begin());

  CpuBackend be(threads, k);
  const size_t cache_elems = size_t(num_blocks) * bs * nkv * hd;
  auto kbuf = be.allocate(cache_elems * 4), vbuf = be.allocate(cache_elems * 4);
  ASSERT_TRUE(kbuf.ok() && vbuf.ok());
  tensor::Tensor kc(kbuf->data(), kv_dtype, {num_blocks, bs, nkv, hd}),
      vc(vbuf->data(), kv_dtype, {num_blocks, bs, nkv, hd});

  auto slot = [&](int s, int32_t pos) { return int64_t(tables[s * max_blocks + pos / bs]) * bs + pos % bs; };
  // Pass 1: store the histories. Pass 2: the batch (store its K/V, then attend).
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<int32_t> ids, positions, token_seq, seq_lens(S);
    std::vector<int64_t> slots;
    std::vector<float> kin, vin;
    for (int s = 0; s < S; ++s) {
      const int32_t b = pass == 0 ? 0 : seqs[s].history;
      const int32_t e = pass == 0 ? seqs[s].history : seqs[s].history + seqs[s].new_tokens;
      seq_lens[s] = e;
      for (int32_t p = b; p < e; ++p) {
        ids.push_back(0);
        positions.push_back(p);
        token_seq.push_back(s);
        slots.push_back(slot(s, p));
        kin.insert(kin.end(), K[s].begin() + p * nkv * hd, K[s].begin() + (p + 1) * nkv * hd);
        vin.insert(vin.end(), Vv[s].begin() + p * nkv * hd, Vv[s].begin() + (p + 1) * nkv * hd);
      }
    }
    const int32_t T = static_cast<int32_t>(ids.size());
    BatchMeta m;
    m.num_tokens = T;
    m.num_seqs = S;
    m.token_ids = ids.data();
    m.positions = positions.data();
    m.slot_mapping = slots.data();
    m.token_seq = token_seq.data();
    m.seq_lens = seq_lens.data();
    m.block_tables = tables.data();
    m.max_blocks_per_seq = max_blocks;
    m.block_size = bs;
    be.begin_forward(m);
    be.store_kv(tensor::Tensor(kin.data(), DType::kF32, {T, nkv, hd}),
                tensor::Tensor(vin.data(), DType::kF32, {T, nkv, hd}), kc, vc);
    if (pass == 0) continue;

    auto q = random_floats(T * nh * hd, 300, -1, 1);
    std::vector<float> out(T * nh * hd, kNaN);
    const float scale = 1.0f / std::sqrt(float(hd));
    be.attention(tensor::Tensor(q.data(), DType::kF32, {T, nh, hd}), kc, vc, scale,
                 tensor::Tensor(out.data(), DType::kF32, {T, nh, hd}));

    std::vector<double> want(T * nh * hd);
    for (int32_t t = 0; t < T; ++t) {
      const int s = token_seq[t];
      for (int32_t h = 0; h < nh; ++h) {
        const int32_t kvh = h / group;
        std::vector<double> sc(positions[t] + 1);
        double mx = -1e300, sum = 0;
        for (int32_t j = 0; j <= positions[t]; ++j) {
          double d = 0;
          for (int32_t i = 0; i < hd; ++i) d += double(q[(t * nh + h) * hd + i]) * K[s][(j * nkv + kvh) * hd + i];
          sc[j] = d * scale;
          mx = std::max(mx, sc[j]);
        }
        for (double& x : sc) sum += (x = std::exp(x - mx));
        for (int32_t i = 0; i < hd; ++i) {
          double acc = 0;
          for (int32_t j = 0; j <= positions[t]; ++j) acc += sc[j] / sum * Vv[s][(j * nkv + kvh) * hd + i];
          want[(t * nh + h) * hd + i] = acc;
        }
      }
    }
    expect_close(out, want, 1e-4, 1e-5);
  }
}

TEST(CpuOps, PagedAttentionScrambledTablesMatchContiguous) {
  for (const Kernels* k : all_kernels())
    for (DType dt : {DType::kF32, DType::kF16})
      for (int threads : {1, 2}) {
        SCOPED_TRACE(std::string(k->isa) + " " + std::string(tensor::dtype_name(dt)) +
                     " threads=" + std::to_string(threads));
        run_attention_case(*k, dt, threads);
      }
}

// Batch invariance (cpu/README.md): an element's result must not depend on where it sits in a flat array (vector
// body or scalar tail, alignment), nor a row's on its neighbours, so bitwise equality against one-element and
// one-row calls at every offset.
TEST(CpuOps, ElementwiseAndRowOpsDoNotDependOnPosition) {
  for (const Kernels* k : all_kernels()) {
    SCOPED_TRACE(k->isa);
    constexpr int64_t n = 203, kMaxOffset = 17;
    const auto g = random_floats(n + kMaxOffset, 41, -12, 12), u = random_floats(n + kMaxOffset, 42, -2, 2);
    std::vector<float> one(n + kMaxOffset);
    for (int64_t i = 0; i < n + kMaxOffset; ++i) k->silu_mul(&g[i], &u[i], &one[i], 1);
    std::vector<float> adds(n + kMaxOffset);
    for (int64_t i = 0; i < n + kMaxOffset; ++i) {
      adds[i] = g[i];
      k->add(&adds[i], &u[i], 1);
    }
    for (int64_t off = 0; off < kMaxOffset; ++off) {
      for (int64_t len : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{160}, n}) {
        std::vector<float> out(len, kNaN);
        k->silu_mul(&g[off], &u[off], out.data(), len);
        ASSERT_EQ(std::memcmp(out.data(), &one[off], len * sizeof(float)), 0)
            << "silu_mul off=" << off << " len=" << len;
        std::copy_n(&g[off], len, out.begin());
        k->add(out.data(), &u[off], len);
        ASSERT_EQ(std::memcmp(out.data(), &adds[off], len * sizeof(float)), 0) << "add off=" << off << " len=" << len;
      }
    }

    for (int64_t cols : {7, 64, 67, 160, 576}) {
      SCOPED_TRACE("cols=" + std::to_string(cols));
      const auto x = random_floats(cols, 50 + cols, -3, 3), d = random_floats(cols, 51 + cols, -1, 1);
      const auto w = random_floats(cols, 52 + cols, 0.5, 1.5);
      // Reference: the row alone, at the start of an aligned buffer.
      std::vector<float> norm(cols), res = x, norm2(cols), soft = x;
      k->rmsnorm(x.data(), w.data(), 1e-5f, norm.data(), 1, cols);
      k->add_rmsnorm(res.data(), d.data(), w.data(), 1e-5f, norm2.data(), 1, cols);
      k->softmax(soft.data(), 1, cols);
      // The same row as row 1 of 3, shifted by `off` floats (other rows random).
      for (int64_t off = 0; off < kMaxOffset; ++off) {
        auto buf = random_floats(off + 3 * cols, 60 + off, -3, 3), dbuf = random_floats(off + 3 * cols, 61, -1, 1);
        std::copy(x.begin(), x.end(), buf.begin() + off + cols);
        std::copy(d.begin(), d.end(), dbuf.begin() + off + cols);
        std::vector<float> out(off + 3 * cols, kNaN);
        k->rmsnorm(buf.data() + off, w.data(), 1e-5f, out.data() + off, 3, cols);
        ASSERT_EQ(std::memcmp(out.data() + off + cols, norm.data(), cols * sizeof(float)), 0) << "rmsnorm off=" << off;
        auto rbuf = buf;
        k->add_rmsnorm(rbuf.data() + off, dbuf.data() + off, w.data(), 1e-5f, out.data() + off, 3, cols);
        ASSERT_EQ(std::memcmp(rbuf.data() + off + cols, res.data(), cols * sizeof(float)), 0) << "residual off=" << off;
        ASSERT_EQ(std::memcmp(out.data() + off + cols, norm2.data(), cols * sizeof(float)), 0)
            << "add_rmsnorm off=" << off;
        k->softmax(buf.data() + off, 3, cols);
        ASSERT_EQ(std::memcmp(buf.data() + off + cols, soft.data(), cols * sizeof(float)), 0) << "softmax off=" << off;
      }
    }
  }
}

// Paged attention: a query's output does not depend on which other queries share its 8-token tile, on how its
// sequence's new tokens are chunked, or on the other sequences in the batch.
void run_attention_tiles_case(const Kernels& k, DType kv_dtype, int threads) {
  const int32_t nh = 4, nkv = 2, hd = 16, bs = 4, len = 21, max_blocks = 8;
  // Sequence 0 is the one checked; sequence 1 (5 positions) only shares batches with it.
  std::vector<int32_t> tables(2 * max_blocks);
  std::iota(tables.begin(), tables.end(), 1);
  const int32_t num_blocks = 1 + 2 * max_blocks;
  CpuBackend be(threads, k);
  const size_t cache_elems = size_t(num_blocks) * bs * nkv * hd;
  auto kbuf = be.allocate(cache_elems * 4), vbuf = be.allocate(cache_elems * 4);
  ASSERT_TRUE(kbuf.ok() && vbuf.ok());
  tensor::Tensor kc(kbuf->data(), kv_dtype, {num_blocks, bs, nkv, hd}),
      vc(vbuf->data(), kv_dtype, {num_blocks, bs, nkv, hd});
  const auto K = random_floats(len * nkv * hd, 70, -2, 2), V = random_floats(len * nkv * hd, 71, -2, 2);
  const auto q = random_floats(len * nh * hd, 72, -1, 1);
  const auto q1 = random_floats(nh * hd, 73, -1, 1);
  const int32_t len1 = 5;
  const auto K1 = random_floats(len1 * nkv * hd, 74, -2, 2);
  const float scale = 0.25f;
  const int64_t qrow = nh * hd;

  // One pass: tokens (seq, pos) stored and attended. Returns the outputs of sequence 0's tokens, in order.
  auto pass = [&](const std::vector<std::pair<int32_t, int32_t>>& toks) {
    const int32_t T = static_cast<int32_t>(toks.size());
    std::vector<int32_t> ids(T, 0), positions, token_seq, seq_lens = {0, 0};
    std::vector<int64_t> slots;
    std::vector<float> kin, vin, qin;
    for (auto [s, p] : toks) {
      positions.push_back(p);
      token_seq.push_back(s);
      seq_lens[s] = std::max(seq_lens[s], p + 1);
      slots.push_back(int64_t(tables[s * max_blocks + p / bs]) * bs + p % bs);
      const auto& kk = s == 0 ? K : K1;
      kin.insert(kin.end(), kk.begin() + p * nkv * hd, kk.begin() + (p + 1) * nkv * hd);
      vin.insert(vin.end(), kk.begin() + p * nkv * hd, kk.begin() + (p + 1) * nkv * hd);
      if (s == 0) {
        std::copy_n(V.begin() + p * nkv * hd, nkv * hd, vin.end() - nkv * hd);
        qin.insert(qin.end(), q.begin() + p * qrow, q.begin() + (p + 1) * qrow);
      } else {
        qin.insert(qin.end(), q1.begin(), q1.end());
      }
    }
    BatchMeta m;
    m.num_tokens = T;
    m.num_seqs = 2;
    m.token_ids = ids.data();
    m.positions = positions.data();
    m.slot_mapping = slots.data();
    m.token_seq = token_seq.data();
    m.seq_lens = seq_lens.data();
    m.block_tables = tables.data();
    m.max_blocks_per_seq = max_blocks;
    m.block_size = bs;
    be.begin_forward(m);
    be.store_kv(tensor::Tensor(kin.data(), DType::kF32, {T, nkv, hd}),
                tensor::Tensor(vin.data(), DType::kF32, {T, nkv, hd}), kc, vc);
    std::vector<float> out(T * qrow, kNaN);
    be.attention(tensor::Tensor(qin.data(), DType::kF32, {T, nh, hd}), kc, vc, scale,
                 tensor::Tensor(out.data(), DType::kF32, {T, nh, hd}));
    std::vector<float> mine;
    for (int32_t t = 0; t < T; ++t)
      if (token_seq[t] == 0) mine.insert(mine.end(), out.begin() + t * qrow, out.begin() + (t + 1) * qrow);
    return mine;
  };

  std::vector<std::pair<int32_t, int32_t>> others;
  for (int32_t p = 0; p < len1 - 1; ++p) others.push_back({1, p});
  pass(others);
  // Reference: all 21 tokens in one pass (tiles of 8, 8, 5).
  std::vector<std::pair<int32_t, int32_t>> all;
  for (int32_t p = 0; p < len; ++p) all.push_back({0, p});
  const std::vector<float> ref = pass(all);
  // Each token alone, as a decode (the cache already holds every position; a query sees only its own past).
  for (int32_t p = 0; p < len; ++p) {
    const std::vector<float> got = pass({{0, p}});
    ASSERT_EQ(std::memcmp(got.data(), ref.data() + p * qrow, qrow * sizeof(float)), 0) << "token " << p << " alone";
  }
  // Chunks of 3 and of 7 after a decode token of sequence 1.
  for (int32_t chunk : {3, 7}) {
    std::vector<float> got;
    for (int32_t p0 = 0; p0 < len; p0 += chunk) {
      std::vector<std::pair<int32_t, int32_t>> toks = {{1, len1 - 1}};
      for (int32_t p = p0; p < std::min(len, p0 + chunk); ++p) toks.push_back({0, p});
      const std::vector<float> part = pass(toks);
      got.insert(got.end(), part.begin(), part.end());
    }
    ASSERT_EQ(std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float)), 0) << "chunks of " << chunk;
  }
}

TEST(CpuOps, PagedAttentionDoesNotDependOnTiles) {
  for (const Kernels* k : all_kernels())
    for (DType dt : {DType::kF32, DType::kF16})
      for (int threads : {1, 2}) {
        SCOPED_TRACE(std::string(k->isa) + " " + std::string(tensor::dtype_name(dt)) +
                     " threads=" + std::to_string(threads));
        run_attention_tiles_case(*k, dt, threads);
      }
}

TEST(CpuOps, StoreKvSkipsNegativeSlots) {
  CpuBackend be(1);
  std::vector<float> cache(2 * 4 * 3, 5.0f), kv = random_floats(2 * 3, 9);
  std::vector<int64_t> slots = {-1, 6};
  std::vector<int32_t> pos = {0, 1}, seq = {0, 0};
  BatchMeta m;
  m.num_tokens = 2;
  m.positions = pos.data();
  m.token_seq = seq.data();
  m.slot_mapping = slots.data();
  be.begin_forward(m);
  tensor::Tensor c(cache.data(), DType::kF32, {2, 4, 1, 3});
  std::vector<float> vcache = cache;
  be.store_kv(tensor::Tensor(kv.data(), DType::kF32, {2, 1, 3}), tensor::Tensor(kv.data(), DType::kF32, {2, 1, 3}), c,
              tensor::Tensor(vcache.data(), DType::kF32, {2, 4, 1, 3}));
  for (int i = 0; i < 24; ++i) {
    if (i >= 18 && i < 21) {
      EXPECT_EQ(cache[i], kv[3 + i - 18]);
    } else {
      EXPECT_EQ(cache[i], 5.0f) << i;
    }
  }
}

}  // namespace
}  // namespace tessera::backend::cpu
