// Paged attention, one query token at a time, split over the KV length (FlashDecoding's idea): block
// (token t, KV head, split) reads its slice of the token's visible positions through the block table once and
// serves all G = nh / nkv query heads that share the KV head. Splits exist to fill the chip when the batch is
// small; a combine kernel merges their (max, sum, partial output) triples. Within a block, keys are processed in
// sub-chunks that fit shared memory with an online softmax, so any context length runs in any split.
//
// It is correct for every token of any batch, prefill tokens too, and is today's only attention kernel: long
// prompts re-read their prefix once per query token, which is why a tensor-core prefill kernel (FlashAttention
// tiles over many query tokens) is the next step for time to first token (docs/cuda.md).
#include <cuda_fp16.h>

#include <cmath>

#include "tessera/backend/cuda/kernels.h"

namespace tessera::backend::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kGMax = 8;           // query heads of a group handled per pass (register arrays need a constant)
constexpr int kVec = 8;            // elements per 16-byte load of f16 K/V
constexpr int kSmemFloats = 12288; // 48 KB: no opt-in needed
constexpr int kMinChunk = 64;      // fewest keys worth a split

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ void load8(const __half* p, float* f) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 x = __half22float2(h[i]);
    f[2 * i] = x.x;
    f[2 * i + 1] = x.y;
  }
}
__device__ __forceinline__ void load8(const float* p, float* f) {
  const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
  f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
}

int sub_chunk_len(int G, int hd) {
  const int room = (kSmemFloats - 2 * G * hd - 3 * G) / G;
  if (room < 32) return 0;
  return room >= 1024 ? 1024 : room / 32 * 32;
}

template <typename KV>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(AttentionArgs a, DeviceMeta m, int32_t chunk_len,
                                                                    int32_t sub_len, int32_t num_splits,
                                                                    float* partial) {
  extern __shared__ float smem[];
  const int G = a.num_heads / a.num_kv_heads, hd = a.head_dim, nkv = a.num_kv_heads;
  const int t = blockIdx.x, kvh = blockIdx.y, sp = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nwarps = blockDim.x >> 5;
  float* q_s = smem;                 // [G, hd]
  float* acc_s = q_s + G * hd;       // [G, hd] unnormalized output
  float* sc_s = acc_s + G * hd;      // [G, sub_len] scores, then probabilities
  float* st_s = sc_s + G * sub_len;  // [G, 3] running max, running sum, rescale factor

  const int ctx = m.positions[t] + 1;
  const int32_t* table = m.block_tables + static_cast<int64_t>(m.token_seq[t]) * m.max_blocks_per_seq;
  const int begin = sp * chunk_len, end = min(ctx, begin + chunk_len);
  const int h0 = kvh * G;
  const float* q = a.q + (static_cast<int64_t>(t) * a.num_heads + h0) * hd;
  for (int i = tid; i < G * hd; i += blockDim.x) {
    q_s[i] = q[i];
    acc_s[i] = 0.0f;
  }
  for (int g = tid; g < G; g += blockDim.x) st_s[3 * g] = -INFINITY, st_s[3 * g + 1] = 0.0f;
  __syncthreads();

  const KV* kc = static_cast<const KV*>(a.k_cache);
  const KV* vc = static_cast<const KV*>(a.v_cache);
  auto row_of = [&](int p) -> int64_t {
    const int64_t slot = static_cast<int64_t>(table[p / m.block_size]) * m.block_size + p % m.block_size;
    return (slot * nkv + kvh) * hd;
  };

  for (int s0 = begin; s0 < end; s0 += sub_len) {
    const int n = min(sub_len, end - s0);
    // Scores: one thread per key, all G heads against one read of the key row.
    for (int j = tid; j < n; j += blockDim.x) {
      const KV* krow = kc + row_of(s0 + j);
      for (int g0 = 0; g0 < G; g0 += kGMax) {
        float dot[kGMax];
#pragma unroll
        for (int g = 0; g < kGMax; ++g) dot[g] = 0.0f;
        for (int d = 0; d < hd; d += kVec) {
          float kf[kVec];
          load8(krow + d, kf);
#pragma unroll
          for (int g = 0; g < kGMax; ++g) {
            if (g0 + g < G) {
              const float* qg = q_s + (g0 + g) * hd + d;
#pragma unroll
              for (int e = 0; e < kVec; ++e) dot[g] = fmaf(qg[e], kf[e], dot[g]);
            }
          }
        }
#pragma unroll
        for (int g = 0; g < kGMax; ++g)
          if (g0 + g < G) sc_s[(g0 + g) * sub_len + j] = dot[g] * a.scale;
      }
    }
    __syncthreads();
    // Online softmax: one warp per head of the group.
    for (int g = warp; g < G; g += nwarps) {
      float* sc = sc_s + g * sub_len;
      float mx = -INFINITY;
      for (int j = lane; j < n; j += 32) mx = fmaxf(mx, sc[j]);
      mx = warp_max(mx);
      const float m_old = st_s[3 * g], m_new = fmaxf(m_old, mx);
      float sum = 0.0f;
      for (int j = lane; j < n; j += 32) {
        const float e = __expf(sc[j] - m_new);
        sc[j] = e;
        sum += e;
      }
      sum = warp_sum(sum);
      if (lane == 0) {
        const float f = m_old == -INFINITY ? 0.0f : __expf(m_old - m_new);
        st_s[3 * g] = m_new;
        st_s[3 * g + 1] = st_s[3 * g + 1] * f + sum;
        st_s[3 * g + 2] = f;
      }
    }
    __syncthreads();
    for (int i = tid; i < G * hd; i += blockDim.x) acc_s[i] *= st_s[3 * (i / hd) + 2];
    __syncthreads();
    // P V: thread (key lane, 8-dim slice) accumulates its keys for all heads; key lanes meet in shared memory.
    const int HV = hd / kVec, KL = max(1, static_cast<int>(blockDim.x) / HV);
    for (int c = tid; c < HV * KL; c += blockDim.x) {
      const int dv = c % HV, kl = c / HV;
      for (int g0 = 0; g0 < G; g0 += kGMax) {
        float acc[kGMax][kVec];
#pragma unroll
        for (int g = 0; g < kGMax; ++g)
#pragma unroll
          for (int e = 0; e < kVec; ++e) acc[g][e] = 0.0f;
        for (int j = kl; j < n; j += KL) {
          float vf[kVec];
          load8(vc + row_of(s0 + j) + dv * kVec, vf);
#pragma unroll
          for (int g = 0; g < kGMax; ++g) {
            if (g0 + g < G) {
              const float p = sc_s[(g0 + g) * sub_len + j];
#pragma unroll
              for (int e = 0; e < kVec; ++e) acc[g][e] = fmaf(p, vf[e], acc[g][e]);
            }
          }
        }
#pragma unroll
        for (int g = 0; g < kGMax; ++g)
          if (g0 + g < G)
#pragma unroll
            for (int e = 0; e < kVec; ++e) atomicAdd(&acc_s[(g0 + g) * hd + dv * kVec + e], acc[g][e]);
      }
    }
    __syncthreads();
  }

  if (num_splits == 1) {
    float* out = a.out + (static_cast<int64_t>(t) * a.num_heads + h0) * hd;
    for (int i = tid; i < G * hd; i += blockDim.x) out[i] = acc_s[i] / st_s[3 * (i / hd) + 1];
  } else {
    for (int i = tid; i < G * (hd + 2); i += blockDim.x) {
      const int g = i / (hd + 2), d = i % (hd + 2);
      float* p = partial + ((static_cast<int64_t>(t) * a.num_heads + h0 + g) * num_splits + sp) * (hd + 2);
      p[d] = d < hd ? acc_s[g * hd + d] : st_s[3 * g + (d - hd)];
    }
  }
}

