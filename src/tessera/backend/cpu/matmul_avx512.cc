// AVX-512 (F/BW/VL/DQ + VNNI) matmul kernels. Compiled with those flags; reached only after matmul.cc's CPU check.
//
// Unit of work: a "pair" of 64 weight values (two blocks of 32, or a quarter of a k-quant super-block) held as one
// zmm of unsigned bytes u. vpdpbusd multiplies it with 64 signed activation bytes and sums each 4 adjacent
// products into one of 16 int32 lanes, so lane l covers bytes 4l..4l+3 and "lane group" g = l / 4 covers 16 bytes,
// exactly one sub-block of 16 values. The activation codes have two int8 digits (quant.h), so a pair's integer
// dot is dpbusd(dpbusd(0, u, hi) << 8, u, lo): 4 * 255 * 127 * 256 stays far inside int32. Each reader turns a
// weight row into pairs {u, dw, mins}: dw the per-lane float scale of the lane's sub-block, mins the min mw of each
// of the pair's 4 sub-blocks in natural order (quant.h). The kernels compute
//   acc += float(dot) * (dx * dw)   per pair              (dx: the activation block scale of the lane)
//   mn  += s16 * mw                 per 16 sub-blocks     (s16: d * sum(c) of the activations, 16 values)
// and the sum of the lanes of acc + mn.
//
// Lane order. Natural: group g holds values 16g..16g+15 of the pair. q4_0 / q4_1 instead use the order that one
// 256-bit load of two blocks' 16 nibble bytes unpacks to without shuffles: [block0 low nibbles, block1 low,
// block0 high, block1 high] = natural sub-blocks {0, 2, 1, 3}. The activations are quantized into the same order
// (quantize() below), so the kernels never permute bytes.

// GCC 12 reports its own _mm*_undefined_*() helpers (self-initialized on purpose) as uninitialized once they
// are inlined into our functions; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <utility>

#include "tessera/backend/cpu/matmul_kernels.h"

