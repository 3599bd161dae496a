// AVX2 + FMA + F16C matmul kernels. Compiled with those flags; reached only after matmul.cc's CPU check.
//
// Unit of work: one block of 32 weight values as a ymm of bytes u. vpmaddubsw multiplies unsigned u with the
// signed activation bytes and adds adjacent pairs into int16; vpmaddwd adds those pairs into int32, so lane l
// covers values 4l..4l+3 and 4 lanes cover one 16-value sub-block, in natural order. The activation codes have
// two int8 digits (quant.h): vpmaddwd takes the high digit's pairs times 256 and the low digit's times 1. Each
// reader turns a weight row into blocks {u, dw, mins}: dw the per-lane float scale, mins the min mw of the block's
// two sub-blocks (quant.h). The kernels compute
//   acc += float(dot) * (dx * dw)   per block
//   mn  += s16 * mw                 per 8 sub-blocks
// and the sum of the lanes of acc + mn.
// vpmaddubsw saturates int16: u <= 63 (q6_k) keeps 2 * 63 * 127 inside it, but q8_0 (u up to 255 after an offset)
// would not, so q8_0 keeps its signed bytes and uses the sign trick instead: |w| * (x * sign(w)), no min term.

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
__m128i load128(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }
__m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

// body(std::integral_constant<int, i>) for i = 0 .. N-1: indices known at compile time, so that arrays of
// registers indexed by them stay in registers.
template <int N, typename Body>
inline void unroll(Body&& body) {
  [&]<int... I>(std::integer_sequence<int, I...>) { (body(std::integral_constant<int, I>{}), ...); }
  (std::make_integer_sequence<int, N>{});
}

// Calls block(b, q) for b = 0 .. n-1 in order, with q = std::integral_constant<int, b % 4>: a block's place in its
// group of 4 is known at compile time.
template <typename Body>
inline void for_blocks(int64_t n, Body&& block) {
  int64_t b = 0;
  for (; b + 4 <= n; b += 4) unroll<4>([&](auto q) { block(b + decltype(q)::value, q); });
  switch (n - b) {
    case 3:
      block(b, std::integral_constant<int, 0>{}), block(b + 1, std::integral_constant<int, 1>{});
      block(b + 2, std::integral_constant<int, 2>{});
      break;
    case 2:
      block(b, std::integral_constant<int, 0>{}), block(b + 1, std::integral_constant<int, 1>{});
      break;
    case 1:
      block(b, std::integral_constant<int, 0>{});
      break;
    default:
      break;
  }
}

struct Blk {
  __m256i u;    // 32 values, unsigned (signed for q8_0)
  __m256 dw;    // per-lane scale
  __m128 mins;  // lanes 0, 1: the mins of the block's two 16-value sub-blocks (unused for q8_0)
};

// Lanes 0-3 take element a, lanes 4-7 element b of a source vector.
__m256i idx2(int a, int b) { return _mm256_setr_epi32(a, a, a, a, b, b, b, b); }

// ---- readers: weight row -> blocks. f(b, blk, q) for every block b of 32 values, in order; q: b % 4 as a
// std::integral_constant. ----

// q4_0 / q4_1: byte j holds value j (low nibble) and j + 16 (high); q4_0 is q4_1 with m = -8 d.
template <bool kHasMin>
struct ReadQ4 {
  static constexpr bool kSigned = false;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    constexpr int kBytes = kHasMin ? 20 : 18, kQs = kHasMin ? 4 : 2;
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    for_blocks(K / 32, [&](int64_t b, auto q) {
      const uint8_t* p = row + b * kBytes;
      const __m128i v = load128(p + kQs);
      Blk w;
      w.u = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(v, 4), v), lo4);
      if constexpr (kHasMin) {
        const __m128 s = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(p))));  // [d, m]
        w.dw = _mm256_broadcastss_ps(s);
        w.mins = _mm_movehdup_ps(s);
      } else {
        const __m128 s = _mm_cvtph_ps(_mm_cvtsi32_si128(load_u16(p)));  // [d]
        w.dw = _mm256_broadcastss_ps(s);
        w.mins = _mm_mul_ps(_mm_moveldup_ps(s), _mm_set1_ps(-8.0f));
      }
      f(b, w, q);
    });
  }
};

