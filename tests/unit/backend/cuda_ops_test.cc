// Every CUDA op against the CPU backend (itself checked against float64 in cpu_ops_test) or a float64 reference,
// on fresh random inputs of odd shapes, with outputs poisoned by NaN so an unwritten element fails.
#ifdef TESSERA_CUDA

#include <gtest/gtest.h>

#include <random>

#include "../test_util.h"
#include "cuda_test_util.h"
#include "tessera/backend/cpu/quant.h"
#include "tessera/tensor/half.h"

namespace tessera::backend::cuda {
namespace {

using tensor::DType;
using ::tessera::testing::random_floats;
using testing::DeviceArrays;
using testing::rel_error;

class CudaOpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TESSERA_REQUIRE_GPU();
    auto be = CudaBackend::create(0);
    ASSERT_TRUE(be.ok()) << be.status().to_string();
    gpu_ = std::move(*be);
    dev_ = std::make_unique<DeviceArrays>(*gpu_);
  }
  void TearDown() override {
    if (gpu_) {
      EXPECT_TRUE(gpu_->status().ok()) << gpu_->status().to_string();
    }
  }
  Tensor host(std::vector<float>& v, std::initializer_list<int64_t> shape) {
    return Tensor(v.data(), DType::kF32, shape);
  }
  std::unique_ptr<CudaBackend> gpu_;
  std::unique_ptr<DeviceArrays> dev_;
  cpu::CpuBackend cpu_{2};
};

// Random 16-bit weights stored as the file would hold them, with their float values for the reference.
std::vector<uint16_t> to_16(const std::vector<float>& f, DType t) {
  std::vector<uint16_t> h(f.size());
  for (size_t i = 0; i < f.size(); ++i) h[i] = t == DType::kBF16 ? tensor::f32_to_bf16(f[i]) : tensor::f32_to_f16(f[i]);
  return h;
}
float round_16(float x, DType t) {
  return t == DType::kBF16 ? tensor::bf16_to_f32(tensor::f32_to_bf16(x)) : tensor::f16_to_f32(tensor::f32_to_f16(x));
}

// Q8_0 blocks: f16 scale then 32 int8, random.
std::vector<uint8_t> random_q8_0(int64_t rows, int64_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> w(rows * cols / 32 * 34);
  for (size_t b = 0; b < w.size(); b += 34) {
    const uint16_t d = tensor::f32_to_f16(0.002f + 0.01f * static_cast<float>(rng() % 100) / 100.0f);
    std::memcpy(&w[b], &d, 2);
    for (int i = 0; i < 32; ++i) w[b + 2 + i] = static_cast<uint8_t>(rng());
  }
  return w;
}

