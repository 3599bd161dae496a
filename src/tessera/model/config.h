// ModelConfig: everything the forward pass needs to know about a model's shape, filled from a Hugging Face
// config.json or from GGUF metadata, and validated once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tessera/format/gguf/gguf_file.h"
#include "tessera/util/status.h"

namespace tessera::model {

enum class Arch { kLlama, kQwen2, kQwen3 };

struct RopeScaling {
  enum class Type { kNone, kLinear, kLlama3 };
  Type type = Type::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f;          // llama3
  float high_freq_factor = 4.0f;         // llama3
  int64_t original_max_position = 8192;  // llama3
};

struct ModelConfig {
  std::string architecture;  // as the file names it: "llama", "mistral", "qwen2", "qwen3"
  Arch arch = Arch::kLlama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  int64_t sliding_window = 0;  // 0: none
  float rms_norm_eps = 1e-6f;
  float rope_theta = 10000.0f;
  int64_t rotary_dim = 0;  // head_dim unless the file says otherwise
  RopeScaling rope_scaling;
  // GGUF files of the "llama" architecture store Q and K rows permuted for interleaved-pair RoPE (the converter
  // undoes Hugging Face's rotate-half layout); every other source uses rotate-half (NeoX) pairs.
  bool rope_interleaved = false;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;  // Qwen2 (and Llama with attention_bias)
  bool qk_norm = false;   // Qwen3: RMSNorm over each head of q and k before RoPE
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;
};

// From the text of a Hugging Face config.json. Refuses unsupported architectures by name.
Expected<ModelConfig> config_from_hf_json(const std::string& json_text, const std::string& path);
// From GGUF metadata (`general.architecture` and `{arch}.*` keys).
Expected<ModelConfig> config_from_gguf(const format::GgufFile& file);
// Checks sizes are positive, consistent (heads divide, head_dim even, ...) and not absurd.
Status validate(const ModelConfig& config);

// Rotary inverse frequencies [rotary_dim / 2] with the configured scaling applied. GGUF Llama 3 files carry the
// scaling as per-frequency divisors (`rope_freqs.weight`); pass them as `freq_factors` (empty otherwise).
std::vector<float> rope_inv_freq(const ModelConfig& config, const std::vector<float>& freq_factors);

std::string to_string(Arch arch);

}  // namespace tessera::model
