// The CPU kernels other than matrix products (see matmul.h): row-wise normalization, rotary embedding, the gated
// MLP activation, softmax and paged attention. Each kernel exists once, in ops_kernels.h, and is compiled twice:
// portable (ops_portable.cc) and for AVX2/FMA/F16C (ops_avx2.cc); kernels() picks one at startup.
//
// Kernels are single-threaded over the rows they are given; the backend splits rows over its thread pool.
#pragma once

#include <cstdint>

#include "tessera/backend/backend.h"

namespace tessera::backend::cpu {

// One thread's view of a paged-attention job: a run of consecutive query tokens of one sequence, one KV head.
struct AttentionTask {
  const float* q;              // [num_q, nh, hd] rows of the first query token
  float* out;                  // [num_q, nh, hd]
  int32_t num_q;               // consecutive tokens of the same sequence, positions first_pos, first_pos+1, ...
  int32_t first_pos;           // position of the first query token; token i sees KV positions 0..first_pos+i
  int32_t kv_head;             // query heads kv_head*group .. +group-1 read this KV head
  const int32_t* block_table;  // the sequence's block ids
};

struct AttentionShape {
  int32_t num_heads, num_kv_heads, head_dim, block_size;
  float scale;
  bool kv_f16;  // the cache holds f16 (else f32)
};

struct Kernels {
  const char* isa;
  void (*rmsnorm)(const float* x, const float* w, float eps, float* out, int64_t rows, int64_t cols);
  void (*add_rmsnorm)(float* residual, const float* delta, const float* w, float eps, float* out, int64_t rows,
                      int64_t cols);
  void (*add)(float* x, const float* y, int64_t n);
  void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n);
  void (*softmax)(float* x, int64_t rows, int64_t cols);
  // x [rows, heads, hd]; cos_sin [rows, rotary_dim/2, 2] already scaled by attn_factor.
  void (*rope)(float* x, const float* cos_sin, int64_t rows, int32_t heads, int32_t head_dim, int32_t rotary_dim,
               bool neox);
  // Writes one token's K or V row [nkv * hd] into a cache slot, converting to the cache dtype.
  void (*store_row)(const float* src, void* dst, int64_t n, bool to_f16);
  // `scratch` holds at least attention_scratch_floats() floats.
  void (*attention)(const AttentionTask& task, const AttentionShape& shape, const void* k_cache, const void* v_cache,
                    float* scratch);
};

// Floats of scratch one attention task needs for a context of up to max_ctx positions.
int64_t attention_scratch_floats(const AttentionShape& shape, int32_t max_num_q, int64_t max_ctx);

// The best kernels this CPU runs; TESSERA_CPU_ISA=portable|avx2 forces a lower level.
const Kernels& kernels();
const Kernels& portable_kernels();
#if defined(TESSERA_X86)
const Kernels& avx2_kernels();
#endif

}  // namespace tessera::backend::cpu
