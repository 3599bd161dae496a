#include "tessera/model/model.h"

#include <filesystem>

#include "tessera/format/gguf/gguf_file.h"
#include "tessera/format/safetensors/safetensors_model.h"

namespace tessera::model {

size_t KVCache::nbytes() const {
  size_t n = 0;
  for (const auto& b : memory) n += b.nbytes();
  return n;
}

Model::Model(std::unique_ptr<format::TensorSource> source, ModelConfig config, Weights weights, backend::Backend& be)
    : source_(std::move(source)), config_(std::move(config)), w_(std::move(weights)), backend_(be) {
  inv_freq_ = rope_inv_freq(config_, w_.rope_freq_factors);
  rope_.inv_freq = inv_freq_.data();
  rope_.rotary_dim = static_cast<int32_t>(config_.rotary_dim);
  rope_.neox = !config_.rope_interleaved;
  rope_.attn_factor = 1.0f;
}

Model::~Model() = default;

Expected<std::unique_ptr<Model>> Model::load(const std::string& path, backend::Backend& backend) {
  std::error_code ec;
  std::unique_ptr<format::TensorSource> source;
  ModelConfig config;
  NameScheme scheme;
  if (std::filesystem::is_directory(path, ec)) {
    std::unique_ptr<format::SafetensorsModel> st;
    TESSERA_ASSIGN_OR_RETURN(st, format::SafetensorsModel::open(path));
    TESSERA_ASSIGN_OR_RETURN(config, config_from_hf_json(st->config_json(), path + "/config.json"));
    source = std::move(st);
    scheme = NameScheme::kHuggingFace;
  } else {
    std::unique_ptr<format::GgufFile> gguf;
    TESSERA_ASSIGN_OR_RETURN(gguf, format::GgufFile::open(path));
    TESSERA_ASSIGN_OR_RETURN(config, config_from_gguf(*gguf));
    source = std::move(gguf);
    scheme = NameScheme::kGguf;
  }
  TESSERA_RETURN_IF_ERROR(validate(config).with_context(path));
  Weights weights;
  TESSERA_ASSIGN_OR_RETURN(weights, load_weights(*source, scheme, config, backend));
  return std::unique_ptr<Model>(new Model(std::move(source), std::move(config), std::move(weights), backend));
}

size_t Model::kv_block_nbytes(int32_t block_size, tensor::DType dtype) const {
  return 2 * static_cast<size_t>(config_.num_layers) *
         row_bytes(dtype, static_cast<int64_t>(block_size) * config_.num_kv_heads * config_.head_dim);
}

Expected<KVCache> Model::allocate_kv_cache(int32_t num_blocks, int32_t block_size, tensor::DType dtype) const {
  if (num_blocks < 2 || block_size <= 0)
    return invalid_argument("KV cache needs at least 2 blocks (block 0 is the null block) of positive size");
  if (dtype != tensor::DType::kF32 && dtype != tensor::DType::kF16)
    return unimplemented("KV cache dtype " + std::string(dtype_name(dtype)) + " (supported: f32, f16)");
  KVCache c;
  c.num_blocks = num_blocks;
  c.block_size = block_size;
  c.dtype = dtype;
  const int64_t nkv = config_.num_kv_heads, hd = config_.head_dim;
  for (int64_t l = 0; l < config_.num_layers; ++l) {
    for (auto* list : {&c.k, &c.v}) {
      Tensor t(nullptr, dtype, {num_blocks, block_size, nkv, hd}, backend_.device());
      backend::Buffer b;
      TESSERA_ASSIGN_OR_RETURN(b, backend_.allocate(t.nbytes()));
      t.data = b.data();
      list->push_back(t);
      c.memory.push_back(std::move(b));
    }
  }
  return c;
}

Status Model::check_batch(const Batch& b, const KVCache& cache, size_t logits_size) const {
  const size_t T = b.token_ids.size();
  const size_t S = b.seq_lens.size();
  if (T == 0) return invalid_argument("batch has no tokens");
  if (b.positions.size() != T || b.slot_mapping.size() != T || b.token_seq.size() != T)
    return invalid_argument("batch: token_ids, positions, slot_mapping and token_seq differ in length");
  if (b.max_blocks_per_seq <= 0 || b.block_tables.size() != S * static_cast<size_t>(b.max_blocks_per_seq))
    return invalid_argument("batch: block_tables is not [num_seqs, max_blocks_per_seq]");
  if (logits_size < b.logits_indices.size() * static_cast<size_t>(config_.vocab_size))
    return invalid_argument("batch: logits buffer is too small");
  const int64_t num_slots = static_cast<int64_t>(cache.num_blocks) * cache.block_size;
  for (int32_t id : b.block_tables)
    if (id < 0 || id >= cache.num_blocks)
      return invalid_argument("batch: block id " + std::to_string(id) + " outside the cache");
  for (size_t s = 0; s < S; ++s)
    if (b.seq_lens[s] < 0 || b.seq_lens[s] > static_cast<int64_t>(b.max_blocks_per_seq) * cache.block_size)
      return invalid_argument("batch: sequence " + std::to_string(s) + " is longer than its block table");
  for (size_t t = 0; t < T; ++t) {
    if (b.token_ids[t] < 0 || b.token_ids[t] >= config_.vocab_size)
      return invalid_argument("batch: token id " + std::to_string(b.token_ids[t]) + " is outside the vocabulary of " +
                              std::to_string(config_.vocab_size));
    if (b.token_seq[t] < 0 || static_cast<size_t>(b.token_seq[t]) >= S)
      return invalid_argument("batch: token " + std::to_string(t) + " names a sequence outside the batch");
    if (b.positions[t] < 0 || b.positions[t] >= b.seq_lens[b.token_seq[t]])
      return invalid_argument("batch: token " + std::to_string(t) + " has a position beyond its sequence length");
    if (b.slot_mapping[t] >= num_slots) return invalid_argument("batch: slot outside the cache");
  }
  for (int32_t r : b.logits_indices)
    if (r < 0 || static_cast<size_t>(r) >= T) return invalid_argument("batch: logits index outside the batch");
  return Status();
}

Status Model::reserve_workspace(int64_t T, int64_t R) {
  if (T <= ws_.num_tokens && R <= ws_.num_logits) return Status();
  T = std::max(T, ws_.num_tokens);
  R = std::max(R, ws_.num_logits);
  const ModelConfig& c = config_;
  auto alloc = [&](backend::Buffer& buf, int64_t floats) -> Status {
    buf.reset();
    TESSERA_ASSIGN_OR_RETURN(buf, backend_.allocate(static_cast<size_t>(floats) * sizeof(float)));
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(alloc(ws_.x, T * c.hidden_size));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.xb, T * c.hidden_size));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.xb2, T * c.hidden_size));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.q, T * c.num_heads * c.head_dim));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.k, T * c.num_kv_heads * c.head_dim));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.v, T * c.num_kv_heads * c.head_dim));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.att, T * c.num_heads * c.head_dim));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.hb, T * c.intermediate_size));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.hb2, T * c.intermediate_size));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.xr, std::max<int64_t>(R, 1) * c.hidden_size));
  TESSERA_RETURN_IF_ERROR(alloc(ws_.logits, std::max<int64_t>(R, 1) * c.vocab_size));
  ws_.num_tokens = T;
  ws_.num_logits = R;
  return Status();
}

}  // namespace tessera::model