struct ReadQ8_0 {
  static constexpr bool kSigned = true;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    for_blocks(K / 32, [&](int64_t b, auto q) {
      const uint8_t* p = row + b * 34;
      Blk w;
      w.u = load256(p + 2);
      w.dw = _mm256_broadcastss_ps(_mm_cvtph_ps(_mm_cvtsi32_si128(load_u16(p))));
      w.mins = _mm_setzero_ps();
      f(b, w, q);
    });
  }
};

// q4_k / q5_k: 8 sub-blocks of 32 per super-block; nibble bytes 32g..32g+31 hold sub-block 2g (low nibbles) and
// 2g+1 (high). q5_k's fifth bit of value l of sub-block s is bit s of qh[l]. w = d sc q - dmin mn.
template <bool kFive>
struct ReadQ45K {
  static constexpr bool kSigned = false;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    constexpr int kBytes = kFive ? 176 : 144, kQs = kFive ? 48 : 16;
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    const __m256i bit4 = _mm256_set1_epi8(0x10);
    for (int64_t sb = 0; sb < K / 256; ++sb) {
      const uint8_t* p = row + sb * kBytes;
      const __m128 dd = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(load_u32(p))));  // [d, dmin]
      // Scales of sub-blocks 0..3 in w0, mins in w1 (6 bits each); 4..7 keep their low 4 bits in w2 and their top
      // 2 bits in bits 6-7 of w0 (scales) / w1 (mins).
      const uint32_t w0 = load_u32(p + 4), w1 = load_u32(p + 8), w2 = load_u32(p + 12);
      const uint32_t sc_lo = w0 & 0x3f3f3f3fu, mn_lo = w1 & 0x3f3f3f3fu;
      const uint32_t sc_hi = (w2 & 0x0f0f0f0fu) | ((w0 >> 2) & 0x30303030u);
      const uint32_t mn_hi = ((w2 >> 4) & 0x0f0f0f0fu) | ((w1 >> 2) & 0x30303030u);
      const __m128i sc8 = _mm_cvtsi64_si128(static_cast<long long>(uint64_t{sc_hi} << 32 | sc_lo));
      const __m128i mn8 = _mm_cvtsi64_si128(static_cast<long long>(uint64_t{mn_hi} << 32 | mn_lo));
      const __m256 dw8 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(sc8)), _mm256_broadcastss_ps(dd));
      const __m256 nm = _mm256_broadcastss_ps(_mm_sub_ps(_mm_setzero_ps(), _mm_movehdup_ps(dd)));
      const __m256 mw8 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(mn8)), nm);
      const __m256i qh = kFive ? load256(p + 16) : _mm256_setzero_si256();
      const uint8_t* qs = p + kQs;
      const __m128 mw_half[2] = {_mm256_castps256_ps128(mw8), _mm256_extractf128_ps(mw8, 1)};
      unroll<4>([&](auto gc) {
        constexpr int g = decltype(gc)::value;
        const __m256i v = load256(qs + 32 * g);
        unroll<2>([&](auto hc) {
          constexpr int half = decltype(hc)::value, s = 2 * g + half;
          Blk w;
          w.u = _mm256_and_si256(half == 0 ? v : _mm256_srli_epi16(v, 4), lo4);
          if constexpr (kFive) {
            // Bit s of each qh byte to bit 4 (16-bit shifts are fine: the mask keeps one bit per byte).
            const __m256i hb = s <= 4 ? _mm256_slli_epi16(qh, 4 - s) : _mm256_srli_epi16(qh, s - 4);
            w.u = _mm256_or_si256(w.u, _mm256_and_si256(hb, bit4));
          }
          w.dw = _mm256_permutevar8x32_ps(dw8, _mm256_set1_epi32(s));
          w.mins = _mm_permute_ps(mw_half[s / 4], _MM_SHUFFLE(s % 4, s % 4, s % 4, s % 4));
          f(sb * 8 + s, w, std::integral_constant<int, s % 4>{});
        });
      });
    }
  }
};

