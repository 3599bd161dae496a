// Internal: the contract between the matmul driver (matmul.cc) and the kernels of each instruction-set level
// (matmul.cc portable, matmul_avx2.cc, matmul_avx512.cc). Not for use outside backend/cpu.
//
// The driver owns scratch and threads; a level supplies kernels that each fill a rectangle of `out`:
//   float weights:      float_kernel over rows [m0, m1) x columns [n0, n1), reading x and w directly;
//   integer weights:    the driver first quantizes x into ActQ8 with the level's `quantize`, then calls either
//                       int_direct (M <= direct_max_rows: each weight block is unpacked into registers and used
//                       for all M rows) or int_packed (larger M: tiles of n_tile weight rows are unpacked once into
//                       a per-thread panel in L1 and swept by register-tiled int8 dot products over all rows).
//
// Batch invariance: each output element must come out of the same float operations in the same order whichever
// kernel computes it (int_direct or int_packed, any register tile, any M, row position, row or column range), so
// a row's result never depends on the rows it shares a call with (README.md, "Batch invariance").
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessera/backend/cpu/quant.h"
#include "tessera/tensor/dtype.h"

namespace tessera::backend::cpu::detail {

struct MatmulArgs {
  const float* x = nullptr;  // [M, K]
  int64_t M = 0, K = 0, N = 0;
  const uint8_t* w = nullptr;  // N rows of w_row_bytes
  tensor::DType wt = tensor::DType::kF32;
  size_t w_row_bytes = 0;
  const float* bias = nullptr;  // [N] or null
  float* out = nullptr;         // [M, N]
  ActQ8 act;                    // x quantized (integer weight types only)

  const uint8_t* w_row(int64_t n) const { return w + static_cast<size_t>(n) * w_row_bytes; }
};

struct IsaKernels {
  int direct_max_rows = 0;  // int_direct serves M <= this; 0: always int_packed
  int n_tile = 1;           // column ranges given to int_packed start at multiples of this
  // Quantizes rows [m0, m1) of x into a.act in this level's layout for a.wt (dxl too when non-null).
  void (*quantize)(const MatmulArgs& a, int64_t m0, int64_t m1) = nullptr;
  void (*int_direct)(const MatmulArgs& a, int64_t n0, int64_t n1) = nullptr;
  // Bytes of one thread's panel for int_packed.
  size_t (*panel_bytes)(const MatmulArgs& a) = nullptr;
  void (*int_packed)(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1, void* panel) = nullptr;
  void (*float_kernel)(const MatmulArgs& a, int64_t m0, int64_t m1, int64_t n0, int64_t n1) = nullptr;
};

const IsaKernels& portable_matmul_kernels();
#if defined(TESSERA_X86)
const IsaKernels& avx2_matmul_kernels();
const IsaKernels& avx512_matmul_kernels();
#endif

// Rows of x per chunk so that one chunk of quantized activations (about kp bytes a row) stays in L2 while every
// weight panel of a thread's range sweeps over it.
inline int64_t act_chunk_rows(int64_t kp, int64_t multiple) {
  int64_t rows = (int64_t{192} << 10) / (kp > 0 ? kp : 1);
  rows = rows < 16 ? 16 : rows;
  return (rows + multiple - 1) / multiple * multiple;
}

}  // namespace tessera::backend::cpu::detail