TEST_F(CudaOpsTest, MatmulEveryWeightTypeAgainstFloat64) {
  struct Case {
    int64_t M, K, N;
  };
  uint64_t seed = 100;
  // Up to 64 rows the GPU multiplies a split (hi + lo) 16-bit input, beyond that the input rounded once.
  for (const Case c : {Case{1, 64, 1}, Case{3, 96, 257}, Case{17, 256, 130}, Case{64, 160, 511}, Case{65, 96, 33},
                       Case{300, 128, 77}}) {
    for (DType wt : {DType::kF32, DType::kBF16, DType::kF16, DType::kQ8_0}) {
      SCOPED_TRACE(std::string(tensor::dtype_name(wt)) + " M=" + std::to_string(c.M) + " K=" + std::to_string(c.K) +
                   " N=" + std::to_string(c.N));
      auto x = random_floats(c.M * c.K, ++seed);
      auto wf = random_floats(c.N * c.K, ++seed, -0.5f, 0.5f);
      auto bias = random_floats(c.N, ++seed);
      std::vector<uint8_t> bytes;
      std::vector<float> w_ref(c.N * c.K);
      if (wt == DType::kF32) {
        bytes.assign(reinterpret_cast<uint8_t*>(wf.data()), reinterpret_cast<uint8_t*>(wf.data() + wf.size()));
        w_ref = wf;
      } else if (wt == DType::kQ8_0) {
        bytes = random_q8_0(c.N, c.K, ++seed);
        for (int64_t n = 0; n < c.N; ++n)
          cpu::dequantize_row(wt, bytes.data() + n * (c.K / 32 * 34), w_ref.data() + n * c.K, c.K);
      } else {
        auto h = to_16(wf, wt);
        bytes.assign(reinterpret_cast<uint8_t*>(h.data()), reinterpret_cast<uint8_t*>(h.data() + h.size()));
        for (size_t i = 0; i < wf.size(); ++i) w_ref[i] = round_16(wf[i], wt);
      }
      auto w = gpu_->import_weight(Tensor(bytes.data(), wt, {c.N, c.K}));
      ASSERT_TRUE(w.ok()) << w.status().to_string();
      // The GPU multiplies 16-bit operands: for more than 64 rows the reference rounds x (and dequantized weights)
      // the same way; up to 64 rows x is kept as a sum of two 16-bit numbers, about f32 for these magnitudes.
      const DType act = wt == DType::kF16 ? DType::kF16 : DType::kBF16;
      const bool round_x = wt != DType::kF32 && c.M > 64;
      std::vector<double> ref(c.M * c.N);
      for (int64_t m = 0; m < c.M; ++m)
        for (int64_t n = 0; n < c.N; ++n) {
          double acc = bias[n];
          for (int64_t k = 0; k < c.K; ++k) {
            const float xv = round_x ? round_16(x[m * c.K + k], act) : x[m * c.K + k];
            const float wv = wt == DType::kQ8_0 ? round_16(w_ref[n * c.K + k], DType::kBF16) : w_ref[n * c.K + k];
            acc += static_cast<double>(xv) * wv;
          }
          ref[m * c.N + n] = acc;
        }
      Tensor dx = dev_->upload(x.data(), DType::kF32, {c.M, c.K});
      Tensor db = dev_->upload(bias.data(), DType::kF32, {c.N});
      Tensor out = dev_->poisoned({c.M, c.N});
      gpu_->matmul(dx, *w, db, out);
      // f32 and rounded 16-bit inputs: products exact in f32, so only summation order (~1e-7); split inputs
      // carry 16 (bf16) or 22 (f16) bits: ~1e-5 relative per element, less over a sum of random signs.
      EXPECT_LT(rel_error(dev_->download(out), ref), round_x || wt == DType::kF32 ? 1e-5 : 3e-5);
    }
  }
}