namespace tessera::backend::cpu::detail {
namespace {

using tensor::DType;

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

enum class Order { kNatural, kQ4 };
constexpr Order order_of(DType t) { return t == DType::kQ4_0 || t == DType::kQ4_1 ? Order::kQ4 : Order::kNatural; }
// The natural sub-block (0..3 within the pair) held by lane group g; the map is its own inverse.
constexpr int sub_of_group(Order o, int g) { return o == Order::kQ4 && (g == 1 || g == 2) ? 3 - g : g; }

// Index vector: lane l takes element f(l / 4) (lane group) of a source vector.
template <typename F>
__m512i group_index(F f) {
  alignas(64) int32_t idx[16];
  for (int l = 0; l < 16; ++l) idx[l] = f(l / 4);
  return _mm512_load_si512(idx);
}

// body(std::integral_constant<int, i>) for i = 0 .. N-1: indices known at compile time, so that arrays of
// registers indexed by them stay in registers.
template <int N, typename Body>
inline void unroll(Body&& body) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (body(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}
template <typename Body>
inline void unroll4(Body&& body) {
  unroll<4>(body);
}

// Calls pair(p, q, false) for p = 0 .. n-1 in order, with q = std::integral_constant<int, p % 4>: a pair's place in
// its group of 4 is known at compile time; then, if `half`, pair(n, q, true) for a last half pair.
template <typename Body>
inline void for_pairs(int64_t n, bool half, Body&& pair) {
  using Q0 = std::integral_constant<int, 0>;
  using Q1 = std::integral_constant<int, 1>;
  using Q2 = std::integral_constant<int, 2>;
  using Q3 = std::integral_constant<int, 3>;
  int64_t p = 0;
  for (; p + 4 <= n; p += 4) unroll4([&](auto q) { pair(p + decltype(q)::value, q, false); });
  switch (n - p) {
    case 3:
      pair(p, Q0{}, false), pair(p + 1, Q1{}, false), pair(p + 2, Q2{}, false);
      if (half) pair(p + 3, Q3{}, true);
      break;
    case 2:
      pair(p, Q0{}, false), pair(p + 1, Q1{}, false);
      if (half) pair(p + 2, Q2{}, true);
      break;
    case 1:
      pair(p, Q0{}, false);
      if (half) pair(p + 1, Q1{}, true);
      break;
    default:
      if (half) pair(p, Q0{}, true);
      break;
  }
}

struct Pair {
  __m512i u;    // 64 unsigned values in the type's lane order
  __m512 dw;    // per-lane scale
  __m128 mins;  // min of each 16-value sub-block (offsets of signed codes folded in), in natural order
};

// ---- readers: weight row -> pairs. f(p, pair, q) for every pair p of the row, in order; q: p % 4 as a
// std::integral_constant. ----

// q4_0 (18 bytes: f16 d, 16 nibble bytes) and q4_1 (20 bytes: f16 d, f16 m, nibbles). Byte j of a block holds
// value j (low nibble) and j + 16 (high). q4_0 is q4_1 with m = -8 d. An odd block count ends with a half pair
// whose second block repeats the first: its activations are zero padding, so it adds nothing.
template <bool kHasMin>
struct ReadQ4 {
  static constexpr Order kOrder = Order::kQ4;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    constexpr int kBytes = kHasMin ? 20 : 18, kQs = kHasMin ? 4 : 2;
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    // Converted scales are [d0, m0, d1, m1] (q4_1) or [d0, d1] (q4_0); groups alternate block 0, 1, 0, 1.
    const __m512i idx_d = group_index([](int g) { return (g & 1) * (kHasMin ? 2 : 1); });
    for_pairs(K / 64, K % 64 != 0, [&](int64_t p, auto q, bool half) {
      const uint8_t* p0 = row + 2 * p * kBytes;
      const uint8_t* p1 = half ? p0 : p0 + kBytes;
      const __m256i v =
          _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + kQs))),
                                  _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + kQs)), 1);
      Pair w;
      w.u = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), lo4);
      __m128i h;
      if constexpr (kHasMin) {
        h = _mm_insert_epi32(_mm_cvtsi32_si128(static_cast<int>(load_u32(p0))), static_cast<int>(load_u32(p1)), 1);
      } else {
        h = _mm_insert_epi16(_mm_cvtsi32_si128(load_u16(p0)), load_u16(p1), 1);
      }
      const __m128 s = _mm_cvtph_ps(h);
      w.dw = _mm512_permutexvar_ps(idx_d, _mm512_castps128_ps512(s));
      // Natural sub-blocks 0, 1 are block 0's, 2, 3 block 1's.
      if constexpr (kHasMin) {
        w.mins = _mm_permute_ps(s, _MM_SHUFFLE(3, 3, 1, 1));
      } else {
        w.mins = _mm_mul_ps(_mm_permute_ps(s, _MM_SHUFFLE(1, 1, 0, 0)), _mm_set1_ps(-8.0f));
      }
      f(p, w, q);
    });
  }
};

// q8_0 (34 bytes: f16 d, 32 signed bytes). vpdpbusd wants the weights unsigned: u = q + 128 (flip the top bit) and
// a min of -128 d takes the offset back out.
struct ReadQ8_0 {
  static constexpr Order kOrder = Order::kNatural;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i idx_d = group_index([](int g) { return g / 2; });
    for_pairs(K / 64, K % 64 != 0, [&](int64_t p, auto q, bool half) {
      const uint8_t* p0 = row + 2 * p * 34;
      const uint8_t* p1 = half ? p0 : p0 + 34;  // a half pair: see ReadQ4
      const __m512i codes =
          _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p0 + 2))),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p1 + 2)), 1);
      Pair w;
      w.u = _mm512_xor_si512(codes, flip);
      const __m128i h = _mm_insert_epi16(_mm_cvtsi32_si128(load_u16(p0)), load_u16(p1), 1);
      const __m128 s = _mm_cvtph_ps(h);
      w.dw = _mm512_permutexvar_ps(idx_d, _mm512_castps128_ps512(s));
      w.mins = _mm_mul_ps(_mm_permute_ps(s, _MM_SHUFFLE(1, 1, 0, 0)), _mm_set1_ps(-128.0f));
      f(p, w, q);
    });
  }
};

