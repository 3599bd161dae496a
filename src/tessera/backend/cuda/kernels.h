// Launchers of the CUDA backend's kernels: host functions that enqueue one kernel on a stream and return the
// launch error. Shapes follow backend.h; all pointers are device pointers unless a name says host.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tessera::backend::cuda {

// 16-bit float formats the kernels read and write; matches the storage of tensor::DType kBF16 / kF16.
enum class Half : uint8_t { kBF16, kF16 };

// The batch metadata on the device: views into one packed buffer that begin_forward() fills with one copy.
struct DeviceMeta {
  const int32_t* token_ids = nullptr;       // [T]
  const int32_t* positions = nullptr;       // [T]
  const int64_t* slot_mapping = nullptr;    // [T]
  const int32_t* token_seq = nullptr;       // [T]
  const int32_t* seq_lens = nullptr;        // [S]
  const int32_t* block_tables = nullptr;    // [S, max_blocks_per_seq]
  const int32_t* logits_indices = nullptr;  // [R]
  int32_t num_tokens = 0, num_seqs = 0, num_logits = 0;
  int32_t max_blocks_per_seq = 0, block_size = 0;
};

// ---- elementwise and row kernels (elementwise.cu) ----
// table_kind: 0 f32, 1 bf16, 2 f16. out f32 [T, H].
cudaError_t launch_embedding(const void* table, int table_kind, int64_t hidden, const DeviceMeta& m, float* out,
                             cudaStream_t s);
cudaError_t launch_rmsnorm(const float* x, const float* w, float eps, float* out, int64_t rows, int64_t cols,
                           cudaStream_t s);
cudaError_t launch_add_rmsnorm(float* residual, const float* delta, const float* w, float eps, float* out, int64_t rows,
                               int64_t cols, cudaStream_t s);
cudaError_t launch_add(float* x, const float* y, int64_t n, cudaStream_t s);
cudaError_t launch_silu_mul(const float* gate, const float* up, float* out, int64_t n, cudaStream_t s);
// inv_freq: device [rotary_dim / 2].
cudaError_t launch_rope(float* x, const DeviceMeta& m, int32_t heads, int32_t head_dim, const float* inv_freq,
                        int32_t rotary_dim, bool neox, float attn_factor, cudaStream_t s);
// k, v f32 [T, row]; caches f16 (kv_f16) or f32, slot s at s * row.
cudaError_t launch_store_kv(const float* k, const float* v, void* k_cache, void* v_cache, int64_t row, bool kv_f16,
                            const DeviceMeta& m, cudaStream_t s);
cudaError_t launch_gather_rows(const void* x, int64_t row_nbytes, const DeviceMeta& m, void* out, cudaStream_t s);
cudaError_t launch_softmax(float* x, int64_t rows, int64_t cols, cudaStream_t s);
cudaError_t launch_to_half(const float* x, void* out, Half kind, int64_t n, cudaStream_t s);
// x [n] -> out [2n]: out[i] = half(x[i]) and out[n + i] = half(x[i] - out[i]): x as the sum of two 16-bit
// numbers (16 bits of mantissa for bf16), so one GEMM over the stacked rows multiplies at nearly f32 precision.
cudaError_t launch_to_half_split(const float* x, void* out, Half kind, int64_t n, cudaStream_t s);
// out[i] = a[i] + a[n + i]: folds the two halves of a split product back together.
cudaError_t launch_fold_halves(const float* a, float* out, int64_t n, cudaStream_t s);
cudaError_t launch_add_bias(float* out, const float* bias, int64_t rows, int64_t cols, cudaStream_t s);

// ---- paged attention (attention.cu) ----
struct AttentionArgs {
  const float* q = nullptr;       // [T, nh, hd]
  const void* k_cache = nullptr;  // [num_blocks, block_size, nkv, hd]
  const void* v_cache = nullptr;
  float* out = nullptr;  // [T, nh, hd]
  int32_t num_heads = 0, num_kv_heads = 0, head_dim = 0;
  float scale = 1.0f;
  bool kv_f16 = true;
};

// Split-KV attention, one query token per block row: right for any batch, fast for decode. `partial` holds
// T * nh * num_splits * (hd + 2) floats; max_ctx bounds every token's visible length.
int32_t attention_num_splits(int32_t num_tokens, int32_t num_kv_heads, int32_t max_ctx, int32_t num_sms);
int64_t attention_partial_floats(int32_t num_tokens, int32_t num_heads, int32_t head_dim, int32_t num_splits);
cudaError_t launch_attention_decode(const AttentionArgs& a, const DeviceMeta& m, int32_t num_splits, int32_t max_ctx,
                                    float* partial, cudaStream_t s);

}  // namespace tessera::backend::cuda
