// The matmul driver: picks the instruction-set level, lays out scratch, quantizes the activations and splits the
// output over the thread pool. The kernels themselves live in matmul_portable.cc, matmul_avx2.cc and
// matmul_avx512.cc behind IsaKernels (matmul_kernels.h).
#include "tessera/backend/cpu/matmul.h"

#include <algorithm>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tessera/backend/cpu/matmul_kernels.h"
#include "tessera/util/log.h"

#if defined(TESSERA_X86)
#include <cpuid.h>
#endif

namespace tessera::backend::cpu {
namespace {

using detail::IsaKernels;
using detail::MatmulArgs;
using tensor::DType;

constexpr size_t kAlign = 64;
size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

// Below this many multiply-adds a call runs on the calling thread: waking the pool would cost more than it saves.
constexpr int64_t kMinParallelMacs = 1 << 15;
// Quantizing activations is about 1% of a large call; it is only worth a second pool dispatch for many rows.
constexpr int64_t kMinParallelQuantizeValues = 1 << 16;

// ---- CPU features ----
// cpuid / xgetbv rather than __builtin_cpu_supports: clang 14 does not know "f16c", and the OS must also have
// enabled the wider register state (XCR0) before AVX or AVX-512 code may run.
bool cpu_supports(MatmulIsa isa) {
  if (isa == MatmulIsa::kPortable) return true;
#if defined(TESSERA_X86)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 0x6u) != 0x6u) return false;  // XMM and YMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool avx2 = b & (1u << 5), bmi2 = b & (1u << 8);
  if (!(avx2 && bmi2)) return false;
  if (isa == MatmulIsa::kAvx2) return true;
  const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
  const bool vnni = c & (1u << 11);
  return f && dq && bw && vl && vnni && (xcr0_lo & 0xe0u) == 0xe0u;  // opmask, ZMM_Hi256, Hi16_ZMM state
#else
  return false;
#endif
}

MatmulIsa detect_isa() {
  MatmulIsa best = MatmulIsa::kPortable;
  for (MatmulIsa isa : {MatmulIsa::kAvx2, MatmulIsa::kAvx512}) {
    if (matmul_isa_supported(isa)) best = isa;
  }
  if (const char* env = std::getenv("TESSERA_CPU_ISA"); env != nullptr && *env != '\0') {
    MatmulIsa want = best;
    bool known = true;
    if (std::strcmp(env, "portable") == 0) {
      want = MatmulIsa::kPortable;
    } else if (std::strcmp(env, "avx2") == 0) {
      want = MatmulIsa::kAvx2;
    } else if (std::strcmp(env, "avx512") == 0) {
      want = MatmulIsa::kAvx512;
    } else {
      known = false;
      TESSERA_LOG_WARN("TESSERA_CPU_ISA=%s is not one of portable, avx2, avx512; using %s", env, matmul_isa_name(best));
    }
    if (known && static_cast<int>(want) > static_cast<int>(best)) {
      TESSERA_LOG_WARN("TESSERA_CPU_ISA=%s is not supported here; using %s", env, matmul_isa_name(best));
    } else if (known) {
      best = want;
    }
  }
  return best;
}

const IsaKernels& kernels_for(MatmulIsa isa) {
#if defined(TESSERA_X86)
  if (isa == MatmulIsa::kAvx512) return detail::avx512_matmul_kernels();
  if (isa == MatmulIsa::kAvx2) return detail::avx2_matmul_kernels();
#endif
  (void)isa;
  return detail::portable_matmul_kernels();
}

// Splits rows [0, M) x columns [0, N) over the pool. Columns first, in whole tiles, since every thread then reads
// a disjoint slice of the weights (the bigger operand); rows only when there are too few column tiles to share.
template <typename F>
void split_2d(util::ThreadPool& pool, int64_t M, int64_t N, int64_t n_tile, int64_t m_tile, int64_t macs, F&& fn) {
  const int nt = pool.num_threads();
  const int64_t n_tiles = (N + n_tile - 1) / n_tile;
  if (nt == 1 || macs < kMinParallelMacs || (n_tiles < nt && M < 2 * m_tile)) {
    fn(0, int64_t{0}, M, int64_t{0}, N);
    return;
  }
  const bool by_rows = n_tiles < 4 * nt && M >= 2 * m_tile * nt;
  pool.run([&](int t, int n) {
    if (by_rows) {
      const int64_t m_tiles = (M + m_tile - 1) / m_tile;
      const int64_t b = m_tiles * t / n * m_tile, e = std::min(M, m_tiles * (t + 1) / n * m_tile);
      if (b < e) fn(t, b, e, int64_t{0}, N);
    } else {
      const int64_t b = n_tiles * t / n * n_tile, e = std::min(N, n_tiles * (t + 1) / n * n_tile);
      if (b < e) fn(t, int64_t{0}, M, b, e);
    }
  });
}

void run(const IsaKernels& kern, util::ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t M, int64_t K,
         const void* w, DType wt, int64_t N, const float* bias, float* out) {
  assert(tensor::row_fits(wt, K) && wt != DType::kI32);
  if (M <= 0 || N <= 0) return;
  MatmulArgs a;
  a.x = x, a.M = M, a.K = K, a.N = N;
  a.w = static_cast<const uint8_t*>(w), a.wt = wt, a.w_row_bytes = tensor::row_bytes(wt, K);
  a.bias = bias, a.out = out;
  const int64_t macs = M * N * K;

  if (!tensor::is_quantized(wt)) {
    split_2d(pool, M, N, kern.n_tile, 4, macs,
             [&](int, int64_t m0, int64_t m1, int64_t n0, int64_t n1) { kern.float_kernel(a, m0, m1, n0, n1); });
    return;
  }

  // Scratch: [qs | ql | d | s16 | dxl (direct only) | one panel per thread (packed only)], each part 64-byte aligned.
  const ActLayout l = act_layout(K);
  a.act.l = l;
  const bool direct = M <= kern.direct_max_rows;
  const auto um = static_cast<size_t>(M);
  const size_t qs_bytes = round_up(um * static_cast<size_t>(l.kp), kAlign);
  const size_t d_bytes = round_up(um * static_cast<size_t>(l.nd) * sizeof(float), kAlign);
  const size_t s_bytes = round_up(um * static_cast<size_t>(l.ns) * sizeof(float), kAlign);
  const size_t lane_bytes = direct ? round_up(um * static_cast<size_t>(l.kp / 4) * sizeof(float), kAlign) : 0;
  const size_t panel_bytes = direct ? 0 : round_up(kern.panel_bytes(a), kAlign);
  const int nt = pool.num_threads();
  auto* base = static_cast<uint8_t*>(
      scratch.get(2 * qs_bytes + d_bytes + s_bytes + lane_bytes + static_cast<size_t>(nt) * panel_bytes));
  uint8_t* p = base;
  a.act.qs = reinterpret_cast<int8_t*>(p), p += qs_bytes;
  a.act.ql = reinterpret_cast<int8_t*>(p), p += qs_bytes;
  a.act.d = reinterpret_cast<float*>(p), p += d_bytes;
  a.act.s16 = reinterpret_cast<float*>(p), p += s_bytes;
  if (direct) a.act.dxl = reinterpret_cast<float*>(p), p += lane_bytes;
  uint8_t* panels = p;

  if (M * K >= kMinParallelQuantizeValues && nt > 1) {
    pool.parallel_for(M, [&](int64_t b, int64_t e) { kern.quantize(a, b, e); });
  } else {
    kern.quantize(a, 0, M);
  }

  if (direct) {
    if (macs < kMinParallelMacs) {
      kern.int_direct(a, 0, N);
    } else {
      pool.parallel_for(
          N, [&](int64_t b, int64_t e) { kern.int_direct(a, b, e); }, 16);
    }
    return;
  }
  split_2d(pool, M, N, kern.n_tile, 4, macs, [&](int t, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
    kern.int_packed(a, m0, m1, n0, n1, panels + static_cast<size_t>(t) * panel_bytes);
  });
}

}  // namespace

MatmulScratch::~MatmulScratch() { ::operator delete (data_, std::align_val_t{kAlign}); }

void* MatmulScratch::get(size_t nbytes) {
  if (nbytes > capacity_bytes_) {
    ::operator delete (data_, std::align_val_t{kAlign});
    // Grow geometrically so a sequence of slightly larger calls (prefill chunks) reallocates a few times only.
    const size_t cap = round_up(std::max(nbytes, capacity_bytes_ + capacity_bytes_ / 2), kAlign);
    data_ = ::operator new (cap, std::align_val_t{kAlign});
    capacity_bytes_ = cap;
  }
  return data_;
}

const char* matmul_isa_name(MatmulIsa isa) {
  switch (isa) {
    case MatmulIsa::kPortable:
      return "portable";
    case MatmulIsa::kAvx2:
      return "avx2";
    case MatmulIsa::kAvx512:
      return "avx512";
  }
  return "?";
}

bool matmul_isa_supported(MatmulIsa isa) {
#if !defined(TESSERA_X86)
  if (isa != MatmulIsa::kPortable) return false;
#endif
  return cpu_supports(isa);
}

MatmulIsa matmul_isa() {
  static const MatmulIsa isa = detect_isa();
  return isa;
}

void matmul(util::ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t M, int64_t K, const void* w,
            DType wt, int64_t N, const float* bias, float* out) {
  static const IsaKernels& kern = kernels_for(matmul_isa());
  run(kern, pool, scratch, x, M, K, w, wt, N, bias, out);
}

void matmul_at(MatmulIsa isa, util::ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t M, int64_t K,
               const void* w, DType wt, int64_t N, const float* bias, float* out) {
  assert(matmul_isa_supported(isa));
  run(kernels_for(isa), pool, scratch, x, M, K, w, wt, N, bias, out);
}

}  // namespace tessera::backend::cpu
