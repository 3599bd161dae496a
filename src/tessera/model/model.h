// Model: a loaded decoder and its forward pass over one flat batch.
//
// A Batch mixes prefill chunks and decode tokens of many sequences with no padding: every token carries its
// position and the slot where its K/V go; every sequence carries its block table. The caller (the engine, or the
// simple driver in cli/) owns the KV cache and the block tables; the model only reads and writes through them.
//
// Threading: one thread at a time calls forward() (the model's engine thread).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tessera/backend/backend.h"
#include "tessera/format/tensor_source.h"
#include "tessera/model/config.h"
#include "tessera/model/weights.h"

namespace tessera::model {

// Host-side description of one forward pass. See backend::BatchMeta for the meaning of each field.
struct Batch {
  std::span<const int32_t> token_ids;     // [T]
  std::span<const int32_t> positions;     // [T]
  std::span<const int64_t> slot_mapping;  // [T]
  std::span<const int32_t> token_seq;     // [T] index of each token's sequence
  std::span<const int32_t> seq_lens;      // [S] KV length of each sequence after this batch
  std::span<const int32_t> block_tables;  // [S * max_blocks_per_seq]
  int32_t max_blocks_per_seq = 0;
  std::span<const int32_t> logits_indices;  // [R] rows of the batch whose logits are returned, in this order
};

// The paged KV cache of every layer: K and V each [num_blocks, block_size, nkv, hd]. Block 0 is the null block.
struct KVCache {
  int32_t num_blocks = 0;
  int32_t block_size = 0;
  tensor::DType dtype = tensor::DType::kF16;
  std::vector<Tensor> k, v;  // per layer
  std::vector<backend::Buffer> memory;

  size_t nbytes() const;
};

class Model {
 public:
  // Loads a GGUF file or a Hugging Face directory (config.json + safetensors) onto `backend`, which must outlive
  // the model. Errors name the file and the problem (unsupported architecture, missing tensor, bad shape, ...).
  static Expected<std::unique_ptr<Model>> load(const std::string& path, backend::Backend& backend);
  ~Model();

  const ModelConfig& config() const { return config_; }
  const format::TensorSource& source() const { return *source_; }
  backend::Backend& backend() const { return backend_; }

  // Bytes of KV cache one block takes over all layers.
  size_t kv_block_nbytes(int32_t block_size, tensor::DType dtype) const;
  Expected<KVCache> allocate_kv_cache(int32_t num_blocks, int32_t block_size, tensor::DType dtype) const;

  // Runs the batch, storing its K/V into `cache`, and writes the logits of batch.logits_indices to `logits`
  // ([R, vocab] row-major, host memory). Returns InvalidArgument (and computes nothing) for an inconsistent batch:
  // token ids out of the vocabulary, slots or block ids outside the cache, positions beyond a sequence's length.
  Status forward(const Batch& batch, KVCache& cache, std::span<float> logits);

 private:
  Model(std::unique_ptr<format::TensorSource> source, ModelConfig config, Weights weights, backend::Backend& be);
  Status check_batch(const Batch& batch, const KVCache& cache, size_t logits_size) const;
  Status reserve_workspace(int64_t num_tokens, int64_t num_logits);

  std::unique_ptr<format::TensorSource> source_;  // keeps the mapped weights alive
  ModelConfig config_;
  Weights w_;
  backend::Backend& backend_;
  std::vector<float> inv_freq_;
  backend::RopeParams rope_;

  // Activations for up to ws_tokens_ tokens, grown only when a larger batch arrives. Shapes per token:
  struct Workspace {
    int64_t num_tokens = 0, num_logits = 0;
    backend::Buffer x;       // [T, H] residual stream
    backend::Buffer xb;      // [T, H] normalized input of a sub-block
    backend::Buffer xb2;     // [T, H] output of a sub-block
    backend::Buffer q;       // [T, nh, hd]
    backend::Buffer k;       // [T, nkv, hd]
    backend::Buffer v;       // [T, nkv, hd]
    backend::Buffer att;     // [T, nh, hd] attention output
    backend::Buffer hb;      // [T, F] gate
    backend::Buffer hb2;     // [T, F] up, then silu(gate) * up
    backend::Buffer xr;      // [R, H] rows that need logits
    backend::Buffer logits;  // [R, V]
  } ws_;
};

}  // namespace tessera::model