// q4_k (144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales/mins, 128 nibble bytes) and q5_k (176 bytes: the same
// with 32 bytes qh before the nibbles). Super-block = 8 sub-blocks of 32 = 4 pairs; pair g is 32 nibble bytes,
// low nibbles = sub-block 2g, high = 2g+1, so it unpacks in natural order. q5_k's fifth bit of value l of
// sub-block s is bit s of qh[l]. w = d sc q - dmin mn: the min is -dmin mn.
template <bool kFive>
struct ReadQ45K {
  static constexpr Order kOrder = Order::kNatural;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    constexpr int kBytes = kFive ? 176 : 144, kQs = kFive ? 48 : 16;
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    const __m512i idx0 = group_index([](int g) { return g / 2; });  // pair 0: sub-blocks 0, 1 (of 32)
    for (int64_t sb = 0; sb < K / 256; ++sb) {
      const uint8_t* p = row + sb * kBytes;
      const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(p))));  // [d, dmin]
      // The 12 scale bytes as three words: 6-bit scales of sub-blocks 0..3 in w0, mins in w1; sub-blocks 4..7 keep
      // their low 4 bits in w2 (scale low nibble, min high nibble) and their top 2 bits in bits 6-7 of w0 / w1.
      const uint32_t w0 = load_u32(p + 4), w1 = load_u32(p + 8), w2 = load_u32(p + 12);
      const uint32_t sc_lo = w0 & 0x3f3f3f3fu, mn_lo = w1 & 0x3f3f3f3fu;
      const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
      const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
      const __m128i sc8 = _mm_cvtsi64_si128(static_cast<long long>(uint64_t{sc_hi} << 32 | sc_lo));
      const __m128i mn8 = _mm_cvtsi64_si128(static_cast<long long>(uint64_t{mn_hi} << 32 | mn_lo));
      const __m256 d8 = _mm256_broadcastss_ps(dd);
      const __m256 nm8 = _mm256_broadcastss_ps(_mm_sub_ps(_mm_setzero_ps(), _mm_movehdup_ps(dd)));
      const __m512 dw8 = _mm512_castps256_ps512(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sc8)), d8));
      const __m256 mw8 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mn8)), nm8);
      __m512i h = _mm512_setzero_si512();
      if constexpr (kFive) {
        // [qh, qh >> 1]: bit 2g of the low half and bit 2g+1 (now at 2g) of the high half belong to pair g.
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16));
        h = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 1), 1);
      }
      const uint8_t* qs = p + kQs;
      unroll4([&](auto gc) {
        constexpr int g = decltype(gc)::value;
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * g));
        Pair w;
        w.u = _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(v), _mm256_srli_epi16(v, 4), 1), lo4);
        if constexpr (kFive) {
          // Move bit 2g of each byte to bit 4; 16-bit shifts are fine since the mask keeps one bit per byte.
          const __m512i hb = 2 * g <= 4 ? _mm512_slli_epi16(h, 4 - 2 * g) : _mm512_srli_epi16(h, 2 * g - 4);
          w.u = _mm512_ternarylogic_epi32(w.u, hb, bit4, 0xF8);  // u | (hb & bit4)
        }
        const __m512i idx = _mm512_add_epi32(idx0, _mm512_set1_epi32(2 * g));
        w.dw = _mm512_permutexvar_ps(idx, dw8);
        // Natural sub-blocks 0, 1 of the pair are sub-block 2g (of 32) of the super-block, 2, 3 are 2g + 1.
        const __m128 m4 = g < 2 ? _mm256_castps256_ps128(mw8) : _mm256_extractf128_ps(mw8, 1);
        w.mins = g % 2 == 0 ? _mm_unpacklo_ps(m4, m4) : _mm_unpackhi_ps(m4, m4);
        f(sb * 4 + g, w, gc);
      });
    }
  }
};

