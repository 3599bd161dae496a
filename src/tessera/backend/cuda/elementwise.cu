// Row and elementwise kernels of the CUDA backend: everything but the matrix products and attention.
// They are memory-bound: each reads its inputs once and writes its output once, 16 bytes per thread access
// where the row length allows, and reductions over a row run in one block.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::backend::cuda {
namespace {

constexpr int kRowThreads = 256;

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum (or max) over the block; every thread gets the result. `red` holds one float per warp.
template <bool kMax>
__device__ float block_reduce(float v, float* red) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = kMax ? warp_max(v) : warp_sum(v);
  __syncthreads();  // `red` may still be read by a previous reduction
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float r = lane < nwarps ? red[lane] : (kMax ? -INFINITY : 0.0f);
  return kMax ? warp_max(r) : warp_sum(r);
}

__device__ __forceinline__ float load_as_float(const void* p, int kind, int64_t i) {
  if (kind == 0) return static_cast<const float*>(p)[i];
  if (kind == 1) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  return __half2float(static_cast<const __half*>(p)[i]);
}

__global__ void embedding_kernel(const void* table, int kind, int64_t hidden, const int32_t* ids, float* out) {
  const int64_t t = blockIdx.x;
  const int64_t base = static_cast<int64_t>(ids[t]) * hidden;
  for (int64_t i = threadIdx.x; i < hidden; i += blockDim.x) out[t * hidden + i] = load_as_float(table, kind, base + i);
}

// One block per row. Sum of squares in f32, as the CPU kernel does.
__global__ void rmsnorm_kernel(const float* x, const float* w, float eps, float* out, int64_t cols) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * cols;
  float* o = out + blockIdx.x * cols;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_reduce<false>(ss, red);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) o[i] = xr[i] * inv * w[i];
}

// residual += delta, then out = rmsnorm(residual): one read of each input, the sum kept for the second pass in
// the thread that computed it (same index stride both passes), so residual is written once and never re-read.
__global__ void add_rmsnorm_kernel(float* residual, const float* delta, const float* w, float eps, float* out,
                                   int64_t cols) {
  __shared__ float red[32];
  float* r = residual + blockIdx.x * cols;
  const float* d = delta + blockIdx.x * cols;
  float* o = out + blockIdx.x * cols;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float v = r[i] + d[i];
    r[i] = v;
    ss += v * v;
  }
  ss = block_reduce<false>(ss, red);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(cols) + eps);
  // Each thread reads back only what it wrote itself: no barrier needed between the passes.
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) o[i] = r[i] * inv * w[i];
}

__global__ void add_kernel(float* x, const float* y, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    x[i] += y[i];
}

__global__ void silu_mul_kernel(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    out[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

// One block per token. The angle is rounded to float first and then evaluated in double, as the CPU backend and
// the reference implementations do, so large positions (32k) rotate by the same amount on both.
__global__ void rope_kernel(float* x, const int32_t* positions, int32_t heads, int32_t hd, const float* inv_freq,
                            int32_t rotary_dim, bool neox, float attn_factor) {
  const int64_t t = blockIdx.x;
  const int32_t half = rotary_dim / 2;
  const float pos = static_cast<float>(positions[t]);
  for (int32_t j = threadIdx.x; j < heads * half; j += blockDim.x) {
    const int32_t h = j / half, i = j % half;
    const float angle = pos * inv_freq[i];
    double sd, cd;
    sincos(static_cast<double>(angle), &sd, &cd);
    const float c = static_cast<float>(cd) * attn_factor, s = static_cast<float>(sd) * attn_factor;
    float* v = x + (t * heads + h) * hd;
    const int32_t ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
    const float a = v[ia], b = v[ib];
    v[ia] = a * c - b * s;
    v[ib] = b * c + a * s;
  }
}

__global__ void store_kv_kernel(const float* k, const float* v, void* k_cache, void* v_cache, int64_t row,
                                bool kv_f16, const int64_t* slot_mapping) {
  const int64_t t = blockIdx.x;
  const int64_t slot = slot_mapping[t];
  if (slot < 0) return;
  for (int64_t i = threadIdx.x; i < row; i += blockDim.x) {
    const float kv = k[t * row + i], vv = v[t * row + i];
    if (kv_f16) {
      static_cast<__half*>(k_cache)[slot * row + i] = __float2half_rn(kv);
      static_cast<__half*>(v_cache)[slot * row + i] = __float2half_rn(vv);
    } else {
      static_cast<float*>(k_cache)[slot * row + i] = kv;
      static_cast<float*>(v_cache)[slot * row + i] = vv;
    }
  }
}

__global__ void gather_rows_kernel(const uint8_t* x, int64_t row_nbytes, const int32_t* indices, uint8_t* out) {
  const uint8_t* src = x + static_cast<int64_t>(indices[blockIdx.x]) * row_nbytes;
  uint8_t* dst = out + blockIdx.x * row_nbytes;
  for (int64_t i = threadIdx.x; i < row_nbytes; i += blockDim.x) dst[i] = src[i];
}

__global__ void softmax_kernel(float* x, int64_t cols) {
  __shared__ float red[32];
  float* xr = x + blockIdx.x * cols;
  float mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) mx = fmaxf(mx, xr[i]);
  mx = block_reduce<true>(mx, red);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) {
    const float e = expf(xr[i] - mx);
    xr[i] = e;
    sum += e;
  }
  sum = block_reduce<false>(sum, red);
  const float inv = 1.0f / sum;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) xr[i] *= inv;
}

