// Matrix products of f32 activations with weights of any DType, read in their file layout (zero-copy).
//
// Quantized weights are multiplied as they are: the activations are quantized per call to int8 blocks of 32
// (quant.h) and the kernels take int8 dot products against the weight blocks, applying the block scales in float.
// Plain float weights (f32, f16, bf16) use FMA on floats. The instruction-set level (portable C++, AVX2+FMA+F16C,
// AVX-512 VNNI) is chosen once from the CPU; TESSERA_CPU_ISA=portable|avx2|avx512 forces a lower one.
//
// Threading: matmul() may be called by one thread at a time per MatmulScratch; it splits the work over `pool`.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessera/backend/cpu/quant.h"
#include "tessera/tensor/dtype.h"
#include "tessera/util/thread_pool.h"

namespace tessera::backend::cpu {

// Reusable scratch for quantized activations and per-thread weight panels; owned by the caller, grows as needed
// and never shrinks, so steady-state calls never allocate.
class MatmulScratch {
 public:
  MatmulScratch() = default;
  ~MatmulScratch();
  MatmulScratch(const MatmulScratch&) = delete;
  MatmulScratch& operator=(const MatmulScratch&) = delete;

  // At least nbytes of 64-byte-aligned memory, valid until the next get(); contents unspecified.
  void* get(size_t nbytes);
  size_t capacity_bytes() const { return capacity_bytes_; }

 private:
  void* data_ = nullptr;
  size_t capacity_bytes_ = 0;
};

// out[m, n] = sum_k x[m, k] * dequant(w)[n, k] (+ bias[n] if bias != nullptr).
// x: f32 [M, K] row-major; w: N rows of K elements in dtype `wt` (row n starts at w + n * row_bytes(wt, K));
// out: f32 [M, N] row-major, every element written. REQUIRES: K % block_size(wt) == 0, wt a weight type (not i32),
// out does not overlap x or w.
void matmul(util::ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t M, int64_t K, const void* w,
            tensor::DType wt, int64_t N, const float* bias, float* out);

// Instruction-set levels of the kernels, lowest first.
enum class MatmulIsa { kPortable, kAvx2, kAvx512 };
const char* matmul_isa_name(MatmulIsa isa);
// The level matmul() uses: the best this CPU supports, lowered by TESSERA_CPU_ISA if set. Fixed at first use.
MatmulIsa matmul_isa();
// Whether `isa` is compiled in and runs on this CPU.
bool matmul_isa_supported(MatmulIsa isa);
// matmul() at a given level, for tests and benchmarks. REQUIRES: matmul_isa_supported(isa).
void matmul_at(MatmulIsa isa, util::ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t M, int64_t K,
               const void* w, tensor::DType wt, int64_t N, const float* bias, float* out);

}  // namespace tessera::backend::cpu
