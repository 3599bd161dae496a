// `tessera inspect FILE_OR_DIR`: what a model file holds, in a readable form.
#include <cstdio>
#include <filesystem>
#include <map>

#include "tessera/cli/commands.h"
#include "tessera/format/gguf/gguf_file.h"
#include "tessera/format/safetensors/safetensors_model.h"
#include "tessera/model/config.h"

namespace tessera::cli {
namespace {

void print_config(const Expected<model::ModelConfig>& c) {
  if (!c.ok()) {
    std::printf("model:        not runnable: %s\n", c.status().to_string().c_str());
    return;
  }
  std::printf("architecture: %s\n", c->architecture.c_str());
  std::printf("layers:       %lld\n", static_cast<long long>(c->num_layers));
  std::printf("hidden:       %lld (intermediate %lld)\n", static_cast<long long>(c->hidden_size),
              static_cast<long long>(c->intermediate_size));
  std::printf("heads:        %lld query, %lld key/value, head dim %lld\n", static_cast<long long>(c->num_heads),
              static_cast<long long>(c->num_kv_heads), static_cast<long long>(c->head_dim));
  std::printf("vocab:        %lld\n", static_cast<long long>(c->vocab_size));
  std::printf("context:      %lld\n", static_cast<long long>(c->max_position_embeddings));
  std::printf("rope:         theta %g, %s pairs%s\n", c->rope_theta, c->rope_interleaved ? "interleaved" : "neox",
              c->rope_scaling.type == model::RopeScaling::Type::kNone ? "" : ", scaled");
  std::printf("features:     %s%s%s\n", c->tie_word_embeddings ? "tied embeddings " : "",
              c->qkv_bias ? "qkv bias " : "", c->qk_norm ? "qk norm" : "");
}

void print_tensors(const format::TensorSource& src) {
  std::map<std::string, std::pair<int, uint64_t>> by_type;
  uint64_t total = 0, params = 0;
  for (const auto& t : src.tensors()) {
    auto& e = by_type[std::string(tensor::dtype_name(t.dtype))];
    ++e.first;
    e.second += t.nbytes;
    total += t.nbytes;
    uint64_t n = 1;
    for (int64_t d : t.shape) n *= static_cast<uint64_t>(d);
    params += n;
  }
  std::printf("tensors:      %zu, %.1f M parameters, %.1f MB\n", src.tensors().size(), params / 1e6, total / 1e6);
  for (const auto& [type, e] : by_type)
    std::printf("  %-6s %4d tensors, %.1f MB\n", type.c_str(), e.first, e.second / 1e6);
  for (const auto& t : src.tensors()) {
    std::string shape;
    for (size_t i = 0; i < t.shape.size(); ++i) shape += (i ? ", " : "") + std::to_string(t.shape[i]);
    std::printf("  %-48s %-5s [%s]\n", t.name.c_str(), std::string(tensor::dtype_name(t.dtype)).c_str(), shape.c_str());
  }
}

}  // namespace

int cmd_inspect(int argc, char** argv) {
  if (argc != 3) return fail("inspect", invalid_argument("usage: tessera inspect FILE_OR_DIR"));
  auto path = resolve_model_path(argv[2]);
  if (!path.ok()) return fail("inspect", path.status());
  std::error_code ec;
  if (std::filesystem::is_directory(*path, ec)) {
    auto st = format::SafetensorsModel::open(*path);
    if (!st.ok()) return fail("inspect", st.status());
    std::printf("format:       Hugging Face directory (safetensors)\n");
    print_config(model::config_from_hf_json((*st)->config_json(), *path + "/config.json"));
    print_tensors(**st);
    return 0;
  }
  auto g = format::GgufFile::open(*path);
  if (!g.ok()) return fail("inspect", g.status());
  const format::GgufFile& f = **g;
  std::printf("format:       GGUF v%u, alignment %llu\n", f.version(), static_cast<unsigned long long>(f.alignment()));
  print_config(model::config_from_gguf(f));
  std::printf("metadata:     %zu keys\n", f.metadata().size());
  for (const auto& [key, value] : f.metadata())
    std::printf("  %-48s %s\n", std::string(key).c_str(), value.to_string().c_str());
  print_tensors(f);
  return 0;
}

}  // namespace tessera::cli
