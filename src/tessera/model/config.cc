#include "tessera/model/config.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace tessera::model {
namespace {

using json = nlohmann::json;

// Hugging Face `architectures` / `model_type` values tessera runs, and the Arch each maps to.
struct KnownArch {
  const char* model_type;
  const char* hf_class;
  Arch arch;
};
constexpr KnownArch kKnown[] = {
    {"llama", "LlamaForCausalLM", Arch::kLlama},
    {"mistral", "MistralForCausalLM", Arch::kLlama},
    {"qwen2", "Qwen2ForCausalLM", Arch::kQwen2},
    {"qwen3", "Qwen3ForCausalLM", Arch::kQwen3},
};

const KnownArch* find_known(const std::string& name) {
  for (const auto& k : kKnown)
    if (name == k.model_type || name == k.hf_class) return &k;
  return nullptr;
}

std::string known_list() {
  std::string s;
  for (const auto& k : kKnown) s += std::string(s.empty() ? "" : ", ") + k.model_type;
  return s;
}

template <typename T>
Status read_number(const json& j, const char* key, T& out, bool required, const std::string& path) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    return required ? invalid_argument(path + ": config.json has no '" + key + "'") : Status();
  }
  if (!it->is_number()) return invalid_argument(path + ": config.json '" + key + "' is not a number");
  out = it->get<T>();
  return Status();
}

Status parse_rope_scaling(const json& r, RopeScaling& out, float& theta, const std::string& path) {
  if (!r.is_object()) return Status();
  if (auto t = r.find("rope_theta"); t != r.end() && t->is_number()) theta = t->get<float>();
  std::string type;
  if (auto t = r.find("rope_type"); t != r.end() && t->is_string()) type = t->get<std::string>();
  if (auto t = r.find("type"); type.empty() && t != r.end() && t->is_string()) type = t->get<std::string>();
  if (type.empty() || type == "default") return Status();
  auto num = [&](const char* k, auto& dst) {
    if (auto it = r.find(k); it != r.end() && it->is_number()) dst = it->get<std::remove_reference_t<decltype(dst)>>();
  };
  num("factor", out.factor);
  if (type == "linear") {
    out.type = RopeScaling::Type::kLinear;
  } else if (type == "llama3") {
    out.type = RopeScaling::Type::kLlama3;
    num("low_freq_factor", out.low_freq_factor);
    num("high_freq_factor", out.high_freq_factor);
    num("original_max_position_embeddings", out.original_max_position);
  } else {
    return unimplemented(path + ": rope scaling type '" + type + "' is not supported (supported: linear, llama3)");
  }
  return Status();
}

}  // namespace

std::string to_string(Arch arch) {
  switch (arch) {
    case Arch::kLlama:
      return "llama";
    case Arch::kQwen2:
      return "qwen2";
    case Arch::kQwen3:
      return "qwen3";
  }
  return "?";
}

