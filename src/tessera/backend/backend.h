// Backend: the ops a forward pass is written against, implemented once per device (cpu/, later cuda/).
//
// Shapes (outermost first): T tokens in the batch, H hidden size, K a matmul's input features, N its output
// features, nh / nkv query / key-value heads, hd head dim, R rows that need logits.
// Activations are f32 [T, ...] on CPU. Weights may be any DType. The KV cache of a layer is two tensors K and V,
// each [num_blocks, block_size, nkv, hd], addressed through the BatchMeta's block tables and slot mapping.
//
// Threading: a Backend is used by one thread at a time (the engine thread of its model). Ops may run
// asynchronously on a device; synchronize() or copy_to_host() waits for them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "tessera/tensor/tensor.h"
#include "tessera/util/status.h"

namespace tessera::backend {

using tensor::Tensor;

class Backend;

// Memory owned by a backend; freed when destroyed. Movable, not copyable.
class Buffer {
 public:
  Buffer() = default;
  Buffer(Backend* owner, void* data, size_t nbytes) : owner_(owner), data_(data), nbytes_(nbytes) {}
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { reset(); }

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  void reset();

 private:
  Backend* owner_ = nullptr;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
};

// What one forward pass needs beyond activations: where each token sits and which KV it sees. Host pointers, valid
// from begin_forward() until the next begin_forward(). A token at position p of sequence s attends to that
// sequence's KV positions 0..p, so its own K/V must be stored (store_kv) before attention runs.
struct BatchMeta {
  int32_t num_tokens = 0;                 // T
  int32_t num_seqs = 0;                   // S
  const int32_t* token_ids = nullptr;     // [T]
  const int32_t* positions = nullptr;     // [T] position of each token in its sequence
  const int64_t* slot_mapping = nullptr;  // [T] block_id * block_size + offset where its K/V go; < 0: not stored
  const int32_t* token_seq = nullptr;     // [T] index in [0, S) of each token's sequence
  const int32_t* seq_lens = nullptr;      // [S] KV length of each sequence once this batch is stored
  const int32_t* block_tables = nullptr;  // [S, max_blocks_per_seq] block ids; unused entries 0 (the null block)
  int32_t max_blocks_per_seq = 0;
  int32_t block_size = 0;
  int32_t num_logits = 0;                   // R
  const int32_t* logits_indices = nullptr;  // [R] token rows whose logits are wanted
};

// Rotary embedding of one model: angle(pos, i) = pos * inv_freq[i] for i < rotary_dim / 2.
struct RopeParams {
  const float* inv_freq = nullptr;  // [rotary_dim / 2], host memory owned by the model; scaling already applied
  int32_t rotary_dim = 0;           // <= hd; the first rotary_dim dims of each head rotate
  bool neox = true;                 // pairs (i, i + rotary_dim/2); false: interleaved pairs (2i, 2i+1)
  float attn_factor = 1.0f;         // multiplies cos and sin (YaRN's mscale); 1 otherwise
};

// Device memory, for sizing the KV pool on a GPU.
struct MemoryInfo {
  size_t free_bytes = 0;
  size_t total_bytes = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string name() const = 0;
  virtual tensor::Device device() const = 0;

  // ---- memory ----
  virtual Expected<Buffer> allocate(size_t nbytes) = 0;
  // A weight the ops can read. CPU returns `host` itself (zero-copy from the mapped file); a GPU uploads into
  // memory the backend owns until it is destroyed.
  virtual Expected<Tensor> import_weight(const Tensor& host) = 0;
  virtual void copy_from_host(Tensor dst, const void* src) = 0;
  virtual void copy_to_host(const Tensor& src, void* dst) = 0;  // waits for pending ops
  virtual void synchronize() = 0;
  // A device's memory now; std::nullopt for host memory (the CPU), which the caller sizes from RAM.
  virtual std::optional<MemoryInfo> memory_info() const { return std::nullopt; }
  // OK, or the first error of an op that ran asynchronously on a device (sticky: later ops do nothing). Ops
  // return no Status so that the forward pass stays one line per op; callers check this after a forward pass.
  virtual Status status() const { return Status(); }

  // ---- per forward pass ----
  virtual void begin_forward(const BatchMeta& meta) = 0;

  // ---- ops ----
  // out[t] = table[token_ids[t]]. table [V, H] any DType; out f32 [T, H].
  virtual void embedding(const Tensor& table, Tensor out) = 0;
  // out = x @ w^T (+ bias). x f32 [M, K]; w [N, K] any DType; bias f32 [N] or empty; out f32 [M, N].
  virtual void matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor out) = 0;
  // out = x / rms(x) * w over each row. x, out f32 [M, C] (may alias); w f32 [C].
  virtual void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor out) = 0;
  // residual += delta; out = rmsnorm(residual). residual, delta, out f32 [T, H].
  virtual void add_rmsnorm(Tensor residual, const Tensor& delta, const Tensor& w, float eps, Tensor out) = 0;
  // x += y. f32, same shape.
  virtual void add(Tensor x, const Tensor& y) = 0;
  // Rotates x [T, heads, hd] in place at the batch's positions.
  virtual void rope(Tensor x, const RopeParams& rope) = 0;
  // out = silu(gate) * up. f32 [T, F].
  virtual void silu_mul(const Tensor& gate, const Tensor& up, Tensor out) = 0;
  // Writes k, v [T, nkv, hd] into the caches at the batch's slot mapping.
  virtual void store_kv(const Tensor& k, const Tensor& v, Tensor k_cache, Tensor v_cache) = 0;
  // Causal paged attention: out[t, h] = softmax(q[t, h] . K^T * scale) V over the token's visible positions,
  // with query head h reading KV head h / (nh / nkv). q, out f32 [T, nh, hd].
  virtual void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, float scale, Tensor out) = 0;
  // out[r] = x[logits_indices[r]]. x [T, H], out [R, H].
  virtual void gather_logit_rows(const Tensor& x, Tensor out) = 0;
  // Softmax over each row, in place. f32 [M, C].
  virtual void softmax(Tensor x) = 0;

 protected:
  friend class Buffer;
  virtual void deallocate(void* data, size_t nbytes) = 0;
};

}  // namespace tessera::backend
