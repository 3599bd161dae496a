#include "tessera/backend/cpu/ops.h"

#include <cstdlib>
#include <cstring>

#include "tessera/backend/cpu/matmul.h"

namespace tessera::backend::cpu {

int64_t attention_scratch_floats(const AttentionShape& s, int32_t max_num_q, int64_t max_ctx) {
  const int64_t rows = static_cast<int64_t>(max_num_q) * (s.num_heads / s.num_kv_heads);
  return 2 * rows * s.head_dim + static_cast<int64_t>(s.block_size) * s.head_dim + rows * max_ctx;
}

const Kernels& kernels() {
  static const Kernels& chosen = []() -> const Kernels& {
    const char* force = std::getenv("TESSERA_CPU_ISA");
    const bool portable_only = force && std::strcmp(force, "portable") == 0;
#if defined(TESSERA_X86)
    // The AVX2 level of the matmul kernels needs a superset of what these need (AVX2, FMA, F16C).
    if (!portable_only && matmul_isa_supported(MatmulIsa::kAvx2)) return avx2_kernels();
#endif
    (void)portable_only;
    return portable_kernels();
  }();
  return chosen;
}

}  // namespace tessera::backend::cpu
