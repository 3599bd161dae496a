// The decoder forward pass of the Llama family (Llama 2/3, Mistral, SmolLM2) and of Qwen2/2.5/3, which differ
// from it only in a bias on q/k/v (Qwen2) and an RMSNorm over each head of q and k (Qwen3); those steps run when
// the model has the tensors. Every line below is one backend op.
//
// Shapes: T tokens in the batch, H hidden, F intermediate, nh/nkv query/KV heads, hd head dim, R logit rows, V vocab.
#include <cmath>

#include "tessera/model/model.h"

namespace tessera::model {

Status Model::forward(const Batch& b, KVCache& cache, std::span<float> logits) {
  TESSERA_RETURN_IF_ERROR(check_batch(b, cache, logits.size()));
  const ModelConfig& c = config_;
  const int64_t T = static_cast<int64_t>(b.token_ids.size()), R = static_cast<int64_t>(b.logits_indices.size());
  const int64_t H = c.hidden_size, F = c.intermediate_size, nh = c.num_heads, nkv = c.num_kv_heads, hd = c.head_dim;
  TESSERA_RETURN_IF_ERROR(reserve_workspace(T, R));

  backend::BatchMeta meta;
  meta.num_tokens = static_cast<int32_t>(T);
  meta.num_seqs = static_cast<int32_t>(b.seq_lens.size());
  meta.token_ids = b.token_ids.data();
  meta.positions = b.positions.data();
  meta.slot_mapping = b.slot_mapping.data();
  meta.token_seq = b.token_seq.data();
  meta.seq_lens = b.seq_lens.data();
  meta.block_tables = b.block_tables.data();
  meta.max_blocks_per_seq = b.max_blocks_per_seq;
  meta.block_size = cache.block_size;
  meta.num_logits = static_cast<int32_t>(R);
  meta.logits_indices = b.logits_indices.data();
  backend::Backend& be = backend_;
  be.begin_forward(meta);

  const tensor::Device dev = be.device();
  auto f32 = [&](const backend::Buffer& buf, std::initializer_list<int64_t> shape) {
    return Tensor(buf.data(), tensor::DType::kF32, shape, dev);
  };
  Tensor x = f32(ws_.x, {T, H}), xb = f32(ws_.xb, {T, H}), xb2 = f32(ws_.xb2, {T, H});
  Tensor q = f32(ws_.q, {T, nh, hd}), k = f32(ws_.k, {T, nkv, hd}), v = f32(ws_.v, {T, nkv, hd});
  Tensor att = f32(ws_.att, {T, nh, hd});
  Tensor hb = f32(ws_.hb, {T, F}), hb2 = f32(ws_.hb2, {T, F});
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));

  be.embedding(w_.token_embd, x);
  for (size_t l = 0; l < w_.layers.size(); ++l) {
    const LayerWeights& L = w_.layers[l];
    // attention
    if (l == 0) {
      be.rmsnorm(x, L.attn_norm, c.rms_norm_eps, xb);
    } else {
      be.add_rmsnorm(x, xb2, L.attn_norm, c.rms_norm_eps, xb);  // x += previous MLP output
    }
    be.matmul(xb, L.wq, L.bq, q.reshaped({T, nh * hd}));
    be.matmul(xb, L.wk, L.bk, k.reshaped({T, nkv * hd}));
    be.matmul(xb, L.wv, L.bv, v.reshaped({T, nkv * hd}));
    if (c.qk_norm) {
      be.rmsnorm(q.reshaped({T * nh, hd}), L.q_norm, c.rms_norm_eps, q.reshaped({T * nh, hd}));
      be.rmsnorm(k.reshaped({T * nkv, hd}), L.k_norm, c.rms_norm_eps, k.reshaped({T * nkv, hd}));
    }
    be.rope(q, rope_);
    be.rope(k, rope_);
    be.store_kv(k, v, cache.k[l], cache.v[l]);
    be.attention(q, cache.k[l], cache.v[l], scale, att);
    be.matmul(att.reshaped({T, nh * hd}), L.wo, Tensor(), xb2);
    // MLP
    be.add_rmsnorm(x, xb2, L.ffn_norm, c.rms_norm_eps, xb);  // x += attention output
    be.matmul(xb, L.w_gate, Tensor(), hb);
    be.matmul(xb, L.w_up, Tensor(), hb2);
    be.silu_mul(hb, hb2, hb2);
    be.matmul(hb2, L.w_down, Tensor(), xb2);
  }
  be.add(x, xb2);  // x += last MLP output

  // Final norm and logits, only for the rows that need them.
  if (R > 0) {
    Tensor xr = f32(ws_.xr, {R, H});
    Tensor out = f32(ws_.logits, {R, c.vocab_size});
    be.gather_logit_rows(x, xr);
    be.rmsnorm(xr, w_.output_norm, c.rms_norm_eps, xr);
    be.matmul(xr, w_.output, Tensor(), out);
    be.copy_to_host(out, logits.data());
  }
  return Status();
}

}  // namespace tessera::model
