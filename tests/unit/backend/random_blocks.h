// Random quantized blocks for the kernel tests: random bytes (every bit pattern of the codes, 6-bit scales and
// signs is legal) with finite random f16 values in every scale field.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tessera/tensor/dtype.h"
#include "tessera/tensor/half.h"

namespace tessera::testing {

// A finite f16 scale of either sign, magnitude about 1/64, so that dequantized weights are O(1).
inline uint16_t random_scale(std::mt19937& rng) {
  std::uniform_real_distribution<float> mag(0.5f, 1.5f);
  const float sign = rng() & 1 ? -1.0f : 1.0f;
  return tensor::f32_to_f16(sign * mag(rng) * (1.0f / 64.0f));
}

// REQUIRES: t is a quantized type.
inline std::vector<uint8_t> random_blocks(tensor::DType t, int64_t nblocks, std::mt19937& rng) {
  using tensor::DType;
  const size_t bytes = static_cast<size_t>(tensor::dtype_info(t).block_bytes);
  std::vector<uint8_t> v(static_cast<size_t>(nblocks) * bytes);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  for (size_t off = 0; off < v.size(); off += bytes) {
    const auto put = [&](size_t at) {
      const uint16_t h = random_scale(rng);
      std::memcpy(&v[off + at], &h, 2);
    };
    switch (t) {
      case DType::kQ8_0:
      case DType::kQ4_0:
        put(0);
        break;
      case DType::kQ4_1:
      case DType::kQ4_K:
      case DType::kQ5_K:
        put(0), put(2);
        break;
      case DType::kQ6_K:
        put(208);
        break;
      default:
        break;
    }
  }
  return v;
}

}  // namespace tessera::testing
