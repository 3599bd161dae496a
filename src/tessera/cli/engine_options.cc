#include "tessera/cli/engine_options.h"

#include <cmath>
#include <cstdio>

namespace tessera::cli {

const std::set<std::string>& engine_value_flags() {
  static const std::set<std::string> flags = {
      "max-num-seqs", "max-num-batched-tokens", "max-model-len", "block-size", "kv-cache-memory",
      "num-blocks",   "gpu-memory-utilization"};
  return flags;
}

const std::set<std::string>& engine_bool_flags() {
  static const std::set<std::string> flags = {"enable-prefix-caching", "no-enable-prefix-caching",
                                              "enable-chunked-prefill", "no-enable-chunked-prefill"};
  return flags;
}

Expected<int64_t> parse_byte_size(const std::string& text) {
  const auto bad = [&] {
    return invalid_argument("not a size: '" + text + "' (a number of bytes, optionally with K, M, G or T)");
  };
  if (text.empty()) return bad();
  size_t used = 0;
  double value;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return bad();
  }
  std::string suffix = text.substr(used);
  if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b')) suffix.pop_back();
  if (!suffix.empty() && (suffix.back() == 'i')) suffix.pop_back();
  double scale = 1;
  if (suffix.size() > 1) return bad();
  if (suffix.size() == 1) {
    switch (suffix[0]) {
      case 'k':
      case 'K':
        scale = 1024.0;
        break;
      case 'm':
      case 'M':
        scale = 1024.0 * 1024;
        break;
      case 'g':
      case 'G':
        scale = 1024.0 * 1024 * 1024;
        break;
      case 't':
      case 'T':
        scale = 1024.0 * 1024 * 1024 * 1024;
        break;
      default:
        return bad();
    }
  }
  const double bytes = value * scale;
  if (!std::isfinite(bytes) || bytes < 1 || bytes > 9.0e18) return bad();
  return static_cast<int64_t>(bytes);
}

Expected<engine::EngineConfig> engine_config(const Args& args, engine::EngineConfig c) {
  const auto int_flag = [&](const char* name, auto& field, int64_t lo, int64_t hi) -> Status {
    int64_t v;
    TESSERA_ASSIGN_OR_RETURN(v, args.get_int(name, static_cast<int64_t>(field)));
    if (v < lo || v > hi)
      return invalid_argument(std::string("--") + name + " must be between " + std::to_string(lo) + " and " +
                              std::to_string(hi));
    field = static_cast<std::remove_reference_t<decltype(field)>>(v);
    return Status();
  };
  TESSERA_RETURN_IF_ERROR(int_flag("max-num-seqs", c.max_num_seqs, 1, 65536));
  TESSERA_RETURN_IF_ERROR(int_flag("max-num-batched-tokens", c.max_num_batched_tokens, 0, 1 << 20));
  TESSERA_RETURN_IF_ERROR(int_flag("max-model-len", c.max_model_len, 0, int64_t{1} << 24));
  TESSERA_RETURN_IF_ERROR(int_flag("block-size", c.block_size, 1, 1024));
  TESSERA_RETURN_IF_ERROR(int_flag("num-blocks", c.num_blocks, 0, 1 << 30));
  if (auto mem = args.get("kv-cache-memory")) {
    TESSERA_ASSIGN_OR_RETURN(c.kv_cache_memory, parse_byte_size(*mem));
  }
  TESSERA_ASSIGN_OR_RETURN(c.gpu_memory_utilization,
                           args.get_double("gpu-memory-utilization", c.gpu_memory_utilization));
  if (!(c.gpu_memory_utilization > 0 && c.gpu_memory_utilization <= 1))
    return invalid_argument("--gpu-memory-utilization must be in (0, 1]");
  if (args.has("enable-prefix-caching") && args.has("no-enable-prefix-caching"))
    return invalid_argument("--enable-prefix-caching and --no-enable-prefix-caching contradict each other");
  if (args.has("enable-prefix-caching")) c.enable_prefix_caching = true;
  if (args.has("no-enable-prefix-caching")) c.enable_prefix_caching = false;
  if (args.has("enable-chunked-prefill") && args.has("no-enable-chunked-prefill"))
    return invalid_argument("--enable-chunked-prefill and --no-enable-chunked-prefill contradict each other");
  if (args.has("enable-chunked-prefill")) c.enable_chunked_prefill = true;
  if (args.has("no-enable-chunked-prefill")) c.enable_chunked_prefill = false;
  return c;
}

std::string describe_pool(const engine::KVPoolPlan& plan, int32_t block_size, int64_t max_model_len) {
  char buf[256];
  const double mib = static_cast<double>(plan.block_nbytes) * (plan.num_blocks - 1) / (1024.0 * 1024.0);
  std::snprintf(buf, sizeof buf, "KV cache: %d blocks of %d tokens (%lld tokens, %.1f MiB; %s); max model len %lld",
                plan.num_blocks - 1, block_size, static_cast<long long>(plan.num_blocks - 1) * block_size, mib,
                plan.reason.c_str(), static_cast<long long>(max_model_len));
  return buf;
}

}  // namespace tessera::cli
