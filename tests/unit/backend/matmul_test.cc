// matmul at every instruction-set level this machine runs, for every weight type, against float64 references built
// from dequantize_row of the same weight bytes.
//
// Two references per output:
//   ref   = sum_k x[k] * w[k]            the exact product of the inputs;
//   ref_q = sum_k xq[k] * w[k]           with xq = d * (256 hi + lo), the activations as the integer kernels see
//                                        them
//                                        (quantize_act_row: every level quantizes to the same numbers).
// Integer weight types must match ref_q to float rounding (a wrong scale, nibble or lane anywhere shows up far
// above it) and ref within the activation quantization bound. Float weight types must match ref to rounding.
#include "tessera/backend/cpu/matmul.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "random_blocks.h"
#include "tessera/tensor/half.h"

namespace tessera::backend::cpu {
namespace {

using tensor::DType;

std::vector<MatmulIsa> levels() {
  std::vector<MatmulIsa> v;
  for (MatmulIsa isa : {MatmulIsa::kPortable, MatmulIsa::kAvx2, MatmulIsa::kAvx512}) {
    if (matmul_isa_supported(isa)) v.push_back(isa);
  }
  return v;
}

// N rows of K values: random bytes with finite random f16 scales in every scale field (every bit pattern of the
// codes, 6-bit scales and signs is legal), or random floats for the plain types.
std::vector<uint8_t> random_weights(DType t, int64_t N, int64_t K, std::mt19937& rng) {
  const tensor::DTypeInfo& info = tensor::dtype_info(t);
  std::vector<uint8_t> v(static_cast<size_t>(N) * tensor::row_bytes(t, K));
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  if (!info.quantized) {
    for (size_t i = 0; i < v.size() / info.block_bytes; ++i) {
      const float f = u(rng);
      if (t == DType::kF32) std::memcpy(&v[4 * i], &f, 4);
      const uint16_t h = t == DType::kF16 ? tensor::f32_to_f16(f) : tensor::f32_to_bf16(f);
      if (t != DType::kF32) std::memcpy(&v[2 * i], &h, 2);
    }
    return v;
  }
  return testing::random_blocks(t, static_cast<int64_t>(v.size() / info.block_bytes), rng);
}

// Activations in [-1, 1] with an occasional outlier, so blocks get different scales.
std::vector<float> random_x(int64_t M, int64_t K, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(M * K));
  for (auto& v : x) v = rng() % 61 == 0 ? 9.0f * u(rng) : u(rng);
  return x;
}

// |mw| of the sub-block holding value k of a weight row, where the SIMD levels read w = dw * u + mw with u
// unsigned (quant.h): q8_0 128 |d| (VNNI shifts codes by 128), q4_0 8 |d|, q4_1 |m|, q4_k / q5_k |dmin mn|,
// q6_k 32 |d sc|. The kernels add dw * u * x and mw * x as separate float terms that cancel down to w * x, so
// their rounding scales with |x| (|w| + 2 |mw|), not with |x w|.
double code_offset(DType t, const uint8_t* row, int64_t k) {
  const auto f16 = [](const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return std::fabs(static_cast<double>(tensor::f16_to_f32(h)));
  };
  switch (t) {
    case DType::kQ8_0:
      return 128 * f16(row + k / 32 * 34);
    case DType::kQ4_0:
      return 8 * f16(row + k / 32 * 18);
    case DType::kQ4_1:
      return f16(row + k / 32 * 20 + 2);
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const uint8_t* blk = row + k / 256 * tensor::dtype_info(t).block_bytes;
      int sc, mn;
      k_scale_min(blk + 4, static_cast<int>(k % 256 / 32), sc, mn);
      return f16(blk + 2) * mn;
    }
    case DType::kQ6_K: {
      const uint8_t* blk = row + k / 256 * 210;
      return 32 * f16(blk + 208) * std::abs(static_cast<int8_t>(blk[192 + k % 256 / 16]));
    }
    default:
      return 0;  // float types: no offset
  }
}

