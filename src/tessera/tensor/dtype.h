// Element types of tensors: plain floats and the block-quantized GGML types that model files carry.
// A quantized type stores `block_size` elements in `block_bytes` bytes; rows are whole blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace tessera::tensor {

enum class DType : uint8_t {
  kF32,
  kF16,
  kBF16,
  kQ8_0,
  kQ4_0,
  kQ4_1,
  kQ4_K,
  kQ5_K,
  kQ6_K,
  kI32,
};

struct DTypeInfo {
  std::string_view name;  // "f32", "q4_k", ...
  int block_size;         // elements per block (1 for plain types)
  int block_bytes;        // bytes per block
  bool quantized;
};

const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
inline bool is_quantized(DType t) { return dtype_info(t).quantized; }

// Bytes of a row of n elements. REQUIRES: n % block_size == 0 (check with row_fits first for untrusted sizes).
inline size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& i = dtype_info(t);
  return static_cast<size_t>(n / i.block_size) * static_cast<size_t>(i.block_bytes);
}
inline bool row_fits(DType t, int64_t n) { return n >= 0 && n % dtype_info(t).block_size == 0; }

// GGML's type ids as written in GGUF files; nullopt for types tessera does not read.
std::optional<DType> dtype_from_ggml(uint32_t ggml_type);
uint32_t dtype_to_ggml(DType t);
// Name of a GGML type id, including the ones tessera does not read ("q5_0", "iq2_xs", ...), for error messages.
std::string_view ggml_type_name(uint32_t ggml_type);

}  // namespace tessera::tensor