Expected<ModelConfig> config_from_hf_json(const std::string& text, const std::string& path) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return invalid_argument(path + ": config.json is not a JSON object");
  ModelConfig c;
  std::string name;
  if (auto it = j.find("model_type"); it != j.end() && it->is_string()) name = it->get<std::string>();
  const KnownArch* known = name.empty() ? nullptr : find_known(name);
  if (!known) {
    if (auto it = j.find("architectures"); it != j.end() && it->is_array() && !it->empty() && (*it)[0].is_string()) {
      if (name.empty()) name = (*it)[0].get<std::string>();
      known = find_known((*it)[0].get<std::string>());
    }
  }
  if (!known) {
    return unimplemented(path + ": unsupported architecture '" + (name.empty() ? "(none given)" : name) +
                         "' (supported: " + known_list() + ")");
  }
  c.architecture = known->model_type;
  c.arch = known->arch;
  TESSERA_RETURN_IF_ERROR(read_number(j, "vocab_size", c.vocab_size, true, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "hidden_size", c.hidden_size, true, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "intermediate_size", c.intermediate_size, true, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "num_hidden_layers", c.num_layers, true, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "num_attention_heads", c.num_heads, true, path));
  c.num_kv_heads = c.num_heads;
  TESSERA_RETURN_IF_ERROR(read_number(j, "num_key_value_heads", c.num_kv_heads, false, path));
  if (c.num_heads > 0) c.head_dim = c.hidden_size / c.num_heads;
  TESSERA_RETURN_IF_ERROR(read_number(j, "head_dim", c.head_dim, false, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "max_position_embeddings", c.max_position_embeddings, false, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "rms_norm_eps", c.rms_norm_eps, false, path));
  TESSERA_RETURN_IF_ERROR(read_number(j, "rope_theta", c.rope_theta, false, path));
  if (auto it = j.find("sliding_window"); it != j.end() && it->is_number_integer()) {
    // Qwen2 configs carry a window but only use it with use_sliding_window.
    bool used = c.arch == Arch::kLlama;
    if (auto u = j.find("use_sliding_window"); u != j.end() && u->is_boolean()) used = u->get<bool>();
    if (used) c.sliding_window = it->get<int64_t>();
  }
  // transformers 4.x writes rope_scaling; 5.x writes rope_parameters (which also holds rope_theta).
  for (const char* key : {"rope_scaling", "rope_parameters"})
    if (auto it = j.find(key); it != j.end())
      TESSERA_RETURN_IF_ERROR(parse_rope_scaling(*it, c.rope_scaling, c.rope_theta, path));
  if (auto it = j.find("tie_word_embeddings"); it != j.end() && it->is_boolean())
    c.tie_word_embeddings = it->get<bool>();
  c.qkv_bias = c.arch == Arch::kQwen2;
  if (auto it = j.find("attention_bias"); it != j.end() && it->is_boolean()) c.qkv_bias = it->get<bool>();
  c.qk_norm = c.arch == Arch::kQwen3;
  if (auto it = j.find("bos_token_id"); it != j.end() && it->is_number_integer()) c.bos_token_id = it->get<int64_t>();
  if (auto it = j.find("eos_token_id"); it != j.end()) {
    if (it->is_number_integer()) c.eos_token_ids.push_back(it->get<int64_t>());
    if (it->is_array())
      for (const auto& e : *it)
        if (e.is_number_integer()) c.eos_token_ids.push_back(e.get<int64_t>());
  }
  c.rotary_dim = c.head_dim;
  c.rope_interleaved = false;
  return c;
}

