#include "tessera/backend/cpu/cpu_backend.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tessera/tensor/half.h"

namespace tessera::backend::cpu {
namespace {
// Below this many elements of work an op runs on the calling thread: waking the pool costs more than it saves.
constexpr int64_t kMinParallelWork = 1 << 14;
// Query tokens of one sequence processed together by one attention task (they share every K/V row load).
constexpr int32_t kAttentionQueryTile = 8;
}  // namespace

CpuBackend::CpuBackend(int num_threads, const Kernels& k, MatmulIsa matmul_level)
    : k_(k), matmul_isa_(matmul_level), pool_(num_threads) {
  attn_scratch_.resize(pool_.num_threads());
}

CpuBackend::~CpuBackend() = default;

std::string CpuBackend::name() const {
  return std::string("cpu (matmul ") + matmul_isa_name(matmul_isa()) + ", ops " + k_.isa + ", " +
         std::to_string(pool_.num_threads()) + " threads)";
}

Expected<Buffer> CpuBackend::allocate(size_t nbytes) {
  size_t rounded = (std::max<size_t>(nbytes, 1) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, rounded);
  if (!p) return resource_exhausted("cpu: cannot allocate " + std::to_string(nbytes) + " bytes");
  return Buffer(this, p, nbytes);
}

void CpuBackend::deallocate(void* data, size_t) { std::free(data); }

void CpuBackend::copy_from_host(Tensor dst, const void* src) { std::memcpy(dst.data, src, dst.nbytes()); }
void CpuBackend::copy_to_host(const Tensor& src, void* dst) { std::memcpy(dst, src.data, src.nbytes()); }

void CpuBackend::begin_forward(const BatchMeta& meta) {
  meta_ = meta;
  rope_valid_ = false;
}

template <typename F>
void CpuBackend::for_rows(int64_t rows, int64_t work_per_row, F&& fn) {
  if (rows * work_per_row < kMinParallelWork || pool_.num_threads() == 1) {
    fn(int64_t{0}, rows);
    return;
  }
  pool_.parallel_for(rows, fn);
}

void CpuBackend::embedding(const Tensor& table, Tensor out) {
  const int64_t hidden = table.cols();
  const size_t row_nbytes = table.row_nbytes();
  const auto* base = static_cast<const uint8_t*>(table.data);
  for_rows(meta_.num_tokens, hidden, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      dequantize_row(table.dtype, base + static_cast<size_t>(meta_.token_ids[t]) * row_nbytes,
                     out.as<float>() + t * hidden, hidden);
  });
}

void CpuBackend::matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor out) {
  assert(x.cols() == w.cols() && out.cols() == w.rows() && out.rows() == x.rows());
  matmul_at(matmul_isa_, pool_, matmul_scratch_, x.as<const float>(), x.rows(), x.cols(), w.data, w.dtype, w.rows(),
            bias.empty() ? nullptr : bias.as<const float>(), out.as<float>());
}

void CpuBackend::rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor out) {
  const int64_t cols = x.cols();
  for_rows(x.rows(), cols, [&](int64_t b, int64_t e) {
    k_.rmsnorm(x.as<const float>() + b * cols, w.as<const float>(), eps, out.as<float>() + b * cols, e - b, cols);
  });
}

void CpuBackend::add_rmsnorm(Tensor residual, const Tensor& delta, const Tensor& w, float eps, Tensor out) {
  const int64_t cols = residual.cols();
  for_rows(residual.rows(), cols, [&](int64_t b, int64_t e) {
    k_.add_rmsnorm(residual.as<float>() + b * cols, delta.as<const float>() + b * cols, w.as<const float>(), eps,
                   out.as<float>() + b * cols, e - b, cols);
  });
}

void CpuBackend::add(Tensor x, const Tensor& y) {
  const int64_t cols = x.cols();
  for_rows(x.rows(), cols, [&](int64_t b, int64_t e) {
    k_.add(x.as<float>() + b * cols, y.as<const float>() + b * cols, (e - b) * cols);
  });
}

void CpuBackend::silu_mul(const Tensor& gate, const Tensor& up, Tensor out) {
  const int64_t cols = gate.cols();
  for_rows(gate.rows(), cols, [&](int64_t b, int64_t e) {
    k_.silu_mul(gate.as<const float>() + b * cols, up.as<const float>() + b * cols, out.as<float>() + b * cols,
                (e - b) * cols);
  });
}

void CpuBackend::softmax(Tensor x) {
  const int64_t cols = x.cols();
  for_rows(x.rows(), cols, [&](int64_t b, int64_t e) { k_.softmax(x.as<float>() + b * cols, e - b, cols); });
}

