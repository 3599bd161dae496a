#include "tessera/model/weights.h"

#include <string>

#include "tessera/backend/cpu/matmul.h"

namespace tessera::model {
namespace {

using tensor::DType;

// Names of one layer's tensors in each scheme; `%d` is the layer index.
struct Names {
  const char* attn_norm;
  const char *wq, *wk, *wv, *wo;
  const char *bq, *bk, *bv;
  const char *q_norm, *k_norm;
  const char* ffn_norm;
  const char *w_gate, *w_up, *w_down;
};
constexpr Names kGgufNames = {
    "blk.%d.attn_norm.weight",   "blk.%d.attn_q.weight",      "blk.%d.attn_k.weight",   "blk.%d.attn_v.weight",
    "blk.%d.attn_output.weight", "blk.%d.attn_q.bias",        "blk.%d.attn_k.bias",     "blk.%d.attn_v.bias",
    "blk.%d.attn_q_norm.weight", "blk.%d.attn_k_norm.weight", "blk.%d.ffn_norm.weight", "blk.%d.ffn_gate.weight",
    "blk.%d.ffn_up.weight",      "blk.%d.ffn_down.weight",
};
constexpr Names kHfNames = {
    "model.layers.%d.input_layernorm.weight",
    "model.layers.%d.self_attn.q_proj.weight",
    "model.layers.%d.self_attn.k_proj.weight",
    "model.layers.%d.self_attn.v_proj.weight",
    "model.layers.%d.self_attn.o_proj.weight",
    "model.layers.%d.self_attn.q_proj.bias",
    "model.layers.%d.self_attn.k_proj.bias",
    "model.layers.%d.self_attn.v_proj.bias",
    "model.layers.%d.self_attn.q_norm.weight",
    "model.layers.%d.self_attn.k_norm.weight",
    "model.layers.%d.post_attention_layernorm.weight",
    "model.layers.%d.mlp.gate_proj.weight",
    "model.layers.%d.mlp.up_proj.weight",
    "model.layers.%d.mlp.down_proj.weight",
};

std::string layer_name(const char* pattern, int layer) {
  char buf[128];
  std::snprintf(buf, sizeof buf, pattern, layer);
  return buf;
}

class Loader {
 public:
  Loader(const format::TensorSource& src, backend::Backend& be, Weights& w) : src_(src), be_(be), w_(w) {}

  // A matrix [rows, cols] in any type the matmul kernels read.
  Status matrix(const std::string& name, int64_t rows, int64_t cols, Tensor& out) {
    const format::TensorEntry* e;
    TESSERA_ASSIGN_OR_RETURN(e, find(name, {rows, cols}));
    if (e->dtype == DType::kI32) return invalid_argument(where(name) + " has type i32, not a weight type");
    TESSERA_ASSIGN_OR_RETURN(out, be_.import_weight(e->view()));
    return Status();
  }

  // A vector [n], widened to f32 in backend memory.
  Status vector(const std::string& name, int64_t n, Tensor& out) {
    const format::TensorEntry* e;
    TESSERA_ASSIGN_OR_RETURN(e, find(name, {n}));
    std::vector<float> host(n);
    TESSERA_RETURN_IF_ERROR(widen(*e, host.data()));
    backend::Buffer buf;
    TESSERA_ASSIGN_OR_RETURN(buf, be_.allocate(n * sizeof(float)));
    out = Tensor(buf.data(), DType::kF32, {n}, be_.device());
    be_.copy_from_host(out, host.data());
    w_.owned.push_back(std::move(buf));
    return Status();
  }

  Status host_vector(const std::string& name, int64_t n, std::vector<float>& out) {
    const format::TensorEntry* e;
    TESSERA_ASSIGN_OR_RETURN(e, find(name, {n}));
    out.resize(n);
    return widen(*e, out.data());
  }

  bool has(const std::string& name) const { return src_.find(name) != nullptr; }

 private:
  std::string where(const std::string& name) const { return src_.path() + ": tensor '" + name + "'"; }