// Merges the splits of one (token, head): out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).
__global__ void attention_combine_kernel(const float* partial, int32_t num_splits, int32_t hd, float* out) {
  const int64_t row = blockIdx.x;
  const float* p = partial + row * num_splits * (hd + 2);
  float M = -INFINITY;
  for (int s = 0; s < num_splits; ++s) M = fmaxf(M, p[s * (hd + 2) + hd]);
  float L = 0.0f;
  for (int s = 0; s < num_splits; ++s) {
    const float ms = p[s * (hd + 2) + hd];
    if (ms != -INFINITY) L += p[s * (hd + 2) + hd + 1] * __expf(ms - M);
  }
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float o = 0.0f;
    for (int s = 0; s < num_splits; ++s) {
      const float ms = p[s * (hd + 2) + hd];
      if (ms != -INFINITY) o += p[s * (hd + 2) + d] * __expf(ms - M);
    }
    out[row * hd + d] = o / L;
  }
}

}  // namespace

int32_t attention_num_splits(int32_t num_tokens, int32_t num_kv_heads, int32_t max_ctx, int32_t num_sms) {
  const int64_t blocks = static_cast<int64_t>(num_tokens) * num_kv_heads;
  const int64_t want = (2 * static_cast<int64_t>(num_sms) + blocks - 1) / blocks;  // two waves of blocks
  const int64_t most = (max_ctx + kMinChunk - 1) / kMinChunk;
  const int64_t s = want < most ? want : most;
  return static_cast<int32_t>(s < 1 ? 1 : s);
}

int64_t attention_partial_floats(int32_t num_tokens, int32_t num_heads, int32_t head_dim, int32_t num_splits) {
  return num_splits <= 1 ? 0 : static_cast<int64_t>(num_tokens) * num_heads * num_splits * (head_dim + 2);
}

cudaError_t launch_attention_decode(const AttentionArgs& a, const DeviceMeta& m, int32_t num_splits, int32_t max_ctx,
                                    float* partial, cudaStream_t s) {
  if (m.num_tokens == 0) return cudaSuccess;
  const int G = a.num_heads / a.num_kv_heads;
  const int sub_len = sub_chunk_len(G, a.head_dim);
  if (a.head_dim % kVec != 0 || a.num_heads % a.num_kv_heads != 0 || sub_len == 0) return cudaErrorInvalidValue;
  const int32_t chunk_len = (max_ctx + num_splits - 1) / num_splits;
  const size_t smem = (2 * G * a.head_dim + G * sub_len + 3 * G) * sizeof(float);
  const dim3 grid(m.num_tokens, a.num_kv_heads, num_splits);
  if (a.kv_f16) {
    attention_decode_kernel<__half><<<grid, kThreads, smem, s>>>(a, m, chunk_len, sub_len, num_splits, partial);
  } else {
    attention_decode_kernel<float><<<grid, kThreads, smem, s>>>(a, m, chunk_len, sub_len, num_splits, partial);
  }
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess || num_splits == 1) return e;
  attention_combine_kernel<<<m.num_tokens * a.num_heads, a.head_dim < 128 ? a.head_dim : 128, 0, s>>>(
      partial, num_splits, a.head_dim, a.out);
  return cudaGetLastError();
}

}  // namespace tessera::backend::cuda
