// Scalar codecs for the weight formats and the int8 activation format the matmul kernels read.
//
// Weights stay in their GGUF blocks (tensor/quant_blocks.h). Activations are converted per call into ActQ8:
// each value becomes a 15-bit integer code c = 256 * hi + lo, stored as two int8 digits (hi in [-127, 127] the
// rounded value at scale amax / 127, lo in [-127, 127] the rounded remainder at 1/256 of that), in blocks of 32
// with one float scale d = amax / (127 * 256), so x ~= d * c to about 1.5e-5 of the block's amax. A single int8
// digit (what GGML's q8 activations keep) is 256 times coarser, and on SmolLM2-135M it moves logits by up to ~1.7
// against a float reference and changes greedy tokens; two digits keep them within ~0.02.
// Per 16 values the float sum s16 = d * sum(c) is kept too. Every integer weight format is then read as
//
//   w = dw * u + mw      u an unsigned small integer, dw and mw floats per sub-block of 16 or 32 values,
//
// so that one block's contribution to a dot product is dw * dx * sum(u * c) + mw * s16 summed over its
// sub-blocks, with sum(u * c) = 256 * sum(u * hi) + sum(u * lo): two int8 dot products, one scale and a "min" term
// that the kernels sum separately. Types with a signed code fold the offset into mw (q4_0: u = nibble,
// mw = -8 d; q6_k: mw = -32 d sc; q8_0 on VNNI: u = q + 128, mw = -128 d), which keeps every SIMD dot product
// unsigned x signed, the only form x86 has.
#pragma once

#include <cstdint>

#include "tessera/tensor/dtype.h"

namespace tessera::backend::cpu {

// Dequantizes n elements of a row (n % block_size == 0). Plain and quantized types; kI32 is not a weight type.
void dequantize_row(tensor::DType t, const void* src, float* dst, int64_t n);

// Strides of an ActQ8 buffer for rows of K values. Rows are padded with zeros to whole pairs of blocks (64 values)
// and the s16 row to whole 16-float vectors, so that SIMD loops never need a tail.
struct ActLayout {
  int64_t k = 0;   // K
  int64_t kp = 0;  // K rounded up to 64: bytes per row of qs
  int64_t nd = 0;  // kp / 32: floats per row of d
  int64_t ns = 0;  // kp / 16 rounded up to 16: floats per row of s16
};
ActLayout act_layout(int64_t k);

// Quantized activations, rows [0, M). Owned by a MatmulScratch; a view, freely copied.
struct ActQ8 {
  ActLayout l;
  int8_t* qs = nullptr;  // [M][kp] high digits, block-natural order unless a SIMD level says otherwise
  int8_t* ql = nullptr;  // [M][kp] low digits, same order
  float* d = nullptr;    // [M][nd] scale of the codes of each block of 32 (0 for an all-zero block)
  float* s16 = nullptr;  // [M][ns] d * sum(c) over each 16 values
  // Optional per-lane expansion of d (one float per 4 values), for the small-M kernels, in the lane order of the
  // SIMD level; null when unused. [M][kp / 4].
  float* dxl = nullptr;
};

// Quantizes one row of K floats into row m of `a` in block-natural order, writing the zero padding too.
// Every SIMD level produces the same numbers (same operations in the same order, round half to even).
void quantize_act_row(const float* x, const ActQ8& a, int64_t m);

// One weight block (32 values, or a 256-value super-block) decoded to small signed integers with float scales:
// w[i] = dw[i / 16] * q[i] + mw[i / 16]. Used by the portable kernels; q is signed so plain C++ needs no offset
// trick (q4_0 gives q = nibble - 8 and mw = 0).
struct DecodedBlock {
  int n = 0;  // values: 32 or 256
  int8_t q[256];
  float dw[16];
  float mw[16];
};
// REQUIRES: t quantized.
void decode_block(tensor::DType t, const void* block, DecodedBlock& out);

// The 6-bit scale and min of sub-block j (0..7) of a q4_k / q5_k super-block, from its 12 packed bytes:
// sub-blocks 0..3 keep the low 6 bits of bytes j and j+4; 4..7 put 4 bits of byte j+4 under the top 2 bits of
// bytes j-4 (scale) and j (min).
inline void k_scale_min(const uint8_t* s, int j, int& sc, int& mn) {
  if (j < 4) {
    sc = s[j] & 63;
    mn = s[j + 4] & 63;
  } else {
    sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace tessera::backend::cpu