  Expected<const format::TensorEntry*> find(const std::string& name, std::vector<int64_t> shape) {
    const format::TensorEntry* e = src_.find(name);
    if (!e) return invalid_argument(src_.path() + ": missing tensor '" + name + "'");
    if (e->shape != shape) {
      auto str = [](const std::vector<int64_t>& s) {
        std::string r = "[";
        for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
        return r + "]";
      };
      return invalid_argument(where(name) + " has shape " + str(e->shape) + ", expected " + str(shape));
    }
    return e;
  }

  Status widen(const format::TensorEntry& e, float* dst) {
    if (e.dtype == DType::kI32) return invalid_argument(where(e.name) + " has type i32, expected a float type");
    backend::cpu::dequantize_row(e.dtype, e.data, dst, e.shape[0]);
    return Status();
  }

  const format::TensorSource& src_;
  backend::Backend& be_;
  Weights& w_;
};

}  // namespace

Expected<Weights> load_weights(const format::TensorSource& source, NameScheme scheme, const ModelConfig& c,
                               backend::Backend& backend) {
  Weights w;
  Loader ld(source, backend, w);
  const bool gguf = scheme == NameScheme::kGguf;
  const Names& n = gguf ? kGgufNames : kHfNames;
  const int64_t H = c.hidden_size, V = c.vocab_size, F = c.intermediate_size;
  const int64_t q_dim = c.num_heads * c.head_dim, kv_dim = c.num_kv_heads * c.head_dim;

  TESSERA_RETURN_IF_ERROR(ld.matrix(gguf ? "token_embd.weight" : "model.embed_tokens.weight", V, H, w.token_embd));
  TESSERA_RETURN_IF_ERROR(ld.vector(gguf ? "output_norm.weight" : "model.norm.weight", H, w.output_norm));
  const char* output_name = gguf ? "output.weight" : "lm_head.weight";
  // Some files tie the embeddings without saying so; others say so and still ship a copy. Use what is there.
  if (ld.has(output_name)) {
    TESSERA_RETURN_IF_ERROR(ld.matrix(output_name, V, H, w.output));
  } else {
    w.output = w.token_embd;
  }
  if (gguf && ld.has("rope_freqs.weight"))
    TESSERA_RETURN_IF_ERROR(ld.host_vector("rope_freqs.weight", c.rotary_dim / 2, w.rope_freq_factors));

  w.layers.resize(c.num_layers);
  for (int i = 0; i < static_cast<int>(c.num_layers); ++i) {
    LayerWeights& L = w.layers[i];
    auto name = [&](const char* pattern) { return layer_name(pattern, i); };
    TESSERA_RETURN_IF_ERROR(ld.vector(name(n.attn_norm), H, L.attn_norm));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.wq), q_dim, H, L.wq));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.wk), kv_dim, H, L.wk));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.wv), kv_dim, H, L.wv));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.wo), H, q_dim, L.wo));
    if (c.qkv_bias) {
      TESSERA_RETURN_IF_ERROR(ld.vector(name(n.bq), q_dim, L.bq));
      TESSERA_RETURN_IF_ERROR(ld.vector(name(n.bk), kv_dim, L.bk));
      TESSERA_RETURN_IF_ERROR(ld.vector(name(n.bv), kv_dim, L.bv));
    }
    if (c.qk_norm) {
      TESSERA_RETURN_IF_ERROR(ld.vector(name(n.q_norm), c.head_dim, L.q_norm));
      TESSERA_RETURN_IF_ERROR(ld.vector(name(n.k_norm), c.head_dim, L.k_norm));
    }
    TESSERA_RETURN_IF_ERROR(ld.vector(name(n.ffn_norm), H, L.ffn_norm));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.w_gate), F, H, L.w_gate));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.w_up), F, H, L.w_up));
    TESSERA_RETURN_IF_ERROR(ld.matrix(name(n.w_down), H, F, L.w_down));
  }
  return w;
}

}  // namespace tessera::model