// q6_k (210 bytes: ql[128], qh[64], int8 scales[16], f16 d). Two halves of 128 values; in half h, the 64 bytes
// ql[64h..] give values 0..63 (low nibbles) and 64..127 (high nibbles) in natural order, and the 32 bytes
// qh[32h..] give their top 2 bits at bit pairs 0/2 (values 0..31 / 32..63) and 4/6 (64..95 / 96..127).
// w = d sc (q - 32): u = q, dw = d sc per 16 values, min -32 dw.
struct ReadQ6K {
  static constexpr Order kOrder = Order::kNatural;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    const __m512i lo4 = _mm512_set1_epi8(0x0F);
    const __m512i top2 = _mm512_set1_epi8(0x30);
    const __m512i idx0 = group_index([](int g) { return g; });
    const __m512 m32 = _mm512_set1_ps(-32.0f);
    for (int64_t sb = 0; sb < K / 256; ++sb) {
      const uint8_t* p = row + sb * 210;
      const __m512 d = _mm512_set1_ps(_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(load_u16(p + 208)))));
      const __m512 dw16 = _mm512_mul_ps(
          _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 192)))), d);
      const __m512 mw16 = _mm512_mul_ps(dw16, m32);
      const auto half = [&](auto hc) {
        constexpr int h = decltype(hc)::value;
        const __m512i ql = _mm512_loadu_si512(p + 64 * h);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h));
        const __m512i qh2 = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
        Pair w;
        // Values 0..63 of the half: low nibbles, top bits from bit pairs 0 / 2 moved to bits 4-5.
        w.u = _mm512_or_si512(_mm512_and_si512(ql, lo4), _mm512_and_si512(_mm512_slli_epi16(qh2, 4), top2));
        __m512i idx = _mm512_add_epi32(idx0, _mm512_set1_epi32(8 * h));
        w.dw = _mm512_permutexvar_ps(idx, dw16);
        w.mins = _mm512_extractf32x4_ps(mw16, 2 * h);
        f(sb * 4 + 2 * h, w, std::integral_constant<int, 2 * h>{});
        // Values 64..127: high nibbles, top bits from bit pairs 4 / 6, already at bits 4-5.
        w.u = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), lo4), _mm512_and_si512(qh2, top2));
        idx = _mm512_add_epi32(idx, _mm512_set1_epi32(4));
        w.dw = _mm512_permutexvar_ps(idx, dw16);
        w.mins = _mm512_extractf32x4_ps(mw16, 2 * h + 1);
        f(sb * 4 + 2 * h + 1, w, std::integral_constant<int, 2 * h + 1>{});
      };
      half(std::integral_constant<int, 0>{});
      half(std::integral_constant<int, 1>{});
    }
  }
};

template <typename Fn>
void with_reader(DType t, Fn&& fn) {
  switch (t) {
    case DType::kQ4_0:
      return fn(ReadQ4<false>{});
    case DType::kQ4_1:
      return fn(ReadQ4<true>{});
    case DType::kQ8_0:
      return fn(ReadQ8_0{});
    case DType::kQ4_K:
      return fn(ReadQ45K<false>{});
    case DType::kQ5_K:
      return fn(ReadQ45K<true>{});
    case DType::kQ6_K:
      return fn(ReadQ6K{});
    default:
      break;
  }
}

// [sum a, sum b, sum c, sum d]
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const auto half = [](__m512 v) { return _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)); };
  const __m256 ab = _mm256_hadd_ps(half(a), half(b));
  const __m256 cd = _mm256_hadd_ps(half(c), half(d));
  const __m256 abcd = _mm256_hadd_ps(ab, cd);  // [a b c d] partial sums in each 128-bit half
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

// Stores sums[0..nj) (+ bias) at out[0..nj).
inline void store4(__m128 sums, const float* bias, float* out, int nj) {
  const auto mask = static_cast<__mmask8>((1u << nj) - 1);
  if (bias != nullptr) sums = _mm_add_ps(sums, _mm_maskz_loadu_ps(mask, bias));
  _mm_mask_storeu_ps(out, mask, sums);
}

// int32 lanes of sum(u * c) over 4 values each, c = 256 hi + lo.
inline __m512i dot2(__m512i u, __m512i hi, __m512i lo) {
  return _mm512_dpbusd_epi32(_mm512_slli_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), u, hi), 8), u, lo);
}

// ---- activations ----

