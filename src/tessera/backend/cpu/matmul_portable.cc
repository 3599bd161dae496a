// Portable C++ kernels: the only level on non-x86 machines and the reference the SIMD levels are tested against.
// Written so that compilers vectorize the inner loops (16-value int8 dot products, float dot products).
#include <algorithm>
#include <cstring>

#include "tessera/backend/cpu/matmul_kernels.h"

namespace tessera::backend::cpu::detail {
namespace {

using tensor::DType;

// Activation rows handled per pass over a weight row: the decoded block is reused for all of them while it is hot.
constexpr int64_t kRowsPerPass = 64;

void quantize(const MatmulArgs& a, int64_t m0, int64_t m1) {
  for (int64_t m = m0; m < m1; ++m) quantize_act_row(a.x + m * a.K, a.act, m);
}

// Eight independent partial sums: the compiler vectorizes this without reassociating anything itself.
float dot_f32(const float* a, const float* b, int64_t n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= n; k += 8) {
    for (int l = 0; l < 8; ++l) s[l] += a[k + l] * b[k + l];
  }
  float tail = 0.0f;
  for (; k < n; ++k) tail += a[k] * b[k];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])) + tail;
}

int32_t dot16(const int8_t* a, const int8_t* b) {
  int32_t s = 0;
  for (int e = 0; e < 16; ++e) s += static_cast<int32_t>(a[e]) * static_cast<int32_t>(b[e]);
  return s;
}

// Each weight block is decoded once to w = dw * q + mw per 16 values (quant.h), then its contribution to row r is
// sum over its 16-value sub-blocks of dw * dx * sum(q * c) + mw * s16, with c = 256 hi + lo the activation codes:
// integer products, float scales.
void int_kernel(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void*) {
  const tensor::DTypeInfo& info = tensor::dtype_info(a.wt);
  const int64_t nblk = a.K / info.block_size;
  const ActQ8& act = a.act;
  DecodedBlock blk;
  float acc[kRowsPerPass];
  for (int64_t mc = m0; mc < m1; mc += kRowsPerPass) {
    const int64_t rows = std::min(kRowsPerPass, m1 - mc);
    for (int64_t j = n0; j < n1; ++j) {
      std::fill(acc, acc + rows, 0.0f);
      const uint8_t* row = a.w_row(j);
      for (int64_t b = 0; b < nblk; ++b) {
        decode_block(a.wt, row + b * info.block_bytes, blk);
        const int64_t k0 = b * info.block_size;
        const int nsub = blk.n / 16;
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t m = mc + r;
          const int8_t* xh = act.qs + m * act.l.kp + k0;
          const int8_t* xl = act.ql + m * act.l.kp + k0;
          const float* xd = act.d + m * act.l.nd + k0 / 32;
          const float* xs = act.s16 + m * act.l.ns + k0 / 16;
          float s = 0.0f;
          for (int t = 0; t < nsub; ++t) {
            const int32_t c = 256 * dot16(blk.q + 16 * t, xh + 16 * t) + dot16(blk.q + 16 * t, xl + 16 * t);
            const auto isum = static_cast<float>(c);
            s += blk.dw[t] * xd[t / 2] * isum + blk.mw[t] * xs[t];
          }
          acc[r] += s;
        }
      }
      const float bias = a.bias != nullptr ? a.bias[j] : 0.0f;
      for (int64_t r = 0; r < rows; ++r) a.out[(mc + r) * a.N + j] = acc[r] + bias;
    }
  }
}

// Float weights: convert 256 values of a weight row to f32 once, then dot them with every row of the pass.
void float_kernel(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  constexpr int64_t kChunk = 256;
  const int64_t elem_bytes = tensor::dtype_info(a.wt).block_bytes;
  float wbuf[kChunk];
  float acc[kRowsPerPass];
  for (int64_t mc = m0; mc < m1; mc += kRowsPerPass) {
    const int64_t rows = std::min(kRowsPerPass, m1 - mc);
    for (int64_t j = n0; j < n1; ++j) {
      std::fill(acc, acc + rows, 0.0f);
      const uint8_t* row = a.w_row(j);
      for (int64_t k0 = 0; k0 < a.K; k0 += kChunk) {
        const int64_t len = std::min(kChunk, a.K - k0);
        dequantize_row(a.wt, row + k0 * elem_bytes, wbuf, len);
        for (int64_t r = 0; r < rows; ++r) {
          acc[r] += dot_f32(wbuf, a.x + (mc + r) * a.K + k0, len);
        }
      }
      const float bias = a.bias != nullptr ? a.bias[j] : 0.0f;
      for (int64_t r = 0; r < rows; ++r) a.out[(mc + r) * a.N + j] = acc[r] + bias;
    }
  }
}

size_t panel_bytes(const MatmulArgs&) { return 0; }

}  // namespace

const IsaKernels& portable_matmul_kernels() {
  static const IsaKernels k = [] {
    IsaKernels k;
    k.direct_max_rows = 0;
    k.n_tile = 1;
    k.quantize = quantize;
    k.panel_bytes = panel_bytes;
    k.int_packed = int_kernel;
    k.float_kernel = float_kernel;
    return k;
  }();
  return k;
}

}  // namespace tessera::backend::cpu::detail