// q6_k: two halves of 128; in half h, quarter t (32 values) takes low 4 bits from ql[64h + 32 (t & 1) + l]
// (low nibble for t < 2, high for t >= 2) and top 2 bits from qh[32h + l] at bits 2t, 2t+1. w = d sc (q - 32)
// with one int8 scale per 16 values.
struct ReadQ6K {
  static constexpr bool kSigned = false;
  template <typename F>
  void operator()(const uint8_t* row, int64_t K, F&& f) const {
    const __m256i lo4 = _mm256_set1_epi8(0x0F);
    const __m256i top2 = _mm256_set1_epi8(0x30);
    const __m256 m32 = _mm256_set1_ps(-32.0f);
    for (int64_t sb = 0; sb < K / 256; ++sb) {
      const uint8_t* p = row + sb * 210;
      const __m256 d = _mm256_set1_ps(_mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(load_u16(p + 208)))));
      const __m128i sc = load128(p + 192);
      const __m256 dw_h[2] = {_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc)), d),
                              _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8))), d)};
      unroll<2>([&](auto hc) {
        constexpr int h = decltype(hc)::value;
        const __m256 mw = _mm256_mul_ps(dw_h[h], m32);
        const __m128 mw_half[2] = {_mm256_castps256_ps128(mw), _mm256_extractf128_ps(mw, 1)};
        const __m256i qa = load256(p + 64 * h), qb = load256(p + 64 * h + 32);
        const __m256i qh = load256(p + 128 + 32 * h);
        const __m256i u[4] = {
            _mm256_or_si256(_mm256_and_si256(qa, lo4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), top2)),
            _mm256_or_si256(_mm256_and_si256(qb, lo4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), top2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), lo4), _mm256_and_si256(qh, top2)),
            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), lo4),
                            _mm256_and_si256(_mm256_srli_epi16(qh, 2), top2)),
        };
        unroll<4>([&](auto tc) {
          constexpr int t = decltype(tc)::value, k = 2 * (t % 2);
          Blk w;
          w.u = u[t];
          w.dw = _mm256_permutevar8x32_ps(dw_h[h], idx2(2 * t, 2 * t + 1));
          w.mins = _mm_permute_ps(mw_half[t / 2], _MM_SHUFFLE(k + 1, k + 1, k + 1, k));
          f(sb * 8 + 4 * h + t, w, tc);
        });
      });
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

// int32 lanes of sum(u * c) over 4 values each, c = 256 hi + lo. For signed weights `au` is |w| (hoisted by
// callers). The int16 pair sums stay below 2 * 255 * 127 (q4 / q5 / q6 codes <= 63, |q8_0| <= 128).
template <bool kSigned>
inline __m256i dot2(__m256i u, __m256i au, __m256i hi, __m256i lo) {
  const __m256i k256 = _mm256_set1_epi16(256), ones = _mm256_set1_epi16(1);
  __m256i ph, pl;
  if constexpr (kSigned) {
    ph = _mm256_maddubs_epi16(au, _mm256_sign_epi8(hi, u));
    pl = _mm256_maddubs_epi16(au, _mm256_sign_epi8(lo, u));
  } else {
    ph = _mm256_maddubs_epi16(u, hi);
    pl = _mm256_maddubs_epi16(u, lo);
  }
  return _mm256_add_epi32(_mm256_madd_epi16(ph, k256), _mm256_madd_epi16(pl, ones));
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// [sum a, sum b, sum a, sum b]
inline __m128 reduce2(__m256 a, __m256 b) {
  const __m256 ab = _mm256_hadd_ps(a, b);
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(ab), _mm256_extractf128_ps(ab, 1));
  return _mm_hadd_ps(s, s);
}

// The sum of v's lanes: lane 0 of reduce2(v, v), the additions reduce2 makes for one column, in its order.
inline float reduce1(__m256 v) { return _mm_cvtss_f32(reduce2(v, v)); }

inline void store2(__m128 sums, const float* bias, float* out, int nj) {
  float v[4];
  _mm_storeu_ps(v, sums);
  for (int j = 0; j < nj && j < 2; ++j) out[j] = v[j] + (bias != nullptr ? bias[j] : 0.0f);
}

// ---- activations: natural order, same numbers as quantize_act_row ----