void CpuBackend::rope(Tensor x, const RopeParams& p) {
  const int64_t T = meta_.num_tokens;
  const int32_t half = p.rotary_dim / 2;
  if (!rope_valid_ || rope_inv_freq_ != p.inv_freq || rope_dim_ != p.rotary_dim || rope_attn_factor_ != p.attn_factor) {
    rope_cos_sin_.resize(static_cast<size_t>(T) * p.rotary_dim);
    for (int64_t t = 0; t < T; ++t) {
      const float pos = static_cast<float>(meta_.positions[t]);
      float* cs = rope_cos_sin_.data() + t * p.rotary_dim;
      for (int32_t i = 0; i < half; ++i) {
        // The angle is rounded to float first, as the reference implementations do, then evaluated exactly.
        const float angle = pos * p.inv_freq[i];
        cs[2 * i] = static_cast<float>(std::cos(static_cast<double>(angle))) * p.attn_factor;
        cs[2 * i + 1] = static_cast<float>(std::sin(static_cast<double>(angle))) * p.attn_factor;
      }
    }
    rope_inv_freq_ = p.inv_freq;
    rope_dim_ = p.rotary_dim;
    rope_attn_factor_ = p.attn_factor;
    rope_valid_ = true;
  }
  assert(x.ndim == 3 && x.dim(0) == T);
  const int32_t heads = static_cast<int32_t>(x.dim(1)), hd = static_cast<int32_t>(x.dim(2));
  for_rows(T, heads * hd, [&](int64_t b, int64_t e) {
    k_.rope(x.as<float>() + b * heads * hd, rope_cos_sin_.data() + b * p.rotary_dim, e - b, heads, hd, p.rotary_dim,
            p.neox);
  });
}

void CpuBackend::store_kv(const Tensor& k, const Tensor& v, Tensor k_cache, Tensor v_cache) {
  // A slot is [nkv, hd] contiguous in the [num_blocks, block_size, nkv, hd] cache, so slot s starts at s * row.
  const int64_t row = k.numel() / k.dim(0);
  const bool to_f16 = k_cache.dtype == tensor::DType::kF16;
  const size_t slot_nbytes = static_cast<size_t>(row) * (to_f16 ? 2 : 4);
  for_rows(meta_.num_tokens, row, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t slot = meta_.slot_mapping[t];
      if (slot < 0) continue;
      k_.store_row(k.as<const float>() + t * row, static_cast<uint8_t*>(k_cache.data) + slot * slot_nbytes, row,
                   to_f16);
      k_.store_row(v.as<const float>() + t * row, static_cast<uint8_t*>(v_cache.data) + slot * slot_nbytes, row,
                   to_f16);
    }
  });
}

void CpuBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, float scale, Tensor out) {
  assert(q.ndim == 3 && k_cache.ndim == 4);
  const AttentionShape shape{static_cast<int32_t>(q.dim(1)),
                             static_cast<int32_t>(k_cache.dim(2)),
                             static_cast<int32_t>(q.dim(2)),
                             static_cast<int32_t>(k_cache.dim(1)),
                             scale,
                             k_cache.dtype == tensor::DType::kF16};
  const int64_t q_row = static_cast<int64_t>(shape.num_heads) * shape.head_dim;

  // Tiles of consecutive tokens of one sequence at consecutive positions, times KV heads.
  attn_tasks_.clear();
  int64_t max_ctx = 0;
  for (int32_t t = 0; t < meta_.num_tokens;) {
    int32_t n = 1;
    while (n < kAttentionQueryTile && t + n < meta_.num_tokens && meta_.token_seq[t + n] == meta_.token_seq[t] &&
           meta_.positions[t + n] == meta_.positions[t] + n)
      ++n;
    const int32_t seq = meta_.token_seq[t];
    const int32_t* table = meta_.block_tables + static_cast<int64_t>(seq) * meta_.max_blocks_per_seq;
    max_ctx = std::max<int64_t>(max_ctx, meta_.positions[t] + n);
    for (int32_t h = 0; h < shape.num_kv_heads; ++h)
      attn_tasks_.push_back(
          {q.as<const float>() + t * q_row, out.as<float>() + t * q_row, n, meta_.positions[t], h, table});
    t += n;
  }

  const size_t scratch_floats = static_cast<size_t>(attention_scratch_floats(shape, kAttentionQueryTile, max_ctx));
  std::atomic<size_t> next{0};
  auto work = [&](int thread) {
    auto& scratch = attn_scratch_[thread];
    if (scratch.size() < scratch_floats) scratch.resize(scratch_floats);
    for (size_t i; (i = next.fetch_add(1, std::memory_order_relaxed)) < attn_tasks_.size();)
      k_.attention(attn_tasks_[i], shape, k_cache.data, v_cache.data, scratch.data());
  };
  if (attn_tasks_.size() == 1 || pool_.num_threads() == 1) {
    work(0);
  } else {
    pool_.run([&](int thread, int) { work(thread); });
  }
}

void CpuBackend::gather_logit_rows(const Tensor& x, Tensor out) {
  const size_t row_nbytes = x.row_nbytes();
  for (int32_t r = 0; r < meta_.num_logits; ++r)
    std::memcpy(static_cast<uint8_t*>(out.data) + r * row_nbytes,
                static_cast<const uint8_t*>(x.data) + static_cast<size_t>(meta_.logits_indices[r]) * row_nbytes,
                row_nbytes);
}

}  // namespace tessera::backend::cpu
