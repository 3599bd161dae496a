// dequantize_row against an independent decoding written here from the block formulas (element by element, not
// block by block as quant.cc does), hand-computed blocks for the k-quant scale packing, and the activation quantizer.
#include "tessera/backend/cpu/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "random_blocks.h"
#include "tessera/tensor/dtype.h"
#include "tessera/tensor/half.h"
#include "tessera/tensor/quant_blocks.h"

namespace tessera::backend::cpu {
namespace {

using tensor::DType;
using tensor::f16_to_f32;

uint16_t rd16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Value i of a block, straight from the format description (tensor/quant_blocks.h, GGML's block layouts).
float spec_value(DType t, const uint8_t* blk, int i) {
  switch (t) {
    case DType::kQ8_0:
      return f16_to_f32(rd16(blk)) * static_cast<float>(static_cast<int8_t>(blk[2 + i]));
    case DType::kQ4_0: {
      const uint8_t byte = blk[2 + i % 16];
      const int q = i < 16 ? byte & 0xF : byte >> 4;
      return f16_to_f32(rd16(blk)) * static_cast<float>(q - 8);
    }
    case DType::kQ4_1: {
      const uint8_t byte = blk[4 + i % 16];
      const int q = i < 16 ? byte & 0xF : byte >> 4;
      return f16_to_f32(rd16(blk)) * static_cast<float>(q) + f16_to_f32(rd16(blk + 2));
    }
    case DType::kQ4_K:
    case DType::kQ5_K: {
      const bool five = t == DType::kQ5_K;
      const uint8_t* sc = blk + 4;
      const uint8_t* qs = blk + (five ? 48 : 16);
      const int sub = i / 32;  // 8 sub-blocks of 32
      // 6-bit scale / min: sub-blocks 0-3 in the low 6 bits of bytes 0-3 / 4-7; 4-7 split as 4 low bits in bytes
      // 8-11 (scale: low nibble, min: high nibble) and 2 high bits in the top of bytes 0-3 / 4-7.
      int s, m;
      if (sub < 4) {
        s = sc[sub] % 64;
        m = sc[sub + 4] % 64;
      } else {
        s = sc[sub + 4] % 16 + (sc[sub - 4] / 64) * 16;
        m = sc[sub + 4] / 16 + (sc[sub] / 64) * 16;
      }
      const uint8_t byte = qs[32 * (sub / 2) + i % 32];
      int q = sub % 2 == 0 ? byte % 16 : byte / 16;
      if (five) q += ((blk[16 + i % 32] >> sub) & 1) * 16;
      return f16_to_f32(rd16(blk)) * static_cast<float>(s) * static_cast<float>(q) -
             f16_to_f32(rd16(blk + 2)) * static_cast<float>(m);
    }
    case DType::kQ6_K: {
      const int half = i / 128, r = i % 128, quarter = r / 32, l = r % 32;
      const uint8_t lbyte = blk[64 * half + 32 * (quarter % 2) + l];
      const int lo = quarter < 2 ? lbyte % 16 : lbyte / 16;
      const int hi = (blk[128 + 32 * half + l] >> (2 * quarter)) & 3;
      const auto scale = static_cast<int8_t>(blk[192 + i / 16]);
      return f16_to_f32(rd16(blk + 208)) * static_cast<float>(scale) * static_cast<float>(lo + 16 * hi - 32);
    }
    default:
      ADD_FAILURE() << "not a block type";
      return 0.0f;
  }
}

using testing::random_blocks;

class DequantizeTest : public ::testing::TestWithParam<DType> {};

TEST_P(DequantizeTest, MatchesSpecOnRandomBlocks) {
  const DType t = GetParam();
  const tensor::DTypeInfo& info = tensor::dtype_info(t);
  std::mt19937 rng(1234 + static_cast<int>(t));
  const int nblocks = 9;
  const std::vector<uint8_t> blocks = random_blocks(t, nblocks, rng);
  std::vector<float> got(static_cast<size_t>(nblocks) * info.block_size, NAN);
  dequantize_row(t, blocks.data(), got.data(), static_cast<int64_t>(got.size()));
  for (int b = 0; b < nblocks; ++b) {
    for (int i = 0; i < info.block_size; ++i) {
      const float want = spec_value(t, blocks.data() + static_cast<size_t>(b) * info.block_bytes, i);
      // Both sides evaluate d * sc * q - dmin * mn (or d * q + m) in float, possibly with the products grouped
      // differently: allow a couple of ulps of the largest term.
      const float got_v = got[static_cast<size_t>(b) * info.block_size + i];
      ASSERT_NEAR(got_v, want, 1e-6f * (1.0f + std::fabs(want))) << info.name << " block " << b << " value " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllBlockTypes, DequantizeTest,
                         ::testing::Values(DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ4_K, DType::kQ5_K,
                                           DType::kQ6_K),
                         [](const auto& info) { return std::string(tensor::dtype_name(info.param)); });

TEST(Dequantize, PlainFloatTypes) {
  const std::vector<float> src = {0.0f, -1.5f, 3.25f, 65504.0f, 1e-3f, -7.0f};
  std::vector<uint16_t> h(src.size()), bf(src.size());
  for (size_t i = 0; i < src.size(); ++i) h[i] = tensor::f32_to_f16(src[i]), bf[i] = tensor::f32_to_bf16(src[i]);
  std::vector<float> out(src.size());
  dequantize_row(DType::kF32, src.data(), out.data(), 6);
  EXPECT_EQ(out, src);
  dequantize_row(DType::kF16, h.data(), out.data(), 6);
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(out[i], f16_to_f32(h[i]));
  EXPECT_EQ(out[3], 65504.0f);
  dequantize_row(DType::kBF16, bf.data(), out.data(), 6);
  for (size_t i = 0; i < src.size(); ++i) EXPECT_EQ(out[i], tensor::bf16_to_f32(bf[i]));
  EXPECT_EQ(out[2], 3.25f);
}

// A q4_k block whose scale bytes were packed by hand from
//   sc = {1, 2, 3, 63, 17, 33, 48, 5},  mn = {0, 7, 62, 9, 20, 36, 63, 1},  d = 1, dmin = 0.5:
//   bytes 0-3  = sc[j] | (sc[j+4] >> 4) << 6   = 0x41 0x82 0xC3 0x3F
//   bytes 4-7  = mn[j] | (mn[j+4] >> 4) << 6   = 0x40 0x87 0xFE 0x09
//   bytes 8-11 = sc[j+4] & 15 | (mn[j+4] & 15) << 4 = 0x41 0x41 0xF0 0x15
// Every nibble byte is 0x53 (low 3, high 5) except byte 32 + 7 = 0xA2, so value = sc * q - mn / 2 with q = 3 for
// even sub-blocks and 5 for odd ones.
TEST(Dequantize, Q4KHandPackedScales) {
  tensor::BlockQ4_K b;
  b.d = 0x3C00;     // 1.0
  b.dmin = 0x3800;  // 0.5
  const uint8_t scales[12] = {0x41, 0x82, 0xC3, 0x3F, 0x40, 0x87, 0xFE, 0x09, 0x41, 0x41, 0xF0, 0x15};
  std::memcpy(b.scales, scales, 12);
  std::memset(b.qs, 0x53, sizeof b.qs);
  b.qs[32 + 7] = 0xA2;
  float y[256];
  dequantize_row(DType::kQ4_K, &b, y, 256);
  EXPECT_EQ(y[0], 3.0f);         // sub 0: 1 * 3 - 0
  EXPECT_EQ(y[32], 6.5f);        // sub 1: 2 * 5 - 3.5
  EXPECT_EQ(y[64], -22.0f);      // sub 2: 3 * 3 - 31
  EXPECT_EQ(y[96], 310.5f);      // sub 3: 63 * 5 - 4.5
  EXPECT_EQ(y[128], 41.0f);      // sub 4: 17 * 3 - 10   (scale 17 = 1 | 1 << 4, min 20 = 4 | 1 << 4)
  EXPECT_EQ(y[160], 147.0f);     // sub 5: 33 * 5 - 18
  EXPECT_EQ(y[192], 112.5f);     // sub 6: 48 * 3 - 31.5 (scale 48 = 0 | 3 << 4, min 63 = 15 | 3 << 4)
  EXPECT_EQ(y[255], 24.5f);      // sub 7: 5 * 5 - 0.5
  EXPECT_EQ(y[64 + 7], -25.0f);  // byte 39 low nibble 2, sub 2: 3 * 2 - 31
  EXPECT_EQ(y[96 + 7], 625.5f);  // byte 39 high nibble 10, sub 3: 63 * 10 - 4.5
  EXPECT_EQ(y[64 + 8], -22.0f);  // neighbours untouched
}

// A q6_k block: d = 0.5, scales = {1, -2, 3, -4, ..., 15, -128}, every ql byte 0x21 (low 1, high 2), every qh byte
// 0xE4 (bit pairs 0, 1, 2, 3 from low to high), so in each half the quarters decode to q = 1, 17, 34, 50, i.e.
// q - 32 = -31, -15, 2, 18. qh[32 + 5] = 0x1B (pairs 3, 2, 1, 0) changes value 5 of each quarter of half 1.
TEST(Dequantize, Q6KHandPackedBlock) {
  tensor::BlockQ6_K b;
  std::memset(b.ql, 0x21, sizeof b.ql);
  std::memset(b.qh, 0xE4, sizeof b.qh);
  b.qh[32 + 5] = 0x1B;
  const int8_t scales[16] = {1, -2, 3, -4, 5, -6, 7, -8, 9, -10, 11, -12, 13, -14, 15, -128};
  std::memcpy(b.scales, scales, 16);
  b.d = 0x3800;  // 0.5
  float y[256];
  dequantize_row(DType::kQ6_K, &b, y, 256);
  EXPECT_EQ(y[0], -15.5f);      // sub 0, scale 1: 0.5 * 1 * -31
  EXPECT_EQ(y[16], 31.0f);      // sub 1, scale -2: 0.5 * -2 * -31
  EXPECT_EQ(y[32], -22.5f);     // sub 2, scale 3, quarter 1: 0.5 * 3 * -15
  EXPECT_EQ(y[64], 5.0f);       // sub 4, scale 5, quarter 2: 0.5 * 5 * 2
  EXPECT_EQ(y[96], 63.0f);      // sub 6, scale 7, quarter 3: 0.5 * 7 * 18
  EXPECT_EQ(y[176], 90.0f);     // half 1, sub 11, scale -12, quarter 1: 0.5 * -12 * -15
  EXPECT_EQ(y[255], -1152.0f);  // sub 15, scale -128, quarter 3: 0.5 * -128 * 18
  EXPECT_EQ(y[133], 76.5f);     // half 1 value 5, quarter 0: q = 1 | 3 << 4 = 49 -> 17; sub 8, scale 9
  EXPECT_EQ(y[165], 5.5f);      // quarter 1: q = 1 | 2 << 4 = 33 -> 1; sub 10, scale 11
  EXPECT_EQ(y[197], -91.0f);    // quarter 2: q = 2 | 1 << 4 = 18 -> -14; sub 12, scale 13
  EXPECT_EQ(y[229], -225.0f);   // quarter 3: q = 2 -> -30; sub 14, scale 15
  EXPECT_EQ(y[5], -15.5f);      // half 0 value 5 keeps the common pattern
}

TEST(QuantizeAct, RoundTripAndSums) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (int64_t k : {32, 96, 576}) {
    std::vector<float> x(static_cast<size_t>(k));
    for (auto& v : x) v = u(rng);
    x[3] = 0.0f;
    x[5] = 40.0f;                                                  // an outlier only widens its own block
    if (k >= 64) std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // an all-zero block
    const ActLayout l = act_layout(k);
    ASSERT_EQ(l.kp % 64, 0);
    ASSERT_EQ(l.ns % 16, 0);
    std::vector<int8_t> qs(static_cast<size_t>(l.kp), 99), ql(static_cast<size_t>(l.kp), 99);
    std::vector<float> d(static_cast<size_t>(l.nd), NAN), s16(static_cast<size_t>(l.ns), NAN);
    ActQ8 a;
    a.l = l, a.qs = qs.data(), a.ql = ql.data(), a.d = d.data(), a.s16 = s16.data();
    quantize_act_row(x.data(), a, 0);
    for (int64_t b = 0; b < l.nd; ++b) {
      if (32 * b >= k) {  // padding
        EXPECT_EQ(d[b], 0.0f);
        for (int j = 0; j < 32; ++j) {
          EXPECT_EQ(qs[32 * b + j], 0);
          EXPECT_EQ(ql[32 * b + j], 0);
        }
        continue;
      }
      float amax = 0.0f;
      for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
      EXPECT_FLOAT_EQ(d[b], amax / (127.0f * 256.0f));
      int sum[2] = {0, 0};
      for (int j = 0; j < 32; ++j) {
        const int hi = qs[32 * b + j], lo = ql[32 * b + j], c = 256 * hi + lo;
        EXPECT_LE(std::abs(hi), 127);
        EXPECT_LE(std::abs(lo), 127);
        // hi is x rounded at scale amax / 127; lo rounds the remainder at 1/256 of that: |x - d c| <= d (half a
        // unit, or a whole one where a remainder of exactly half was clamped from 128 to 127).
        EXPECT_LE(std::fabs(d[b] * c - x[32 * b + j]), d[b] * 1.0001f) << "k " << k << " value " << 32 * b + j;
        EXPECT_LE(std::fabs(amax / 127.0f * hi - x[32 * b + j]), 0.5f * amax / 127.0f * 1.0001f);
        sum[j / 16] += c;
      }
      EXPECT_FLOAT_EQ(s16[2 * b], d[b] * sum[0]);
      EXPECT_FLOAT_EQ(s16[2 * b + 1], d[b] * sum[1]);
    }
    for (int64_t t = l.kp / 16; t < l.ns; ++t) EXPECT_EQ(s16[t], 0.0f);
  }
}

}  // namespace
}  // namespace tessera::backend::cpu