// Same numbers as quantize_act_row (quant.cc): digits at amax / 127 and 1/256 of it, round half to even; stored in
// the lane order of the weight type, plus the per-lane dx expansion for the direct kernels.
void quantize(const MatmulArgs& a, int64_t m0, int64_t m1) {
  const ActQ8& act = a.act;
  const ActLayout& l = act.l;
  const Order ord = order_of(a.wt);
  // Byte offset in the row of natural sub-block s (16 values).
  const auto pos = [ord](int64_t s) { return 64 * (s / 4) + 16 * sub_of_group(ord, static_cast<int>(s % 4)); };
  const __m512 k256 = _mm512_set1_ps(256.0f);
  const __m512i lo_min = _mm512_set1_epi32(-127), lo_max = _mm512_set1_epi32(127);
  for (int64_t m = m0; m < m1; ++m) {
    const float* x = a.x + m * a.K;
    int8_t* qs = act.qs + m * l.kp;
    int8_t* ql = act.ql + m * l.kp;
    float* d = act.d + m * l.nd;
    float* s16 = act.s16 + m * l.ns;
    for (int64_t b = 0; b < l.nd; ++b) {
      if (32 * b >= a.K) {
        for (int64_t s : {2 * b, 2 * b + 1}) {
          _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + pos(s)), _mm_setzero_si128());
          _mm_storeu_si128(reinterpret_cast<__m128i*>(ql + pos(s)), _mm_setzero_si128());
        }
        d[b] = s16[2 * b] = s16[2 * b + 1] = 0.0f;
        continue;
      }
      const __m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
      const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
      const __m512 id = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
      const float db = amax / 127.0f / 256.0f;
      d[b] = db;
      int half = 0;
      for (const __m512 xv : {x0, x1}) {
        const __m512 v = _mm512_mul_ps(xv, id);
        const __m512i hi = _mm512_cvtps_epi32(v);  // round half to even (MXCSR default)
        // v - hi is exact; a remainder of +-0.5 gives +-128, clamped as quantize_act_row does.
        const __m512 rem = _mm512_mul_ps(_mm512_sub_ps(v, _mm512_cvtepi32_ps(hi)), k256);
        const __m512i lo = _mm512_min_epi32(_mm512_max_epi32(_mm512_cvtps_epi32(rem), lo_min), lo_max);
        const int64_t s = 2 * b + half;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + pos(s)), _mm512_cvtsepi32_epi8(hi));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(ql + pos(s)), _mm512_cvtsepi32_epi8(lo));
        const int sum = 256 * _mm512_reduce_add_epi32(hi) + _mm512_reduce_add_epi32(lo);
        s16[s] = db * static_cast<float>(sum);
        ++half;
      }
    }
    for (int64_t t = l.kp / 16; t < l.ns; ++t) s16[t] = 0.0f;
    if (act.dxl != nullptr) {
      float* dxl = act.dxl + m * (l.kp / 4);
      for (int64_t grp = 0; grp < l.kp / 16; ++grp) {
        const int64_t s = 4 * (grp / 4) + sub_of_group(ord, static_cast<int>(grp % 4));
        for (int e = 0; e < 4; ++e) dxl[4 * grp + e] = d[s / 2];
      }
    }
  }
}

// Columns (weight rows) per register tile, and per reduce4 in both kernels.
constexpr int kNR = 4;

// ---- small M: weights unpacked in registers, used for all M <= 4 rows ----
//
// Batch invariance (README): every output is computed with exactly the float operations of tile() below, in the
// same order: per pair acc += float(dot) * (dx * dw) lane by lane; in a second accumulator, per group of 4 pairs
// (the last one possibly short) mn += s16 * mw for its 16 sub-blocks in one FMA; then reduce4's horizontal sum of
// acc + mn for 4 columns at a time, and the bias. Only the data movement differs: no panel; each weight row is
// unpacked in registers and used at once for all M rows, and a group's mins are put together in a register as its
// pairs go by.
template <int R, typename Reader>
void direct_rows(const MatmulArgs& a, int64_t n0, int64_t n1, Reader rd) {
  const ActQ8& act = a.act;
  const int64_t lanes = act.l.kp / 4, np = act.l.kp / 64, ns = act.l.ns;
  // One column: acc + mn of each row.
  const auto column = [&](int64_t j, __m512* sums) {
    __m512 acc[R], mn[R];
    for (int r = 0; r < R; ++r) acc[r] = mn[r] = _mm512_setzero_ps();
    // A group's 16 mins from its pairs' 4 each: pairs 0 and 1 in `lo` (m0: pair 0's until pair 1 comes), pair 2 in
    // m2 until pair 3 comes.
    __m128 m0 = _mm_setzero_ps(), m2 = _mm_setzero_ps();
    __m256 lo = _mm256_setzero_ps();
    const auto add_mins = [&](int64_t p0, __m512 mins) {
      for (int r = 0; r < R; ++r) mn[r] = _mm512_fmadd_ps(_mm512_loadu_ps(act.s16 + r * ns + 4 * p0), mins, mn[r]);
    };
    rd(a.w_row(j), a.K, [&](int64_t p, const Pair& w, auto q) {
      constexpr int kQ = decltype(q)::value;
      if constexpr (kQ == 0) {
        m0 = w.mins;
      } else if constexpr (kQ == 1) {
        lo = _mm256_insertf128_ps(_mm256_castps128_ps256(m0), w.mins, 1);
      } else if constexpr (kQ == 2) {
        m2 = w.mins;
      } else {
        add_mins(p - 3, _mm512_insertf32x8(_mm512_castps256_ps512(lo),
                                           _mm256_insertf128_ps(_mm256_castps128_ps256(m2), w.mins, 1), 1));
      }
      for (int r = 0; r < R; ++r) {
        const __m512i t = dot2(w.u, _mm512_loadu_si512(act.qs + r * act.l.kp + 64 * p),
                               _mm512_loadu_si512(act.ql + r * act.l.kp + 64 * p));
        const __m512 s = _mm512_mul_ps(_mm512_loadu_ps(act.dxl + r * lanes + 16 * p), w.dw);
        acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), s, acc[r]);
      }
    });
    // A short last group: zeros for its missing pairs (as the panel's zero padding).
    switch (np & 3) {
      case 1:
        add_mins(np - 1, _mm512_zextps128_ps512(m0));
        break;
      case 2:
        add_mins(np - 2, _mm512_zextps256_ps512(lo));
        break;
      case 3:
        add_mins(np - 3, _mm512_insertf32x8(_mm512_castps256_ps512(lo), _mm256_zextps128_ps256(m2), 1));
        break;
      default:
        break;
    }
    for (int r = 0; r < R; ++r) sums[r] = _mm512_add_ps(acc[r], mn[r]);
  };
  for (int64_t j0 = n0; j0 < n1; j0 += kNR) {
    const int nj = static_cast<int>(std::min<int64_t>(kNR, n1 - j0));
    __m512 sums[kNR][R];
    for (int jj = 0; jj < kNR; ++jj) {
      if (jj < nj) {
        column(j0 + jj, sums[jj]);
      } else {
        for (int r = 0; r < R; ++r) sums[jj][r] = _mm512_setzero_ps();
      }
    }
    const float* bias = a.bias != nullptr ? a.bias + j0 : nullptr;
    for (int r = 0; r < R; ++r)
      store4(reduce4(sums[0][r], sums[1][r], sums[2][r], sums[3][r]), bias, a.out + r * a.N + j0, nj);
  }
}

