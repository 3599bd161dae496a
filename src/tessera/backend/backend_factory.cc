#include "tessera/backend/backend_factory.h"

#include <string>

#include "tessera/backend/cpu/cpu_backend.h"
#ifdef TESSERA_CUDA
#include "tessera/backend/cuda/cuda_backend.h"
#endif

namespace tessera::backend {

bool cuda_available() {
#ifdef TESSERA_CUDA
  return cuda::device_count() > 0;
#else
  return false;
#endif
}

Expected<std::unique_ptr<Backend>> make_backend(std::string_view device, int threads) {
  if (device == "auto") device = cuda_available() ? "cuda" : "cpu";
  if (device == "cpu") return std::unique_ptr<Backend>(std::make_unique<cpu::CpuBackend>(threads));
  if (device == "cuda") {
#ifdef TESSERA_CUDA
    std::unique_ptr<cuda::CudaBackend> be;
    TESSERA_ASSIGN_OR_RETURN(be, cuda::CudaBackend::create(0));
    return std::unique_ptr<Backend>(std::move(be));
#else
    return unavailable("--device cuda: this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
  }
  return invalid_argument("--device: unknown device '" + std::string(device) + "' (cpu, cuda or auto)");
}

}  // namespace tessera::backend
