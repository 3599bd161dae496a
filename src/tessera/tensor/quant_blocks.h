// On-disk block layouts of the GGML quantized types, as GGUF stores them. Kernels read weights in these layouts
// directly; nothing is repacked at load. fp16 fields are raw IEEE half bits.
//
//   q8_0:  x = d * q                          q int8,  32 per block
//   q4_0:  x = d * (q - 8)                    q 4-bit, 32 per block; byte j holds element j (low) and j+16 (high)
//   q4_1:  x = d * q + m                      as q4_0 with an offset
//   q4_k:  256 = 8 sub-blocks of 32; x = d*sc*q - dmin*mn, with 6-bit sc, mn per sub-block packed in 12 bytes
//   q5_k:  as q4_k, plus a fifth bit per element in qh
//   q6_k:  256 = 16 sub-blocks of 16; x = d * sc * (q - 32), 6-bit q from 4 low bits (ql) and 2 high (qh)
#pragma once

#include <cstdint>

namespace tessera::tensor {

constexpr int kQK = 32;    // elements of a q8_0 / q4_0 / q4_1 block
constexpr int kQKK = 256;  // elements of a k-quant super-block
constexpr int kKScaleBytes = 12;

struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qs[kQKK / 2];
};
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleBytes];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};

static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);

}  // namespace tessera::tensor