void int_direct(const MatmulArgs& a, int64_t n0, int64_t n1) {
  with_reader(a.wt, [&](auto rd) {
    switch (a.M) {
      case 1:
        return direct_rows<1>(a, n0, n1, rd);
      case 2:
        return direct_rows<2>(a, n0, n1, rd);
      case 3:
        return direct_rows<3>(a, n0, n1, rd);
      default:
        return direct_rows<4>(a, n0, n1, rd);
    }
  });
}

// ---- larger M: panels of 4 weight rows unpacked once, swept by 4x4 register tiles ----
//
// Panel of one thread: for each pair p, 512 bytes = u of rows 0..3 (4 x 64) then dw of rows 0..3 (4 x 64), then
// the mins as floats [4][ns] per natural 16-value sub-block. For K = 1536 that is 14 KiB: it stays in L1 while
// every 4-row tile of activations streams past it. Missing rows at the end of N are zero (and not stored).

constexpr int64_t kPairBytes = kNR * 128;

size_t panel_bytes(const MatmulArgs& a) {
  return static_cast<size_t>(a.act.l.kp / 64 * kPairBytes + kNR * a.act.l.ns * 4);
}

template <typename Reader>
void pack(const MatmulArgs& a, int64_t j0, int nj, uint8_t* panel, Reader rd) {
  const int64_t np = a.act.l.kp / 64, ns = a.act.l.ns;
  auto* mins = reinterpret_cast<float*>(panel + np * kPairBytes);
  for (int jj = 0; jj < kNR; ++jj) {
    float* mw = mins + jj * ns;
    if (jj < nj) {
      rd(a.w_row(j0 + jj), a.K, [&](int64_t p, const Pair& w, auto) {
        uint8_t* pp = panel + p * kPairBytes;
        _mm512_store_si512(pp + 64 * jj, w.u);
        _mm512_store_ps(pp + 256 + 64 * jj, w.dw);
        _mm_storeu_ps(mw + 4 * p, w.mins);
      });
      std::fill(mw + 4 * np, mw + ns, 0.0f);
    } else {
      for (int64_t p = 0; p < np; ++p) {
        _mm512_store_si512(panel + p * kPairBytes + 64 * jj, _mm512_setzero_si512());
        _mm512_store_ps(panel + p * kPairBytes + 256 + 64 * jj, _mm512_setzero_ps());
      }
      std::fill(mw, mw + ns, 0.0f);
    }
  }
}

