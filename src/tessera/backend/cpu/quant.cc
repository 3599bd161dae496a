#include "tessera/backend/cpu/quant.h"

#include <cassert>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "tessera/tensor/half.h"
#include "tessera/tensor/quant_blocks.h"

namespace tessera::backend::cpu {
namespace {

using tensor::DType;
namespace tq = tensor;

float h2f(uint16_t h) { return tq::f16_to_f32(h); }

void dequant_q8_0(const tq::BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += tq::kQK) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < tq::kQK; ++j) y[j] = d * static_cast<float>(b[i].qs[j]);
  }
}

void dequant_q4_0(const tq::BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += tq::kQK) {
    const float d = h2f(b[i].d);
    for (int j = 0; j < tq::kQK / 2; ++j) {
      y[j] = d * static_cast<float>((b[i].qs[j] & 0xF) - 8);
      y[j + 16] = d * static_cast<float>((b[i].qs[j] >> 4) - 8);
    }
  }
}

void dequant_q4_1(const tq::BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += tq::kQK) {
    const float d = h2f(b[i].d), m = h2f(b[i].m);
    for (int j = 0; j < tq::kQK / 2; ++j) {
      y[j] = d * static_cast<float>(b[i].qs[j] & 0xF) + m;
      y[j + 16] = d * static_cast<float>(b[i].qs[j] >> 4) + m;
    }
  }
}

}  // namespace