TEST_F(CudaOpsTest, RowOpsMatchCpu) {
  uint64_t seed = 200;
  for (int64_t rows : {1, 5, 33}) {
    for (int64_t cols : {7, 64, 1000, 4099}) {
      SCOPED_TRACE("rows=" + std::to_string(rows) + " cols=" + std::to_string(cols));
      auto x = random_floats(rows * cols, ++seed, -3, 3), y = random_floats(rows * cols, ++seed, -3, 3);
      auto w = random_floats(cols, ++seed, 0.5f, 1.5f);
      Tensor dx = dev_->upload(x.data(), DType::kF32, {rows, cols});
      Tensor dy = dev_->upload(y.data(), DType::kF32, {rows, cols});
      Tensor dw = dev_->upload(w.data(), DType::kF32, {cols});

      std::vector<float> want(rows * cols);
      cpu_.rmsnorm(host(x, {rows, cols}), host(w, {cols}), 1e-5f, host(want, {rows, cols}));
      Tensor out = dev_->poisoned({rows, cols});
      gpu_->rmsnorm(dx, dw, 1e-5f, out);
      EXPECT_LT(rel_error(dev_->download(out), want), 1e-5) << "rmsnorm";

      std::vector<float> res = x, want_res;
      cpu_.add_rmsnorm(host(res, {rows, cols}), host(y, {rows, cols}), host(w, {cols}), 1e-5f,
                       host(want, {rows, cols}));
      Tensor dres = dev_->upload(x.data(), DType::kF32, {rows, cols});
      out = dev_->poisoned({rows, cols});
      gpu_->add_rmsnorm(dres, dy, dw, 1e-5f, out);
      EXPECT_LT(rel_error(dev_->download(out), want), 1e-5) << "add_rmsnorm out";
      EXPECT_LT(rel_error(dev_->download(dres), res), 1e-6) << "add_rmsnorm residual";

      std::vector<float> sum = x;
      cpu_.add(host(sum, {rows, cols}), host(y, {rows, cols}));
      Tensor dsum = dev_->upload(x.data(), DType::kF32, {rows, cols});
      gpu_->add(dsum, dy);
      EXPECT_LT(rel_error(dev_->download(dsum), sum), 1e-6) << "add";

      cpu_.silu_mul(host(x, {rows, cols}), host(y, {rows, cols}), host(want, {rows, cols}));
      out = dev_->poisoned({rows, cols});
      gpu_->silu_mul(dx, dy, out);
      EXPECT_LT(rel_error(dev_->download(out), want), 1e-5) << "silu_mul";

      std::vector<float> sm = x;
      cpu_.softmax(host(sm, {rows, cols}));
      Tensor dsm = dev_->upload(x.data(), DType::kF32, {rows, cols});
      gpu_->softmax(dsm);
      EXPECT_LT(rel_error(dev_->download(dsm), sm), 1e-5) << "softmax";
    }
  }
}

// A batch of `T` tokens over `S` sequences at random positions, for the ops that read the batch metadata.
struct RandomBatch {
  std::vector<int32_t> ids, positions, token_seq, seq_lens, tables, logits_indices;
  std::vector<int64_t> slots;
  BatchMeta meta;
  RandomBatch(int32_t T, int32_t S, int32_t vocab, int32_t num_slots, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<int64_t> free_slots(num_slots);
    for (int32_t i = 0; i < num_slots; ++i) free_slots[i] = i;
    std::shuffle(free_slots.begin(), free_slots.end(), rng);
    for (int32_t t = 0; t < T; ++t) {
      ids.push_back(static_cast<int32_t>(rng() % vocab));
      positions.push_back(static_cast<int32_t>(rng() % 40000));
      token_seq.push_back(t % S);
      slots.push_back(t % 5 == 3 ? -1 : free_slots[t]);  // some tokens are not stored
    }
    for (int32_t r = 0; r < T; r += 3) logits_indices.push_back(T - 1 - r);
    seq_lens.assign(S, 1);
    tables.assign(S, 0);
    meta.num_tokens = T;
    meta.num_seqs = S;
    meta.token_ids = ids.data();
    meta.positions = positions.data();
    meta.slot_mapping = slots.data();
    meta.token_seq = token_seq.data();
    meta.seq_lens = seq_lens.data();
    meta.block_tables = tables.data();
    meta.max_blocks_per_seq = 1;
    meta.block_size = 16;
    meta.num_logits = static_cast<int32_t>(logits_indices.size());
    meta.logits_indices = logits_indices.data();
  }
};