// Rows i0..i0+RM of the activations against the panel: per pair and row, 4 x (2 vpdpbusd and a shift, convert,
// scale, FMA) for 4 x 128 flops, with each u loaded once per pair for all RM rows and each activation vector once
// for all 4. Each output's float operations do not depend on RM, j0 or nj; direct_rows repeats them exactly.
template <int RM>
void tile(const MatmulArgs& a, const uint8_t* panel, int64_t i0, int64_t j0, int nj, __m512i idx_dx) {
  const ActQ8& act = a.act;
  const int64_t np = act.l.kp / 64, ns = act.l.ns;
  __m512 acc[RM][kNR];
  for (int r = 0; r < RM; ++r) {
    for (int j = 0; j < kNR; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < np; ++p) {
    const uint8_t* pp = panel + p * kPairBytes;
    __m512i u[kNR];
    for (int j = 0; j < kNR; ++j) u[j] = _mm512_load_si512(pp + 64 * j);
    for (int r = 0; r < RM; ++r) {
      double d2;  // the two block scales of this pair, broadcast then spread to their lanes
      std::memcpy(&d2, act.d + (i0 + r) * act.l.nd + 2 * p, sizeof d2);
      const __m512 dx = _mm512_permutexvar_ps(idx_dx, _mm512_castpd_ps(_mm512_set1_pd(d2)));
      const __m512i xh = _mm512_loadu_si512(act.qs + (i0 + r) * act.l.kp + 64 * p);
      const __m512i xl = _mm512_loadu_si512(act.ql + (i0 + r) * act.l.kp + 64 * p);
      for (int j = 0; j < kNR; ++j) {
        const __m512i t = dot2(u[j], xh, xl);
        const __m512 s = _mm512_mul_ps(dx, _mm512_load_ps(reinterpret_cast<const float*>(pp + 256 + 64 * j)));
        acc[r][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), s, acc[r][j]);
      }
    }
  }
  // Min terms: sum over sub-blocks of mw * s16 in their own accumulator, 16 sub-blocks (4 pairs) per FMA, added
  // once at the end (the arrays are zero past the row's end).
  // (A row at a time: 4 independent FMA chains, and room in the registers next to acc.)
  const auto* mins = reinterpret_cast<const float*>(panel + np * kPairBytes);
  unroll<RM>([&](auto rc) {
    constexpr int r = decltype(rc)::value;
    __m512 mn[kNR];
    for (int j = 0; j < kNR; ++j) mn[j] = _mm512_setzero_ps();
    for (int64_t t = 0; t < 4 * np; t += 16) {
      const __m512 s = _mm512_loadu_ps(act.s16 + (i0 + r) * ns + t);
      for (int j = 0; j < kNR; ++j) mn[j] = _mm512_fmadd_ps(s, _mm512_loadu_ps(mins + j * ns + t), mn[j]);
    }
    for (int j = 0; j < kNR; ++j) acc[r][j] = _mm512_add_ps(acc[r][j], mn[j]);
  });
  for (int r = 0; r < RM; ++r) {
    const float* bias = a.bias != nullptr ? a.bias + j0 : nullptr;
    store4(reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]), bias, a.out + (i0 + r) * a.N + j0, nj);
  }
}

void int_packed(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void* panel_mem) {
  auto* panel = static_cast<uint8_t*>(panel_mem);
  const int64_t chunk = act_chunk_rows(a.act.l.kp, 4);
  with_reader(a.wt, [&](auto rd) {
    using Reader = decltype(rd);
    // Pairs hold blocks 2p and 2p+1: natural lanes 0..7 / 8..15, q4 order alternating by lane group.
    const __m512i idx_dx = Reader::kOrder == Order::kQ4 ? group_index([](int g) { return g & 1; })
                                                        : group_index([](int g) { return g / 2; });
    for (int64_t mc = m0; mc < m1; mc += chunk) {
      const int64_t me = std::min(m1, mc + chunk);
      for (int64_t j0 = n0; j0 < n1; j0 += kNR) {
        const int nj = static_cast<int>(std::min<int64_t>(kNR, n1 - j0));
        pack(a, j0, nj, panel, rd);
        int64_t i = mc;
        for (; i + 4 <= me; i += 4) tile<4>(a, panel, i, j0, nj, idx_dx);
        switch (me - i) {
          case 3:
            tile<3>(a, panel, i, j0, nj, idx_dx);
            break;
          case 2:
            tile<2>(a, panel, i, j0, nj, idx_dx);
            break;
          case 1:
            tile<1>(a, panel, i, j0, nj, idx_dx);
            break;
          default:
            break;
        }
      }
    }
  });
}

