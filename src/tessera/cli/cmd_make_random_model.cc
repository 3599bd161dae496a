// `tessera make-random-model --shape NAME --out FILE.gguf [--seed S]`: a GGUF file with random BF16 weights in the
// shapes of a real model, made where it is needed (a GPU machine has no downloads) so benchmarks run at real
// sizes. Tensors are generated while the file is written, a 16 MB chunk at a time, so an 8B model never has to be
// in memory. The file has no tokenizer: `bench latency` draws random token ids.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "tessera/cli/args.h"
#include "tessera/cli/commands.h"
#include "tessera/format/gguf/gguf_writer.h"

namespace tessera::cli {
namespace {

struct Shape {
  const char* name;
  const char* arch;  // GGUF general.architecture
  int64_t vocab, hidden, intermediate, layers, heads, kv_heads, head_dim, context;
  double rope_theta, rms_eps;
  bool tied, qk_norm;
};

// From the models' published config.json files.
constexpr Shape kShapes[] = {
    {"llama-3.2-1b", "llama", 128256, 2048, 8192, 16, 32, 8, 64, 131072, 500000.0, 1e-5, true, false},
    {"llama-3.1-8b", "llama", 128256, 4096, 14336, 32, 32, 8, 128, 131072, 500000.0, 1e-5, false, false},
    {"qwen3-8b", "qwen3", 151936, 4096, 12288, 36, 32, 8, 128, 40960, 1000000.0, 1e-6, false, true},
};

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [-amplitude, amplitude) as BF16 (truncated: the distribution matters, not the rounding). The stream
// is a function of (seed, tensor, offset) alone, so the file is the same however the writer chunks it.
format::GgufWriter::Filler bf16_filler(uint64_t seed, float amplitude) {
  return [seed, amplitude](uint64_t offset, std::span<uint8_t> out) {
    const size_t n = out.size() / 2;
    auto* dst = reinterpret_cast<uint16_t*>(out.data());
    const unsigned nthreads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
    auto work = [&](size_t b, size_t e) {
      for (size_t i = b; i < e; i += 4) {
        uint64_t state = seed ^ ((offset / 2 + i) * 0xd1b54a32d192ed03ull);
        const uint64_t r = splitmix64(state);
        for (size_t j = 0; j < 4 && i + j < e; ++j) {
          const float u = static_cast<float>((r >> (16 * j)) & 0xffff) * (1.0f / 65536.0f);
          const float f = (2.0f * u - 1.0f) * amplitude;
          uint32_t bits;
          std::memcpy(&bits, &f, 4);
          dst[i + j] = static_cast<uint16_t>(bits >> 16);
        }
      }
    };
    std::vector<std::thread> threads;
    const size_t per = (n / nthreads + 3) / 4 * 4;
    for (unsigned t = 0; t < nthreads && t * per < n; ++t)
      threads.emplace_back(work, t * per, std::min(n, (t + 1) * per));
    for (auto& t : threads) t.join();
  };
}

format::GgufWriter::Filler ones_f32() {
  return [](uint64_t, std::span<uint8_t> out) {
    const float one = 1.0f;
    for (size_t i = 0; i + 4 <= out.size(); i += 4) std::memcpy(out.data() + i, &one, 4);
  };
}

}  // namespace

int cmd_make_random_model(int argc, char** argv) {
  auto args = Args::parse(argc, argv, 2, {"shape", "out", "seed"}, {});
  if (!args.ok()) return fail("make-random-model", args.status());
  const std::string shape_name = args->get("shape").value_or("");
  const std::string out = args->get("out").value_or("");
  auto seed = args->get_int("seed", 1);
  if (!seed.ok()) return fail("make-random-model", seed.status());
  const Shape* sh = nullptr;
  for (const Shape& s : kShapes)
    if (shape_name == s.name) sh = &s;
  if (!sh || out.empty())
    return fail("make-random-model", invalid_argument("usage: tessera make-random-model --shape "
                                                      "llama-3.2-1b|llama-3.1-8b|qwen3-8b --out FILE.gguf [--seed S]"));
  const std::string a = std::string(sh->arch) + ".";
  format::GgufWriter w;
  w.add_string("general.architecture", sh->arch);
  w.add_string("general.name", std::string("random ") + sh->name);
  w.add_u32(a + "context_length", static_cast<uint32_t>(sh->context));
  w.add_u32(a + "embedding_length", static_cast<uint32_t>(sh->hidden));
  w.add_u32(a + "feed_forward_length", static_cast<uint32_t>(sh->intermediate));
  w.add_u32(a + "block_count", static_cast<uint32_t>(sh->layers));
  w.add_u32(a + "attention.head_count", static_cast<uint32_t>(sh->heads));
  w.add_u32(a + "attention.head_count_kv", static_cast<uint32_t>(sh->kv_heads));
  w.add_u32(a + "attention.key_length", static_cast<uint32_t>(sh->head_dim));
  w.add_u32(a + "attention.value_length", static_cast<uint32_t>(sh->head_dim));
  w.add_u32(a + "rope.dimension_count", static_cast<uint32_t>(sh->head_dim));
  w.add_u32(a + "vocab_size", static_cast<uint32_t>(sh->vocab));
  w.add_f32(a + "rope.freq_base", static_cast<float>(sh->rope_theta));
  w.add_f32(a + "attention.layer_norm_rms_epsilon", static_cast<float>(sh->rms_eps));
  w.add_u32("tokenizer.ggml.bos_token_id", 1);
  w.add_u32("tokenizer.ggml.eos_token_id", 2);

  const int64_t H = sh->hidden, F = sh->intermediate, q_dim = sh->heads * sh->head_dim,
                kv_dim = sh->kv_heads * sh->head_dim;
  uint64_t tensor_seed = static_cast<uint64_t>(*seed) * 0x9e3779b97f4a7c15ull;
  // Matrices: amplitude 1/sqrt(K), so each product keeps its input's scale and activations stay finite.
  auto matrix = [&](const std::string& name, int64_t rows, int64_t cols) {
    w.add_tensor_generated(name, tensor::DType::kBF16, {rows, cols},
                           bf16_filler(++tensor_seed, 1.0f / std::sqrt(static_cast<float>(cols))));
  };
  auto vector = [&](const std::string& name, int64_t n) {
    w.add_tensor_generated(name, tensor::DType::kF32, {n}, ones_f32());
  };
  matrix("token_embd.weight", sh->vocab, H);
  vector("output_norm.weight", H);
  if (!sh->tied) matrix("output.weight", sh->vocab, H);
  for (int64_t l = 0; l < sh->layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    vector(p + "attn_norm.weight", H);
    matrix(p + "attn_q.weight", q_dim, H);
    matrix(p + "attn_k.weight", kv_dim, H);
    matrix(p + "attn_v.weight", kv_dim, H);
    matrix(p + "attn_output.weight", H, q_dim);
    if (sh->qk_norm) {
      vector(p + "attn_q_norm.weight", sh->head_dim);
      vector(p + "attn_k_norm.weight", sh->head_dim);
    }
    vector(p + "ffn_norm.weight", H);
    matrix(p + "ffn_gate.weight", F, H);
    matrix(p + "ffn_up.weight", F, H);
    matrix(p + "ffn_down.weight", H, F);
  }
  if (Status s = w.write_to_file(out); !s.ok()) return fail("make-random-model", s);
  std::printf("wrote %s (%s, BF16, random weights)\n", out.c_str(), sh->name);
  return 0;
}

}  // namespace tessera::cli