// 4 floats in, 4 halves out per step: 16-byte loads, 8-byte stores.
// `vec` is false when the pointers are not aligned for it (a view starting mid-row).
template <typename H>
__global__ void to_half_kernel(const float* x, H* out, int64_t n, bool vec) {
  const int64_t n4 = vec ? n / 4 : 0;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n4; i += stride) {
    const float4 f = reinterpret_cast<const float4*>(x)[i];
    H h[4];
    if constexpr (sizeof(H) == 2 && std::is_same_v<H, __half>) {
      h[0] = __float2half_rn(f.x), h[1] = __float2half_rn(f.y), h[2] = __float2half_rn(f.z), h[3] = __float2half_rn(f.w);
    } else {
      h[0] = __float2bfloat16_rn(f.x), h[1] = __float2bfloat16_rn(f.y), h[2] = __float2bfloat16_rn(f.z),
      h[3] = __float2bfloat16_rn(f.w);
    }
    *reinterpret_cast<uint2*>(out + 4 * i) = *reinterpret_cast<const uint2*>(h);
  }
  for (int64_t i = 4 * n4 + blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n; i += stride) {
    if constexpr (std::is_same_v<H, __half>) {
      out[i] = __float2half_rn(x[i]);
    } else {
      out[i] = __float2bfloat16_rn(x[i]);
    }
  }
}

template <typename H>
__global__ void to_half_split_kernel(const float* x, H* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float v = x[i];
    if constexpr (std::is_same_v<H, __half>) {
      const __half hi = __float2half_rn(v);
      out[i] = hi;
      out[n + i] = __float2half_rn(v - __half2float(hi));
    } else {
      const __nv_bfloat16 hi = __float2bfloat16_rn(v);
      out[i] = hi;
      out[n + i] = __float2bfloat16_rn(v - __bfloat162float(hi));
    }
  }
}

__global__ void fold_halves_kernel(const float* a, float* out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] = a[i] + a[n + i];
}

__global__ void add_bias_kernel(float* out, const float* bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[i] += bias[i % cols];
}

unsigned grid_for(int64_t n, int threads) {
  // Enough blocks to fill the chip several times over; grid-stride loops cover the rest.
  const int64_t blocks = (n + threads - 1) / threads;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 ? 65535 : blocks));
}

int row_threads(int64_t cols) {
  int t = 32;
  while (t < kRowThreads && t < cols) t *= 2;
  return t;
}

}  // namespace

cudaError_t launch_embedding(const void* table, int table_kind, int64_t hidden, const DeviceMeta& m, float* out,
                             cudaStream_t s) {
  if (m.num_tokens == 0) return cudaSuccess;
  embedding_kernel<<<m.num_tokens, row_threads(hidden), 0, s>>>(table, table_kind, hidden, m.token_ids, out);
  return cudaGetLastError();
}