// ---- float weights: f32 / f16 / bf16 with FMA, 4 activation rows x 4 weight rows per register tile ----

template <DType T>
inline __m512 load_w(const uint8_t* row, int64_t k) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (T == DType::kF16) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
  } else {  // bf16: the top half of an f32
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
}

template <DType T, int RM>
void float_tile(const MatmulArgs& a, int64_t i0, int64_t j0, int nj) {
  const uint8_t* rows[kNR];
  for (int j = 0; j < kNR; ++j) rows[j] = a.w_row(j0 + std::min(j, nj - 1));  // a short tile repeats its last row
  const int64_t K = a.K, k16 = K / 16 * 16;
  const float* x = a.x + i0 * K;
  __m512 acc[RM][kNR];
  for (int r = 0; r < RM; ++r) {
    for (int j = 0; j < kNR; ++j) acc[r][j] = _mm512_setzero_ps();
  }
  // Plain full-width loop (GCC keeps the 16 accumulators in registers only in this simple form); the K % 16 tail,
  // absent in real models, is added in scalar code below.
  for (int64_t k = 0; k < k16; k += 16) {
    __m512 w[kNR];
    for (int j = 0; j < kNR; ++j) w[j] = load_w<T>(rows[j], k);
    for (int r = 0; r < RM; ++r) {
      const __m512 xv = _mm512_loadu_ps(x + r * K + k);
      for (int j = 0; j < kNR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, w[j], acc[r][j]);
    }
  }
  for (int r = 0; r < RM; ++r) {
    __m128 sums = reduce4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
    if (k16 < K) {
      alignas(16) float tail[4] = {0, 0, 0, 0};
      float wt[16];
      for (int j = 0; j < kNR; ++j) {
        dequantize_row(T, rows[j] + k16 * tensor::dtype_info(T).block_bytes, wt, K - k16);
        for (int64_t k = k16; k < K; ++k) tail[j] += x[r * K + k] * wt[k - k16];
      }
      sums = _mm_add_ps(sums, _mm_load_ps(tail));
    }
    const float* bias = a.bias != nullptr ? a.bias + j0 : nullptr;
    store4(sums, bias, a.out + (i0 + r) * a.N + j0, nj);
  }
}

template <DType T>
void float_range(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  // Activation rows per chunk: the chunk (4 K bytes a row) stays in L2 while the 4-row weight tiles sweep it.
  const int64_t chunk = act_chunk_rows(4 * a.K, 4);
  for (int64_t mc = m0; mc < m1; mc += chunk) {
    const int64_t me = std::min(m1, mc + chunk);
    for (int64_t j0 = n0; j0 < n1; j0 += kNR) {
      const int nj = static_cast<int>(std::min<int64_t>(kNR, n1 - j0));
      int64_t i = mc;
      for (; i + 4 <= me; i += 4) float_tile<T, 4>(a, i, j0, nj);
      switch (me - i) {
        case 3:
          float_tile<T, 3>(a, i, j0, nj);
          break;
        case 2:
          float_tile<T, 2>(a, i, j0, nj);
          break;
        case 1:
          float_tile<T, 1>(a, i, j0, nj);
          break;
        default:
          break;
      }
    }
  }
}

void float_kernel(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  switch (a.wt) {
    case DType::kF32:
      return float_range<DType::kF32>(a, m0, m1, n0, n1);
    case DType::kF16:
      return float_range<DType::kF16>(a, m0, m1, n0, n1);
    case DType::kBF16:
      return float_range<DType::kBF16>(a, m0, m1, n0, n1);
    default:
      break;
  }
}

}  // namespace

const IsaKernels& avx512_matmul_kernels() {
  static const IsaKernels k = [] {
    IsaKernels k;
    k.direct_max_rows = 4;
    k.n_tile = kNR;
    k.quantize = quantize;
    k.int_direct = int_direct;
    k.panel_bytes = panel_bytes;
    k.int_packed = int_packed;
    k.float_kernel = float_kernel;
    return k;
  }();
  return k;
}

}  // namespace tessera::backend::cpu::detail
