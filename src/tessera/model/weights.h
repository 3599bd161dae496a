// The weights of a decoder model, as backend tensors, looked up by name in a TensorSource and checked against the
// ModelConfig's shapes. Large matrices stay as they are in the file (any DType the backend multiplies); small
// vectors (norms, biases, rope factors) are widened to f32 once, at load.
#pragma once

#include <memory>
#include <vector>

#include "tessera/backend/backend.h"
#include "tessera/format/tensor_source.h"
#include "tessera/model/config.h"

namespace tessera::model {

using tensor::Tensor;

struct LayerWeights {
  Tensor attn_norm;             // [H] f32
  Tensor wq, wk, wv, wo;        // [nh*hd, H], [nkv*hd, H], [nkv*hd, H], [H, nh*hd]
  Tensor bq, bk, bv;            // [nh*hd], [nkv*hd], [nkv*hd] f32; empty without qkv bias
  Tensor q_norm, k_norm;        // [hd] f32; empty without qk norm
  Tensor ffn_norm;              // [H] f32
  Tensor w_gate, w_up, w_down;  // [F, H], [F, H], [H, F]
};

struct Weights {
  Tensor token_embd;   // [V, H]
  Tensor output_norm;  // [H] f32
  Tensor output;       // [V, H]; the same tensor as token_embd when tied
  std::vector<LayerWeights> layers;
  std::vector<float> rope_freq_factors;  // GGUF Llama 3: per-frequency divisors; empty otherwise
  std::vector<backend::Buffer> owned;    // memory of the widened f32 vectors
};

enum class NameScheme { kGguf, kHuggingFace };

// Looks up every tensor the config implies, checks its shape and type, and imports it into `backend`.
// Errors name the file, the tensor and what was expected.
Expected<Weights> load_weights(const format::TensorSource& source, NameScheme scheme, const ModelConfig& config,
                               backend::Backend& backend);

}  // namespace tessera::model