cudaError_t launch_rmsnorm(const float* x, const float* w, float eps, float* out, int64_t rows, int64_t cols,
                           cudaStream_t s) {
  if (rows == 0) return cudaSuccess;
  rmsnorm_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, s>>>(x, w, eps, out, cols);
  return cudaGetLastError();
}

cudaError_t launch_add_rmsnorm(float* residual, const float* delta, const float* w, float eps, float* out,
                               int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows == 0) return cudaSuccess;
  add_rmsnorm_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, s>>>(residual, delta, w, eps, out, cols);
  return cudaGetLastError();
}

cudaError_t launch_add(float* x, const float* y, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  add_kernel<<<grid_for(n, 256), 256, 0, s>>>(x, y, n);
  return cudaGetLastError();
}

cudaError_t launch_silu_mul(const float* gate, const float* up, float* out, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  silu_mul_kernel<<<grid_for(n, 256), 256, 0, s>>>(gate, up, out, n);
  return cudaGetLastError();
}

cudaError_t launch_rope(float* x, const DeviceMeta& m, int32_t heads, int32_t head_dim, const float* inv_freq,
                        int32_t rotary_dim, bool neox, float attn_factor, cudaStream_t s) {
  if (m.num_tokens == 0 || rotary_dim < 2) return cudaSuccess;
  rope_kernel<<<m.num_tokens, row_threads(heads * rotary_dim / 2), 0, s>>>(x, m.positions, heads, head_dim,
                                                                          inv_freq, rotary_dim, neox, attn_factor);
  return cudaGetLastError();
}

cudaError_t launch_store_kv(const float* k, const float* v, void* k_cache, void* v_cache, int64_t row, bool kv_f16,
                            const DeviceMeta& m, cudaStream_t s) {
  if (m.num_tokens == 0) return cudaSuccess;
  store_kv_kernel<<<m.num_tokens, row_threads(row), 0, s>>>(k, v, k_cache, v_cache, row, kv_f16, m.slot_mapping);
  return cudaGetLastError();
}

cudaError_t launch_gather_rows(const void* x, int64_t row_nbytes, const DeviceMeta& m, void* out, cudaStream_t s) {
  if (m.num_logits == 0) return cudaSuccess;
  gather_rows_kernel<<<m.num_logits, 256, 0, s>>>(static_cast<const uint8_t*>(x), row_nbytes, m.logits_indices,
                                                  static_cast<uint8_t*>(out));
  return cudaGetLastError();
}

cudaError_t launch_softmax(float* x, int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows == 0) return cudaSuccess;
  softmax_kernel<<<static_cast<unsigned>(rows), row_threads(cols), 0, s>>>(x, cols);
  return cudaGetLastError();
}

cudaError_t launch_to_half(const float* x, void* out, Half kind, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  const bool vec = reinterpret_cast<uintptr_t>(x) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 8 == 0;
  if (kind == Half::kF16) {
    to_half_kernel<__half><<<grid_for(n / 4 + 1, 256), 256, 0, s>>>(x, static_cast<__half*>(out), n, vec);
  } else {
    to_half_kernel<__nv_bfloat16><<<grid_for(n / 4 + 1, 256), 256, 0, s>>>(x, static_cast<__nv_bfloat16*>(out), n,
                                                                            vec);
  }
  return cudaGetLastError();
}

cudaError_t launch_to_half_split(const float* x, void* out, Half kind, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (kind == Half::kF16) {
    to_half_split_kernel<__half><<<grid_for(n, 256), 256, 0, s>>>(x, static_cast<__half*>(out), n);
  } else {
    to_half_split_kernel<__nv_bfloat16><<<grid_for(n, 256), 256, 0, s>>>(x, static_cast<__nv_bfloat16*>(out), n);
  }
  return cudaGetLastError();
}

cudaError_t launch_fold_halves(const float* a, float* out, int64_t n, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  fold_halves_kernel<<<grid_for(n, 256), 256, 0, s>>>(a, out, n);
  return cudaGetLastError();
}

cudaError_t launch_add_bias(float* out, const float* bias, int64_t rows, int64_t cols, cudaStream_t s) {
  if (rows * cols == 0) return cudaSuccess;
  add_bias_kernel<<<grid_for(rows * cols, 256), 256, 0, s>>>(out, bias, rows, cols);
  return cudaGetLastError();
}

}  // namespace tessera::backend::cuda