Expected<ModelConfig> config_from_gguf(const format::GgufFile& f) {
  const std::string& path = f.path();
  auto arch_name = f.get_string("general.architecture");
  if (!arch_name) return invalid_argument(path + ": GGUF has no general.architecture");
  ModelConfig c;
  c.architecture = std::string(*arch_name);
  if (c.architecture == "llama") {
    c.arch = Arch::kLlama;
  } else if (c.architecture == "qwen2") {
    c.arch = Arch::kQwen2;
  } else if (c.architecture == "qwen3") {
    c.arch = Arch::kQwen3;
  } else {
    return unimplemented(path + ": unsupported architecture '" + c.architecture + "' (supported: llama, qwen2, qwen3)");
  }
  const std::string a = c.architecture + ".";
  auto req_int = [&](const char* key, int64_t& out) -> Status {
    auto v = f.get_int(a + key);
    if (!v) return invalid_argument(path + ": GGUF has no integer " + a + key);
    out = *v;
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(req_int("embedding_length", c.hidden_size));
  TESSERA_RETURN_IF_ERROR(req_int("feed_forward_length", c.intermediate_size));
  TESSERA_RETURN_IF_ERROR(req_int("block_count", c.num_layers));
  TESSERA_RETURN_IF_ERROR(req_int("attention.head_count", c.num_heads));
  c.num_kv_heads = f.get_int(a + "attention.head_count_kv").value_or(c.num_heads);
  c.head_dim = c.num_heads > 0 ? c.hidden_size / c.num_heads : 0;
  c.head_dim = f.get_int(a + "attention.key_length").value_or(c.head_dim);
  c.max_position_embeddings = f.get_int(a + "context_length").value_or(0);
  c.rms_norm_eps = static_cast<float>(f.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = static_cast<float>(f.get_float(a + "rope.freq_base").value_or(10000.0));
  c.rotary_dim = f.get_int(a + "rope.dimension_count").value_or(c.head_dim);
  if (auto type = f.get_string(a + "rope.scaling.type"); type && *type != "none") {
    if (*type != "linear")
      return unimplemented(path + ": rope scaling type '" + std::string(*type) +
                           "' is not supported (supported: linear)");
    c.rope_scaling.type = RopeScaling::Type::kLinear;
    c.rope_scaling.factor = static_cast<float>(f.get_float(a + "rope.scaling.factor").value_or(1.0));
  }
  c.sliding_window = f.get_int(a + "attention.sliding_window").value_or(0);
  c.vocab_size = f.get_int(a + "vocab_size").value_or(0);
  if (const auto* emb = f.find("token_embd.weight"); emb && emb->shape.size() == 2) c.vocab_size = emb->shape[0];
  c.tie_word_embeddings = f.find("output.weight") == nullptr;
  c.qkv_bias = f.find("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = f.find("blk.0.attn_q_norm.weight") != nullptr;
  c.rope_interleaved = c.arch == Arch::kLlama;
  c.bos_token_id = f.get_int("tokenizer.ggml.bos_token_id").value_or(-1);
  if (auto eos = f.get_int("tokenizer.ggml.eos_token_id")) c.eos_token_ids.push_back(*eos);
  if (auto eot = f.get_int("tokenizer.ggml.eot_token_id");
      eot && (c.eos_token_ids.empty() || *eot != c.eos_token_ids[0]))
    c.eos_token_ids.push_back(*eot);
  return c;
}

Status validate(const ModelConfig& c) {
  auto bad = [&](const std::string& what) { return invalid_argument("model config: " + what); };
  constexpr int64_t kMax = int64_t{1} << 24;  // far above any real model dimension, far below overflow
  for (auto [name, v] : {std::pair{"vocab_size", c.vocab_size},
                         {"hidden_size", c.hidden_size},
                         {"intermediate_size", c.intermediate_size},
                         {"num_layers", c.num_layers},
                         {"num_heads", c.num_heads},
                         {"num_kv_heads", c.num_kv_heads},
                         {"head_dim", c.head_dim}})
    if (v <= 0 || v > kMax) return bad(std::string(name) + " = " + std::to_string(v) + " is out of range");
  if (c.num_heads % c.num_kv_heads != 0)
    return bad("num_heads " + std::to_string(c.num_heads) + " is not a multiple of num_kv_heads " +
               std::to_string(c.num_kv_heads));
  if (c.rotary_dim <= 0 || c.rotary_dim > c.head_dim || c.rotary_dim % 2 != 0)
    return bad("rotary dim " + std::to_string(c.rotary_dim) + " must be even and at most head_dim");
  if (!(c.rms_norm_eps > 0.0f) || !(c.rope_theta > 0.0f)) return bad("rms_norm_eps and rope_theta must be positive");
  if (!(c.rope_scaling.factor > 0.0f)) return bad("rope scaling factor must be positive");
  return Status();
}

std::vector<float> rope_inv_freq(const ModelConfig& c, const std::vector<float>& freq_factors) {
  const int64_t half = c.rotary_dim / 2;
  std::vector<float> inv(half);
  for (int64_t i = 0; i < half; ++i) {
    // As the reference computes it: base ** (2i / dim) in float32, then its reciprocal.
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(c.rotary_dim);
    inv[i] = 1.0f / std::pow(c.rope_theta, exponent);
  }
  const RopeScaling& s = c.rope_scaling;
  if (s.type == RopeScaling::Type::kLinear) {
    for (float& f : inv) f /= s.factor;
  } else if (s.type == RopeScaling::Type::kLlama3) {
    const double old_len = static_cast<double>(s.original_max_position);
    const double low_wavelen = old_len / s.low_freq_factor, high_wavelen = old_len / s.high_freq_factor;
    for (float& f : inv) {
      const double wavelen = 2.0 * M_PI / f;
      if (wavelen < high_wavelen) continue;  // high frequency: unchanged
      if (wavelen > low_wavelen) {
        f = static_cast<float>(f / s.factor);
      } else {
        const double smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
        f = static_cast<float>((1.0 - smooth) * f / s.factor + smooth * f);
      }
    }
  }
  for (size_t i = 0; i < freq_factors.size() && i < inv.size(); ++i) inv[i] /= freq_factors[i];
  return inv;
}

}  // namespace tessera::model
