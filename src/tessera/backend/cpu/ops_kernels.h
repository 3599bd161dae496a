// Kernel bodies shared by ops_portable.cc and ops_avx2.cc. Each includes this file inside its own namespace with
// different compiler flags, so the same loops are vectorized for each instruction set. Loops are written so the
// compiler can vectorize them: `omp simd` marks reductions (-fopenmp-simd; no OpenMP runtime), and exp is our own
// polynomial so it vectorizes too (libm's expf does not without -ffast-math).
//
// Not a standalone header: no include guard, no namespace.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "tessera/backend/cpu/ops.h"
#include "tessera/tensor/half.h"

namespace {

using tessera::backend::cpu::AttentionShape;
using tessera::backend::cpu::AttentionTask;

// exp(x) to about 2 ulp for x in [-87, 88]; below that exactly 0 (so a -inf logit gets probability 0), above
// it exp(88). Range reduction x = n*ln2 + r with |r| <= ln2/2, then a degree-6 Taylor polynomial (error < 2e-7
// relative).
inline float fast_expf(float x_in) {
  const float x = std::min(std::max(x_in, -87.0f), 88.0f);
  const float t = x * 1.44269504088896341f;
  const int32_t n = static_cast<int32_t>(t + (t >= 0.0f ? 0.5f : -0.5f));
  const float nf = static_cast<float>(n);
  const float r = (x - nf * 0.693145751953125f) - nf * 1.428606765330187e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits;
  std::memcpy(&bits, &p, 4);
  bits += n * (1 << 23);  // multiply by 2^n through the exponent field
  float out;
  std::memcpy(&out, &bits, 4);
  return x_in < -87.0f ? 0.0f : out;
}

inline float dot(const float* a, const float* b, int64_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

void k_rmsnorm(const float* x, const float* w, float eps, float* out, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * cols;
    float* o = out + r * cols;
    const float inv = 1.0f / std::sqrt(dot(xr, xr, cols) / static_cast<float>(cols) + eps);
#pragma omp simd
    for (int64_t i = 0; i < cols; ++i) o[i] = xr[i] * inv * w[i];
  }
}

void k_add_rmsnorm(float* residual, const float* delta, const float* w, float eps, float* out, int64_t rows,
                   int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = residual + r * cols;
    const float* d = delta + r * cols;
#pragma omp simd
    for (int64_t i = 0; i < cols; ++i) xr[i] += d[i];
    k_rmsnorm(xr, w, eps, out + r * cols, 1, cols);
  }
}

void k_add(float* x, const float* y, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void k_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + fast_expf(-gate[i])) * up[i];
}

void k_softmax(float* x, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < cols; ++i) mx = std::max(mx, xr[i]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int64_t i = 0; i < cols; ++i) {
      xr[i] = fast_expf(xr[i] - mx);
      sum += xr[i];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t i = 0; i < cols; ++i) xr[i] *= inv;
  }
}

void k_rope(float* x, const float* cos_sin, int64_t rows, int32_t heads, int32_t head_dim, int32_t rotary_dim,
            bool neox) {
  const int32_t half = rotary_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* cs = cos_sin + r * rotary_dim;  // [half][cos, sin]
    for (int32_t h = 0; h < heads; ++h) {
      float* v = x + (r * heads + h) * head_dim;
      if (neox) {
        for (int32_t i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float a = v[i], b = v[i + half];
          v[i] = a * c - b * s;
          v[i + half] = b * c + a * s;
        }
      } else {
        for (int32_t i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float a = v[2 * i], b = v[2 * i + 1];
          v[2 * i] = a * c - b * s;
          v[2 * i + 1] = b * c + a * s;
        }
      }
    }
  }
}

void load_f16_row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
#endif
  for (; i < n; ++i) dst[i] = tessera::tensor::f16_to_f32(src[i]);
}

void k_store_row(const float* src, void* dst, int64_t n, bool to_f16) {
  if (!to_f16) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* d = static_cast<uint16_t*>(dst);
  int64_t i = 0;
#if defined(__F16C__)
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
  for (; i < n; ++i) d[i] = tessera::tensor::f32_to_f16(src[i]);
}