// Error bound against the float64 reference, one relative factor for every type once magnitudes count the
// offsets above:
//   f32 / f16 / bf16: weights convert exactly; x * w goes by FMA into per-lane partial sums of at most K / 8 terms,
//     then a short reduction: at most (K / 8 + 8) roundings of 2^-24 relative to sum |x w|, < 5e-6 for K <= 576.
//   integer types, against ref_q (the same int8 activations): the int8 dot products are exact; each sub-block adds
//     float(dot) * dw * dx and mw * s16 (about 3 roundings) into lanes of at most K / 16 terms, then a reduction:
//     < 3 (K / 16 + 8) 2^-24 relative to sum |x| (|w| + 2 |mw|), about 1e-5 at K = 768 in the worst case (all
//     roundings the same way; typical errors are 10-100x smaller).
//   integer types, against the exact ref: plus the activation rounding, at most sum_k |w_k| |xq_k - x_k|, itself
//     <= sum_b (amax_b / (127 * 256)) sum_{k in b} |w_k|; computed exactly as qbound.
// A wrong nibble, scale, lane or sub-block anywhere moves an output by about |x w| of 16 values, far above these.
constexpr double kRelTol = 1e-5;

struct Case {
  DType t;
  int64_t M, N, K;
  bool bias;
};

// Checks one call of matmul_at against both references; stops at the first bad output (fatal failure).
void check(MatmulIsa isa, util::ThreadPool& pool, MatmulScratch& scratch, const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << matmul_isa_name(isa) << " " << tensor::dtype_name(c.t) << " M=" << c.M
                                    << " N=" << c.N << " K=" << c.K << (c.bias ? " bias" : ""));
  std::mt19937 rng(seed);
  const std::vector<uint8_t> w = random_weights(c.t, c.N, c.K, rng);
  const std::vector<float> x = random_x(c.M, c.K, rng);
  std::vector<float> bias(static_cast<size_t>(c.N));
  for (auto& b : bias) b = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
  std::vector<float> out(static_cast<size_t>(c.M * c.N), std::numeric_limits<float>::quiet_NaN());
  matmul_at(isa, pool, scratch, x.data(), c.M, c.K, w.data(), c.t, c.N, c.bias ? bias.data() : nullptr, out.data());

  // Dequantized weights and quantized-then-dequantized activations.
  std::vector<float> wf(static_cast<size_t>(c.N * c.K));
  const size_t rb = tensor::row_bytes(c.t, c.K);
  for (int64_t n = 0; n < c.N; ++n) dequantize_row(c.t, w.data() + n * rb, wf.data() + n * c.K, c.K);
  const bool quantized = tensor::is_quantized(c.t);
  std::vector<float> xq(x.size());
  for (int64_t m = 0; m < c.M; ++m) {
    if (quantized) {  // this row's activations as the int8 kernels see them
      const ActLayout l = act_layout(c.K);
      std::vector<int8_t> qs(static_cast<size_t>(l.kp)), ql(static_cast<size_t>(l.kp));
      std::vector<float> d(static_cast<size_t>(l.nd)), s16(static_cast<size_t>(l.ns));
      ActQ8 a;
      a.l = l, a.qs = qs.data(), a.ql = ql.data(), a.d = d.data(), a.s16 = s16.data();
      quantize_act_row(x.data() + m * c.K, a, 0);
      for (int64_t k = 0; k < c.K; ++k) xq[m * c.K + k] = d[k / 32] * static_cast<float>(256 * qs[k] + ql[k]);
    }
    for (int64_t n = 0; n < c.N; ++n) {
      const float* wr = wf.data() + n * c.K;
      const float* xr = x.data() + m * c.K;
      const float* xqr = xq.data() + m * c.K;
      const uint8_t* wrow = w.data() + n * rb;
      double ref = 0, ref_q = 0, mag = 0, qbound = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        ref += static_cast<double>(xr[k]) * wr[k];
        ref_q += static_cast<double>(xqr[k]) * wr[k];
        mag += std::fabs(static_cast<double>(xr[k])) * (std::fabs(wr[k]) + 2 * code_offset(c.t, wrow, k));
        // The two-digit code moves x by at most one unit d = amax / (127 * 256) of its block (half a unit but for
        // the clamped remainder).
        qbound += std::fabs(static_cast<double>(xqr[k]) - xr[k]) * std::fabs(wr[k]);
      }
      const double b = c.bias ? bias[n] : 0.0;
      const double got = out[m * c.N + n];
      ASSERT_FALSE(std::isnan(got)) << "output " << m << "," << n << " not written";
      const double tol = kRelTol * mag + 1e-6 * std::fabs(b) + 1e-30;  // the bias adds one rounding
      if (quantized) {
        ASSERT_NEAR(got, ref_q + b, tol) << "vs quantized-activation reference at " << m << "," << n;
        ASSERT_NEAR(got, ref + b, qbound + tol) << "vs exact reference at " << m << "," << n;
      } else {
        ASSERT_NEAR(got, ref + b, tol) << "at " << m << "," << n;
      }
    }
  }
}