// Packs 32 int32 values (4 vectors of 8, in order) to int8 with saturation.
inline __m256i pack32(const __m256i q[4]) {
  // packs interleave 128-bit lanes: bytes come out as q0[0:4] q1[0:4] q2[0:4] q3[0:4] | q0[4:8] ...
  const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
  return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Sums of the first and last 16 of 32 int32 values.
inline void sum16x2(const __m256i q[4], int& s0, int& s1) {
  const __m256i h = _mm256_hadd_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
  const __m128i h4 = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
  s0 = _mm_extract_epi32(h4, 0) + _mm_extract_epi32(h4, 1);
  s1 = _mm_extract_epi32(h4, 2) + _mm_extract_epi32(h4, 3);
}

void quantize(const MatmulArgs& a, int64_t m0, int64_t m1) {
  const ActQ8& act = a.act;
  const ActLayout& l = act.l;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 k256 = _mm256_set1_ps(256.0f);
  const __m256i lo_min = _mm256_set1_epi32(-127), lo_max = _mm256_set1_epi32(127);
  for (int64_t m = m0; m < m1; ++m) {
    const float* x = a.x + m * a.K;
    int8_t* qs = act.qs + m * l.kp;
    int8_t* ql = act.ql + m * l.kp;
    float* d = act.d + m * l.nd;
    float* s16 = act.s16 + m * l.ns;
    for (int64_t b = 0; b < l.nd; ++b) {
      if (32 * b >= a.K) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b), _mm256_setzero_si256());
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(ql + 32 * b), _mm256_setzero_si256());
        d[b] = s16[2 * b] = s16[2 * b + 1] = 0.0f;
        continue;
      }
      __m256 v[4];
      __m256 mx = _mm256_setzero_ps();
      for (int i = 0; i < 4; ++i) {
        v[i] = _mm256_loadu_ps(x + 32 * b + 8 * i);
        mx = _mm256_max_ps(mx, _mm256_and_ps(v[i], abs_mask));
      }
      __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
      m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
      const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
      const __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
      __m256i hi[4], lo[4];
      for (int i = 0; i < 4; ++i) {
        // Same steps as quantize_act_row: round half to even, exact remainder, +-128 clamped.
        const __m256 vi = _mm256_mul_ps(v[i], id);
        hi[i] = _mm256_cvtps_epi32(vi);
        const __m256 rem = _mm256_mul_ps(_mm256_sub_ps(vi, _mm256_cvtepi32_ps(hi[i])), k256);
        lo[i] = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(rem), lo_min), lo_max);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs + 32 * b), pack32(hi));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ql + 32 * b), pack32(lo));
      int h0, h1, l0, l1;
      sum16x2(hi, h0, h1);
      sum16x2(lo, l0, l1);
      const float db = amax / 127.0f / 256.0f;
      d[b] = db;
      s16[2 * b] = db * static_cast<float>(256 * h0 + l0);
      s16[2 * b + 1] = db * static_cast<float>(256 * h1 + l1);
    }
    for (int64_t t = l.kp / 16; t < l.ns; ++t) s16[t] = 0.0f;
    if (act.dxl != nullptr) {
      float* dxl = act.dxl + m * (l.kp / 4);
      for (int64_t lane = 0; lane < l.kp / 4; ++lane) dxl[lane] = d[lane / 8];
    }
  }
}

