// The portable build of ops_kernels.h: plain C++ the compiler vectorizes for the baseline ISA (SSE2, NEON).
#include "tessera/backend/cpu/ops_kernels.h"

namespace tessera::backend::cpu {

const Kernels& portable_kernels() {
  static const Kernels k = TESSERA_CPU_KERNEL_TABLE("portable");
  return k;
}

}  // namespace tessera::backend::cpu