// Paged attention for a tile of query rows that share one KV head: R = num_q tokens x group heads. Each key and
// value row is read (and widened from f16) once for the whole tile, which is what makes prefill fast.
// Scratch layout: qs [R, hd] | acc [R, hd] | kv [block_size, hd] | scores [R, ctx].
void k_attention(const AttentionTask& t, const AttentionShape& s, const void* k_cache, const void* v_cache,
                 float* scratch) {
  const int32_t hd = s.head_dim, group = s.num_heads / s.num_kv_heads, bs = s.block_size;
  const int32_t R = t.num_q * group;
  const int64_t ctx = static_cast<int64_t>(t.first_pos) + t.num_q;  // the last token sees positions 0..ctx-1
  float* qs = scratch;
  float* acc = qs + static_cast<int64_t>(R) * hd;
  float* kv = acc + static_cast<int64_t>(R) * hd;
  float* scores = kv + static_cast<int64_t>(bs) * hd;

  // Row r = i * group + g is token i, query head kv_head * group + g; it sees positions 0..first_pos + i.
  for (int32_t i = 0; i < t.num_q; ++i)
    for (int32_t g = 0; g < group; ++g) {
      const float* src = t.q + (static_cast<int64_t>(i) * s.num_heads + t.kv_head * group + g) * hd;
      float* dst = qs + static_cast<int64_t>(i * group + g) * hd;
      for (int32_t d = 0; d < hd; ++d) dst[d] = src[d] * s.scale;
    }

  const int64_t row_elems = static_cast<int64_t>(s.num_kv_heads) * hd;  // one slot: [nkv, hd]
  const int64_t elem_bytes = s.kv_f16 ? 2 : 4;
  auto load_rows = [&](const void* cache, int64_t block, int32_t n) -> const float* {
    const auto* base = static_cast<const uint8_t*>(cache) +
                       (static_cast<int64_t>(t.block_table[block]) * bs * row_elems + t.kv_head * hd) * elem_bytes;
    if (!s.kv_f16) {
      if (row_elems == hd) return reinterpret_cast<const float*>(base);  // rows already contiguous
      for (int32_t j = 0; j < n; ++j)
        std::memcpy(kv + static_cast<int64_t>(j) * hd, base + j * row_elems * elem_bytes, hd * sizeof(float));
      return kv;
    }
    for (int32_t j = 0; j < n; ++j)
      load_f16_row(reinterpret_cast<const uint16_t*>(base + j * row_elems * elem_bytes),
                   kv + static_cast<int64_t>(j) * hd, hd);
    return kv;
  };

  const int64_t num_blocks = (ctx + bs - 1) / bs;
  for (int64_t b = 0; b < num_blocks; ++b) {
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(bs, ctx - b * bs));
    const float* k = load_rows(k_cache, b, n);
    for (int32_t r = 0; r < R; ++r) {
      const int64_t visible = t.first_pos + r / group + 1;
      float* sr = scores + r * ctx;
      const int32_t m = static_cast<int32_t>(std::min<int64_t>(n, visible - b * bs));
      for (int32_t j = 0; j < m; ++j) sr[b * bs + j] = dot(qs + static_cast<int64_t>(r) * hd, k + j * hd, hd);
    }
  }

  for (int32_t r = 0; r < R; ++r) {
    const int64_t visible = t.first_pos + r / group + 1;
    k_softmax(scores + r * ctx, 1, visible);
    std::fill(acc + static_cast<int64_t>(r) * hd, acc + static_cast<int64_t>(r + 1) * hd, 0.0f);
  }

  for (int64_t b = 0; b < num_blocks; ++b) {
    const int32_t n = static_cast<int32_t>(std::min<int64_t>(bs, ctx - b * bs));
    const float* v = load_rows(v_cache, b, n);
    for (int32_t r = 0; r < R; ++r) {
      const int64_t visible = t.first_pos + r / group + 1;
      const float* sr = scores + r * ctx + b * bs;
      float* ar = acc + static_cast<int64_t>(r) * hd;
      const int32_t m = static_cast<int32_t>(std::min<int64_t>(n, visible - b * bs));
      for (int32_t j = 0; j < m; ++j) {
        const float p = sr[j];
        const float* vj = v + j * hd;
#pragma omp simd
        for (int32_t d = 0; d < hd; ++d) ar[d] += p * vj[d];
      }
    }
  }

  for (int32_t i = 0; i < t.num_q; ++i)
    for (int32_t g = 0; g < group; ++g)
      std::memcpy(t.out + (static_cast<int64_t>(i) * s.num_heads + t.kv_head * group + g) * hd,
                  acc + static_cast<int64_t>(i * group + g) * hd, hd * sizeof(float));
}

}  // namespace

#define TESSERA_CPU_KERNEL_TABLE(isa_name) \
  { isa_name, k_rmsnorm, k_add_rmsnorm, k_add, k_silu_mul, k_softmax, k_rope, k_store_row, k_attention }