// ---- small M: weight blocks unpacked in registers, used for all M <= 4 rows ----
//
// Batch invariance (README): every output is computed with exactly the float operations of tile_half() below, in
// the same order: per block acc += float(dot) * (dx * dw) lane by lane; in a second accumulator, per group of 4
// blocks (the last one possibly short) mn += s16 * mw for its 8 sub-blocks in one FMA; then reduce2's horizontal
// sum of acc + mn, and the bias. Only the data movement differs: no panel; each weight row is unpacked in registers
// and used at once for all M rows, and a group's mins are gathered in a register as its blocks go by. (The packed
// kernel's zero padding block, when K % 64 == 32, falls in its last group and adds exact zeros.)
template <int R, typename Reader>
void direct_rows(const MatmulArgs& a, int64_t n0, int64_t n1, Reader rd) {
  constexpr bool kSigned = Reader::kSigned;
  const ActQ8& act = a.act;
  const int64_t lanes = act.l.kp / 4, nb = a.K / 32, ns = act.l.ns;
  for (int64_t j = n0; j < n1; ++j) {
    __m256 acc[R], mn[R];
    for (int r = 0; r < R; ++r) acc[r] = mn[r] = _mm256_setzero_ps();
    // A group's 8 mins from its blocks' 2 each: blocks 0 and 1 in `lo` (m0: block 0's until block 1 comes), block 2
    // in m2 until block 3 comes.
    __m128 m0 = _mm_setzero_ps(), m2 = _mm_setzero_ps(), lo = _mm_setzero_ps();
    const auto add_mins = [&](int64_t b0, __m256 mins) {
      for (int r = 0; r < R; ++r) mn[r] = _mm256_fmadd_ps(_mm256_loadu_ps(act.s16 + r * ns + 2 * b0), mins, mn[r]);
    };
    rd(a.w_row(j), a.K, [&](int64_t b, const Blk& w, auto q) {
      if constexpr (!kSigned) {
        constexpr int kQ = decltype(q)::value;
        if constexpr (kQ == 0) {
          m0 = w.mins;
        } else if constexpr (kQ == 1) {
          lo = _mm_movelh_ps(m0, w.mins);
        } else if constexpr (kQ == 2) {
          m2 = w.mins;
        } else {
          add_mins(b - 3, _mm256_insertf128_ps(_mm256_castps128_ps256(lo), _mm_movelh_ps(m2, w.mins), 1));
        }
      }
      const __m256i au = kSigned ? _mm256_sign_epi8(w.u, w.u) : w.u;
      for (int r = 0; r < R; ++r) {
        const __m256i t =
            dot2<kSigned>(w.u, au, load256(act.qs + r * act.l.kp + 32 * b), load256(act.ql + r * act.l.kp + 32 * b));
        const __m256 s = _mm256_mul_ps(_mm256_loadu_ps(act.dxl + r * lanes + 8 * b), w.dw);
        acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t), s, acc[r]);
      }
    });
    const float bias = a.bias != nullptr ? a.bias[j] : 0.0f;
    if constexpr (kSigned) {
      for (int r = 0; r < R; ++r) a.out[r * a.N + j] = reduce1(acc[r]) + bias;
    } else {
      // A short last group: zeros for its missing blocks (as the panel's zero padding).
      const __m128 zero = _mm_setzero_ps();
      switch (nb & 3) {
        case 1:
          add_mins(nb - 1, _mm256_zextps128_ps256(_mm_movelh_ps(m0, zero)));
          break;
        case 2:
          add_mins(nb - 2, _mm256_zextps128_ps256(lo));
          break;
        case 3:
          add_mins(nb - 3, _mm256_insertf128_ps(_mm256_castps128_ps256(lo), _mm_movelh_ps(m2, zero), 1));
          break;
        default:
          break;
      }
      for (int r = 0; r < R; ++r) a.out[r * a.N + j] = reduce1(_mm256_add_ps(acc[r], mn[r])) + bias;
    }
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

// ---- larger M: panels of 4 weight rows unpacked once, swept by 4 x 2 register tiles ----
//
// Panel: per block b, 256 bytes = u of rows 0..3 (4 x 32) then dw of rows 0..3 (4 x 32); then the mins as floats
// [4][ns]. Sixteen ymm registers hold 8 accumulators, 2 weight vectors and the temporaries, so a tile covers 4
// activation rows x 2 weight rows and the panel is swept in two halves.

constexpr int kNR = 4;
constexpr int64_t kBlockBytes = kNR * 64;

size_t panel_bytes(const MatmulArgs& a) {
  return static_cast<size_t>(a.act.l.kp / 32 * kBlockBytes + kNR * a.act.l.ns * 4);
}