void decode_block(DType t, const void* block, DecodedBlock& o) {
  switch (t) {
    case DType::kQ8_0: {
      const auto* b = static_cast<const tq::BlockQ8_0*>(block);
      o.n = 32;
      std::memcpy(o.q, b->qs, 32);
      o.dw[0] = o.dw[1] = h2f(b->d);
      o.mw[0] = o.mw[1] = 0.0f;
      return;
    }
    case DType::kQ4_0: {
      const auto* b = static_cast<const tq::BlockQ4_0*>(block);
      o.n = 32;
      for (int j = 0; j < 16; ++j) {
        o.q[j] = static_cast<int8_t>((b->qs[j] & 0xF) - 8);
        o.q[j + 16] = static_cast<int8_t>((b->qs[j] >> 4) - 8);
      }
      o.dw[0] = o.dw[1] = h2f(b->d);
      o.mw[0] = o.mw[1] = 0.0f;
      return;
    }
    case DType::kQ4_1: {
      const auto* b = static_cast<const tq::BlockQ4_1*>(block);
      o.n = 32;
      for (int j = 0; j < 16; ++j) {
        o.q[j] = static_cast<int8_t>(b->qs[j] & 0xF);
        o.q[j + 16] = static_cast<int8_t>(b->qs[j] >> 4);
      }
      o.dw[0] = o.dw[1] = h2f(b->d);
      o.mw[0] = o.mw[1] = h2f(b->m);
      return;
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {
      // Both: 4 groups of 64 values; group g takes the low nibbles of 32 bytes for sub-block 2g and the high
      // nibbles for 2g+1. q5_k adds bit 2g (resp. 2g+1) of qh[l] as the fifth bit of value l of that sub-block.
      const bool five = t == DType::kQ5_K;
      const uint8_t* scales;
      const uint8_t* qs;
      const uint8_t* qh = nullptr;
      float d, dmin;
      if (five) {
        const auto* b = static_cast<const tq::BlockQ5_K*>(block);
        d = h2f(b->d), dmin = h2f(b->dmin), scales = b->scales, qs = b->qs, qh = b->qh;
      } else {
        const auto* b = static_cast<const tq::BlockQ4_K*>(block);
        d = h2f(b->d), dmin = h2f(b->dmin), scales = b->scales, qs = b->qs;
      }
      o.n = 256;
      for (int g = 0; g < 4; ++g) {
        for (int l = 0; l < 32; ++l) {
          int lo = qs[32 * g + l] & 0xF, hi = qs[32 * g + l] >> 4;
          if (five) {
            lo |= ((qh[l] >> (2 * g)) & 1) << 4;
            hi |= ((qh[l] >> (2 * g + 1)) & 1) << 4;
          }
          o.q[64 * g + l] = static_cast<int8_t>(lo);
          o.q[64 * g + 32 + l] = static_cast<int8_t>(hi);
        }
      }
      for (int s = 0; s < 8; ++s) {
        int sc, mn;
        k_scale_min(scales, s, sc, mn);
        o.dw[2 * s] = o.dw[2 * s + 1] = d * static_cast<float>(sc);
        o.mw[2 * s] = o.mw[2 * s + 1] = -dmin * static_cast<float>(mn);
      }
      return;
    }
    case DType::kQ6_K: {
      // Two halves of 128; in half h, value l (l < 32) of each quarter takes its low 4 bits from ql[64h + l]
      // (quarters 0, 2: low/high nibble) or ql[64h + 32 + l] (quarters 1, 3), and its top 2 bits from qh[32h + l]
      // at bit 2 * quarter.
      const auto* b = static_cast<const tq::BlockQ6_K*>(block);
      o.n = 256;
      for (int h = 0; h < 2; ++h) {
        const uint8_t* ql = b->ql + 64 * h;
        const uint8_t* qh = b->qh + 32 * h;
        int8_t* q = o.q + 128 * h;
        for (int l = 0; l < 32; ++l) {
          q[l] = static_cast<int8_t>(((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32);
          q[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32);
          q[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
          q[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
        }
      }
      const float d = h2f(b->d);
      for (int s = 0; s < 16; ++s) {
        o.dw[s] = d * static_cast<float>(b->scales[s]);
        o.mw[s] = 0.0f;
      }
      return;
    }
    default:
      assert(false && "decode_block: not a quantized type");
      std::abort();
  }
}

void dequantize_row(DType t, const void* src, float* dst, int64_t n) {
  switch (t) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case DType::kF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = tq::f16_to_f32(h[i]);
      return;
    }
    case DType::kBF16: {
      const auto* h = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = tq::bf16_to_f32(h[i]);
      return;
    }
    case DType::kQ8_0:
      return dequant_q8_0(static_cast<const tq::BlockQ8_0*>(src), dst, n / tq::kQK);
    case DType::kQ4_0:
      return dequant_q4_0(static_cast<const tq::BlockQ4_0*>(src), dst, n / tq::kQK);
    case DType::kQ4_1:
      return dequant_q4_1(static_cast<const tq::BlockQ4_1*>(src), dst, n / tq::kQK);
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K: {
      // The k-quants share decode_block: one super-block at a time, exact in float (each value is one product
      // of a float scale and a small integer, plus one min).
      const auto* p = static_cast<const uint8_t*>(src);
      const int bytes = tensor::dtype_info(t).block_bytes;
      DecodedBlock blk;
      for (int64_t i = 0; i < n; i += tq::kQKK, p += bytes, dst += tq::kQKK) {
        decode_block(t, p, blk);
        for (int j = 0; j < tq::kQKK; ++j) dst[j] = blk.dw[j / 16] * static_cast<float>(blk.q[j]) + blk.mw[j / 16];
      }
      return;
    }
    case DType::kI32:
      break;
  }
  assert(false && "dequantize_row: not a weight type");
  std::abort();
}

ActLayout act_layout(int64_t k) {
  ActLayout l;
  l.k = k;
  l.kp = (k + 63) / 64 * 64;
  l.nd = l.kp / 32;
  l.ns = (l.kp / 16 + 15) / 16 * 16;
  return l;
}

void quantize_act_row(const float* x, const ActQ8& a, int64_t m) {
  const ActLayout& l = a.l;
  int8_t* qs = a.qs + m * l.kp;
  int8_t* ql = a.ql + m * l.kp;
  float* d = a.d + m * l.nd;
  float* s16 = a.s16 + m * l.ns;
  for (int64_t b = 0; b < l.nd; ++b) {
    const int64_t k0 = b * 32;
    if (k0 >= l.k) {  // padding block
      std::memset(qs + k0, 0, 32);
      std::memset(ql + k0, 0, 32);
      d[b] = 0.0f;
      s16[2 * b] = s16[2 * b + 1] = 0.0f;
      continue;
    }
    float amax = 0.0f;
    for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[k0 + j]));
    const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
    int sum[2] = {0, 0};
    for (int j = 0; j < 32; ++j) {
      // nearbyint: round half to even, as the SIMD converts do. v - hi is exact (|v - hi| <= 0.5), and so is the
      // scaling by 256; a remainder of exactly +-0.5 would round to +-128 and is clamped to the int8 range.
      const float v = x[k0 + j] * id;
      const float hi = std::nearbyint(v);
      const float lo = std::fmin(127.0f, std::fmax(-127.0f, std::nearbyint((v - hi) * 256.0f)));
      qs[k0 + j] = static_cast<int8_t>(hi);
      ql[k0 + j] = static_cast<int8_t>(lo);
      sum[j / 16] += 256 * static_cast<int>(hi) + static_cast<int>(lo);
    }
    const float db = amax / 127.0f / 256.0f;
    d[b] = db;
    s16[2 * b] = db * static_cast<float>(sum[0]);
    s16[2 * b + 1] = db * static_cast<float>(sum[1]);
  }
  for (int64_t t = l.kp / 16; t < l.ns; ++t) s16[t] = 0.0f;
}

}  // namespace tessera::backend::cpu