TEST_F(CudaOpsTest, BatchOpsMatchCpu) {
  uint64_t seed = 300;
  for (int32_t T : {1, 13, 70}) {
    SCOPED_TRACE("T=" + std::to_string(T));
    const int32_t V = 301, H = 72, nh = 6, nkv = 2, hd = 24, num_slots = 96;
    RandomBatch b(T, 3, V, num_slots, ++seed);
    cpu_.begin_forward(b.meta);
    gpu_->begin_forward(b.meta);

    // embedding from f32, bf16 and f16 tables
    auto table = random_floats(V * H, ++seed);
    for (DType dt : {DType::kF32, DType::kBF16, DType::kF16}) {
      std::vector<uint16_t> h16 = to_16(table, dt == DType::kF32 ? DType::kBF16 : dt);
      const void* src = dt == DType::kF32 ? static_cast<const void*>(table.data()) : h16.data();
      Tensor ht(const_cast<void*>(src), dt, {V, H});
      auto dt_w = gpu_->import_weight(ht);
      ASSERT_TRUE(dt_w.ok());
      std::vector<float> want(T * H);
      cpu_.embedding(ht, host(want, {T, H}));
      Tensor out = dev_->poisoned({T, H});
      gpu_->embedding(*dt_w, out);
      EXPECT_EQ(rel_error(dev_->download(out), want), 0.0) << "embedding " << tensor::dtype_name(dt);
    }

    // rope: neox and interleaved, full and partial rotary dims, at positions up to 40k
    for (bool neox : {true, false}) {
      for (int32_t rdim : {hd, 16}) {
        std::vector<float> inv(rdim / 2);
        for (int32_t i = 0; i < rdim / 2; ++i) inv[i] = 1.0f / std::pow(500000.0f, 2.0f * i / rdim);
        RopeParams p{inv.data(), rdim, neox, 1.0f};
        auto x = random_floats(T * nh * hd, ++seed);
        std::vector<float> want = x;
        cpu_.rope(host(want, {T, nh, hd}), p);
        Tensor dx = dev_->upload(x.data(), DType::kF32, {T, nh, hd});
        gpu_->rope(dx, p);
        EXPECT_LT(rel_error(dev_->download(dx), want), 1e-6) << "rope neox=" << neox << " rdim=" << rdim;
      }
    }

    // store_kv into f16 and f32 caches that start out equal (random), compared whole
    for (DType kvt : {DType::kF16, DType::kF32}) {
      const int64_t cache_elems = static_cast<int64_t>(num_slots) * nkv * hd;
      const size_t cache_bytes = row_bytes(kvt, cache_elems);
      std::vector<uint8_t> init(cache_bytes);
      std::mt19937_64 rng(++seed);
      for (size_t i = 0; i < init.size(); i += 2) {
        const uint16_t v = tensor::f32_to_f16(static_cast<float>(rng() % 1000) / 500.0f - 1.0f);
        std::memcpy(&init[i], &v, 2);
      }
      auto k = random_floats(T * nkv * hd, ++seed), v = random_floats(T * nkv * hd, ++seed);
      std::vector<uint8_t> ck = init, cv = init;
      const std::initializer_list<int64_t> cshape = {num_slots / 16, 16, nkv, hd};
      cpu_.store_kv(host(k, {T, nkv, hd}), host(v, {T, nkv, hd}), Tensor(ck.data(), kvt, cshape),
                    Tensor(cv.data(), kvt, cshape));
      Tensor gk = dev_->upload(init.data(), kvt, cshape), gv = dev_->upload(init.data(), kvt, cshape);
      gpu_->store_kv(dev_->upload(k.data(), DType::kF32, {T, nkv, hd}),
                     dev_->upload(v.data(), DType::kF32, {T, nkv, hd}), gk, gv);
      std::vector<uint8_t> hk(cache_bytes), hv(cache_bytes);
      gpu_->copy_to_host(gk, hk.data());
      gpu_->copy_to_host(gv, hv.data());
      EXPECT_EQ(hk, ck) << "store_kv k " << tensor::dtype_name(kvt);
      EXPECT_EQ(hv, cv) << "store_kv v " << tensor::dtype_name(kvt);
    }

    // gather_logit_rows
    const int32_t R = b.meta.num_logits;
    auto x = random_floats(T * H, ++seed);
    std::vector<float> want(R * H);
    cpu_.gather_logit_rows(host(x, {T, H}), host(want, {R, H}));
    Tensor out = dev_->poisoned({R, H});
    gpu_->gather_logit_rows(dev_->upload(x.data(), DType::kF32, {T, H}), out);
    EXPECT_EQ(rel_error(dev_->download(out), want), 0.0) << "gather_logit_rows";
  }
}

}  // namespace
}  // namespace tessera::backend::cuda

#endif  // TESSERA_CUDA