template <typename Reader>
void pack(const MatmulArgs& a, int64_t j0, int nj, uint8_t* panel, Reader rd) {
  const int64_t nb = a.act.l.kp / 32, ns = a.act.l.ns;
  auto* mins = reinterpret_cast<float*>(panel + nb * kBlockBytes);
  for (int jj = 0; jj < kNR; ++jj) {
    float* mw = mins + jj * ns;
    // Zero first: padding blocks (K % 64 == 32) and missing rows stay zero.
    for (int64_t b = 0; b < nb; ++b) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(panel + b * kBlockBytes + 32 * jj), _mm256_setzero_si256());
      _mm256_store_ps(reinterpret_cast<float*>(panel + b * kBlockBytes + 128 + 32 * jj), _mm256_setzero_ps());
    }
    std::fill(mw, mw + ns, 0.0f);
    if (jj >= nj) continue;
    rd(a.w_row(j0 + jj), a.K, [&](int64_t b, const Blk& w, auto) {
      uint8_t* pb = panel + b * kBlockBytes;
      _mm256_store_si256(reinterpret_cast<__m256i*>(pb + 32 * jj), w.u);
      _mm256_store_ps(reinterpret_cast<float*>(pb + 128 + 32 * jj), w.dw);
      _mm_storel_pi(reinterpret_cast<__m64*>(mw + 2 * b), w.mins);
    });
  }
}

template <int RM, bool kSigned>
void tile_half(const MatmulArgs& a, const uint8_t* panel, int64_t i0, int64_t j0, int jh, int nj) {
  const ActQ8& act = a.act;
  const int64_t nb = act.l.kp / 32, ns = act.l.ns;
  __m256 acc[RM][2];
  for (int r = 0; r < RM; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* pb = panel + b * kBlockBytes;
    __m256i u[2], au[2];
    for (int j = 0; j < 2; ++j) {
      u[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(pb + 32 * (jh + j)));
      au[j] = kSigned ? _mm256_sign_epi8(u[j], u[j]) : u[j];
    }
    for (int r = 0; r < RM; ++r) {
      const __m256 dx = _mm256_broadcast_ss(act.d + (i0 + r) * act.l.nd + b);
      const __m256i xh = load256(act.qs + (i0 + r) * act.l.kp + 32 * b);
      const __m256i xl = load256(act.ql + (i0 + r) * act.l.kp + 32 * b);
      for (int j = 0; j < 2; ++j) {
        const __m256 s = _mm256_mul_ps(dx, _mm256_load_ps(reinterpret_cast<const float*>(pb + 128 + 32 * (jh + j))));
        acc[r][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot2<kSigned>(u[j], au[j], xh, xl)), s, acc[r][j]);
      }
    }
  }
  // Min terms: sum over sub-blocks of mw * s16 in their own accumulator, 8 sub-blocks (4 blocks) per FMA, added
  // once at the end (the arrays are zero past the row's end).
  // (Two rows at a time: 4 independent FMA chains, and room in the 16 registers next to acc.)
  if constexpr (!kSigned) {
    const auto* mins = reinterpret_cast<const float*>(panel + nb * kBlockBytes);
    unroll<(RM + 1) / 2>([&](auto pc) {
      constexpr int r0 = 2 * decltype(pc)::value, rn = std::min(2, RM - r0);
      __m256 mn[2][2];
      for (int r = 0; r < 2; ++r) mn[r][0] = mn[r][1] = _mm256_setzero_ps();
      for (int64_t t = 0; t < 2 * nb; t += 8) {
        const __m256 m0 = _mm256_loadu_ps(mins + jh * ns + t), m1 = _mm256_loadu_ps(mins + (jh + 1) * ns + t);
        for (int r = 0; r < rn; ++r) {
          const __m256 s = _mm256_loadu_ps(act.s16 + (i0 + r0 + r) * ns + t);
          mn[r][0] = _mm256_fmadd_ps(s, m0, mn[r][0]);
          mn[r][1] = _mm256_fmadd_ps(s, m1, mn[r][1]);
        }
      }
      for (int r = 0; r < rn; ++r) {
        for (int j = 0; j < 2; ++j) acc[r0 + r][j] = _mm256_add_ps(acc[r0 + r][j], mn[r][j]);
      }
    });
  }
  for (int r = 0; r < RM; ++r) {
    const float* bias = a.bias != nullptr ? a.bias + j0 + jh : nullptr;
    store2(reduce2(acc[r][0], acc[r][1]), bias, a.out + (i0 + r) * a.N + j0 + jh, nj - jh);
  }
}

template <int RM, bool kSigned>
void tile(const MatmulArgs& a, const uint8_t* panel, int64_t i0, int64_t j0, int nj) {
  tile_half<RM, kSigned>(a, panel, i0, j0, 0, nj);
  if (nj > 2) tile_half<RM, kSigned>(a, panel, i0, j0, 2, nj);
}

