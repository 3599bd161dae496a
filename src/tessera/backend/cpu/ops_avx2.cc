// The AVX2/FMA/F16C build of ops_kernels.h (compiled with -mavx2 -mfma -mf16c; used only after a CPU check).
#include "tessera/backend/cpu/ops_kernels.h"

namespace tessera::backend::cpu {

const Kernels& avx2_kernels() {
  static const Kernels k = TESSERA_CPU_KERNEL_TABLE("avx2");
  return k;
}

}  // namespace tessera::backend::cpu