std::vector<int64_t> ks_for(DType t) {
  switch (tensor::dtype_info(t).block_size) {
    case 256:
      return {256, 512, 768};
    case 32:
      return {32, 96, 256, 576};
    default:
      return {5, 37, 64, 576};  // plain floats: any K, including SIMD tails
  }
}

const DType kAllTypes[] = {DType::kF32,  DType::kF16,  DType::kBF16, DType::kQ8_0, DType::kQ4_0,
                           DType::kQ4_1, DType::kQ4_K, DType::kQ5_K, DType::kQ6_K};

class MatmulTypeTest : public ::testing::TestWithParam<DType> {};

// Every compiled level x odd shapes: M covers the direct kernels (1..4) and packed tiles with tails (5, 16, 33);
// N covers partial tiles (1, 7, 67, 130); K covers odd block counts (a half pair of blocks at the end).
TEST_P(MatmulTypeTest, OddShapesAllLevels) {
  const DType t = GetParam();
  util::ThreadPool pool(2);
  MatmulScratch scratch;
  uint32_t seed = 100;
  for (MatmulIsa isa : levels()) {
    for (int64_t K : ks_for(t)) {
      for (int64_t M : {1, 2, 3, 4, 5, 16, 33}) {
        for (int64_t N : {1, 7, 67, 130}) {
          check(isa, pool, scratch, Case{t, M, N, K, (M + N) % 2 == 0}, ++seed);
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

// Bias on every shape class, single-threaded and with more threads than column tiles.
TEST_P(MatmulTypeTest, BiasAndThreadCounts) {
  const DType t = GetParam();
  const int64_t K = ks_for(t)[1];
  for (int threads : {1, 3}) {
    util::ThreadPool pool(threads);
    MatmulScratch scratch;
    for (MatmulIsa isa : levels()) {
      for (int64_t M : {1, 4, 9}) {
        for (int64_t N : {3, 130}) {
          check(isa, pool, scratch, Case{t, M, N, K, true}, 7000 + static_cast<uint32_t>(M * N + threads));
          if (::testing::Test::HasFatalFailure()) return;
        }
      }
    }
  }
}

// Many rows and few columns: the driver splits rows over threads and the kernels chunk rows for L2.
TEST_P(MatmulTypeTest, ManyRowsFewColumns) {
  const DType t = GetParam();
  util::ThreadPool pool(2);
  MatmulScratch scratch;
  const int64_t K = ks_for(t).back();
  for (MatmulIsa isa : levels()) {
    check(isa, pool, scratch, Case{t, 300, 5, K, true}, 99);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// Batch invariance (README): each output is the same float whatever the call's M (the direct kernels for M <= 4,
// the packed ones above, the register tiles for M % 4), the row's position in x, the column split over threads and
// the thread count. Bitwise: the engine relies on a sequence's logits not depending on its batch.
TEST_P(MatmulTypeTest, RowsAreBatchInvariant) {
  const DType t = GetParam();
  constexpr int64_t kRows = 37;
  std::mt19937 rng(31);
  for (int64_t K : {ks_for(t)[1], ks_for(t).back()}) {
    for (int64_t N : {int64_t{5}, int64_t{203}}) {
      const std::vector<uint8_t> w = random_weights(t, N, K, rng);
      const std::vector<float> x = random_x(kRows, K, rng);
      std::vector<float> bias(static_cast<size_t>(N));
      for (auto& b : bias) b = std::uniform_real_distribution<float>(-2.0f, 2.0f)(rng);
      const float* bp = N == 5 ? nullptr : bias.data();
      for (MatmulIsa isa : levels()) {
        std::vector<float> first;  // all rows at once, with the first thread count
        for (int threads : {1, 2}) {
          SCOPED_TRACE(::testing::Message()
                       << matmul_isa_name(isa) << " K=" << K << " N=" << N << " threads=" << threads);
          util::ThreadPool pool(threads);
          MatmulScratch scratch;
          std::vector<float> all(static_cast<size_t>(kRows * N), NAN);
          matmul_at(isa, pool, scratch, x.data(), kRows, K, w.data(), t, N, bp, all.data());
          if (first.empty()) {
            first = all;
          } else {
            ASSERT_EQ(std::memcmp(first.data(), all.data(), all.size() * sizeof(float)), 0) << "thread counts differ";
          }
          for (int64_t M : std::initializer_list<int64_t>{1, 2, 3, 4, 5, 8, 13, kRows}) {
            for (int64_t m0 : {int64_t{0}, (kRows - M) / 2, kRows - M}) {
              std::vector<float> part(static_cast<size_t>(M * N), NAN);
              matmul_at(isa, pool, scratch, x.data() + m0 * K, M, K, w.data(), t, N, bp, part.data());
              for (int64_t r = 0; r < M; ++r)
                ASSERT_EQ(std::memcmp(part.data() + r * N, all.data() + (m0 + r) * N, N * sizeof(float)), 0)
                    << "row " << m0 + r << " computed as row " << r << " of M=" << M;
            }
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, MatmulTypeTest, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(tensor::dtype_name(info.param)); });

TEST(Matmul, DefaultLevelAndEnvOverride) {
  // matmul() uses matmul_isa(): the best supported level unless TESSERA_CPU_ISA lowered it.
  const MatmulIsa isa = matmul_isa();
  EXPECT_TRUE(matmul_isa_supported(isa));
  EXPECT_TRUE(matmul_isa_supported(MatmulIsa::kPortable));
  std::printf("matmul levels here:");
  for (MatmulIsa l : levels()) std::printf(" %s", matmul_isa_name(l));
  std::printf("; default %s\n", matmul_isa_name(isa));

  util::ThreadPool pool(2);
  MatmulScratch scratch;
  std::mt19937 rng(5);
  const std::vector<uint8_t> w = random_weights(DType::kQ4_1, 64, 576, rng);
  const std::vector<float> x = random_x(2, 576, rng);
  std::vector<float> a(2 * 64, NAN), b(2 * 64, NAN);
  matmul(pool, scratch, x.data(), 2, 576, w.data(), DType::kQ4_1, 64, nullptr, a.data());
  matmul_at(isa, pool, scratch, x.data(), 2, 576, w.data(), DType::kQ4_1, 64, nullptr, b.data());
  EXPECT_EQ(a, b);
}

TEST(Matmul, LevelsAgreeClosely) {
  // Same quantized activations everywhere, so levels differ only by float summation order.
  util::ThreadPool pool(2);
  MatmulScratch scratch;
  std::mt19937 rng(11);
  const std::vector<uint8_t> w = random_weights(DType::kQ8_0, 40, 1536, rng);
  const std::vector<float> x = random_x(16, 1536, rng);
  std::vector<float> ref(16 * 40, NAN), got(16 * 40, NAN);
  matmul_at(MatmulIsa::kPortable, pool, scratch, x.data(), 16, 1536, w.data(), DType::kQ8_0, 40, nullptr, ref.data());
  for (MatmulIsa isa : levels()) {
    matmul_at(isa, pool, scratch, x.data(), 16, 1536, w.data(), DType::kQ8_0, 40, nullptr, got.data());
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_NEAR(got[i], ref[i], 1e-4 * (1.0 + std::fabs(ref[i]))) << matmul_isa_name(isa) << " " << i;
    }
  }
}

TEST(MatmulScratch, GrowsAndKeepsCapacity) {
  MatmulScratch s;
  void* a = s.get(100);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  const size_t cap = s.capacity_bytes();
  EXPECT_GE(cap, 100u);
  EXPECT_EQ(s.get(50), a);  // smaller requests reuse the buffer
  EXPECT_EQ(s.capacity_bytes(), cap);
  s.get(cap + 1);
  EXPECT_GT(s.capacity_bytes(), cap);
}

}  // namespace
}  // namespace tessera::backend::cpu