void int_packed(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void* panel_mem) {
  auto* panel = static_cast<uint8_t*>(panel_mem);
  const int64_t chunk = act_chunk_rows(a.act.l.kp, 4);
  with_reader(a.wt, [&](auto rd) {
    constexpr bool kS = decltype(rd)::kSigned;
    for (int64_t mc = m0; mc < m1; mc += chunk) {
      const int64_t me = std::min(m1, mc + chunk);
      for (int64_t j0 = n0; j0 < n1; j0 += kNR) {
        const int nj = static_cast<int>(std::min<int64_t>(kNR, n1 - j0));
        pack(a, j0, nj, panel, rd);
        int64_t i = mc;
        for (; i + 4 <= me; i += 4) tile<4, kS>(a, panel, i, j0, nj);
        switch (me - i) {
          case 3:
            tile<3, kS>(a, panel, i, j0, nj);
            break;
          case 2:
            tile<2, kS>(a, panel, i, j0, nj);
            break;
          case 1:
            tile<1, kS>(a, panel, i, j0, nj);
            break;
          default:
            break;
        }
      }
    }
  });
}

// ---- float weights: f32 / f16 / bf16 with FMA, 2 activation rows x 4 weight rows per register tile ----

template <DType T>
inline __m256 load_w8(const uint8_t* row, int64_t k) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + k);
  } else if constexpr (T == DType::kF16) {
    return _mm256_cvtph_ps(load128(reinterpret_cast<const uint16_t*>(row) + k));
  } else {  // bf16: the top half of an f32
    const __m128i h = load128(reinterpret_cast<const uint16_t*>(row) + k);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType T>
inline float load_w1(const uint8_t* row, int64_t k) {
  float v;
  dequantize_row(T, row + k * tensor::dtype_info(T).block_bytes, &v, 1);
  return v;
}

template <DType T, int RM>
void float_tile(const MatmulArgs& a, int64_t i0, int64_t j0, int nj) {
  const uint8_t* rows[kNR];
  for (int j = 0; j < kNR; ++j) rows[j] = a.w_row(j0 + std::min(j, nj - 1));  // a short tile repeats its last row
  __m256 acc[RM][kNR];
  for (int r = 0; r < RM; ++r) {
    for (int j = 0; j < kNR; ++j) acc[r][j] = _mm256_setzero_ps();
  }
  const int64_t k8 = a.K / 8 * 8;
  for (int64_t k = 0; k < k8; k += 8) {
    __m256 w[kNR];
    for (int j = 0; j < kNR; ++j) w[j] = load_w8<T>(rows[j], k);
    for (int r = 0; r < RM; ++r) {
      const __m256 xv = _mm256_loadu_ps(a.x + (i0 + r) * a.K + k);
      for (int j = 0; j < kNR; ++j) acc[r][j] = _mm256_fmadd_ps(xv, w[j], acc[r][j]);
    }
  }
  for (int r = 0; r < RM; ++r) {
    const float* xr = a.x + (i0 + r) * a.K;
    for (int j = 0; j < nj; ++j) {
      float s = hsum(acc[r][j]);
      for (int64_t k = k8; k < a.K; ++k) s += xr[k] * load_w1<T>(rows[j], k);
      a.out[(i0 + r) * a.N + j0 + j] = s + (a.bias != nullptr ? a.bias[j0 + j] : 0.0f);
    }
  }
}

template <DType T>
void float_range(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const int64_t chunk = act_chunk_rows(4 * a.K, 2);
  for (int64_t mc = m0; mc < m1; mc += chunk) {
    const int64_t me = std::min(m1, mc + chunk);
    for (int64_t j0 = n0; j0 < n1; j0 += kNR) {
      const int nj = static_cast<int>(std::min<int64_t>(kNR, n1 - j0));
      int64_t i = mc;
      for (; i + 2 <= me; i += 2) float_tile<T, 2>(a, i, j0, nj);
      if (i < me) float_tile<T, 1>(a, i, j0, nj);
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

const IsaKernels& avx2_matmul_kernels() {
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
