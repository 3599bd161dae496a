// Picks and opens a backend by name, for the CLI and the server: "cpu", "cuda", or "auto" (cuda when the CUDA
// backend is compiled in and a GPU is present, else cpu).
#pragma once

#include <memory>
#include <string_view>

#include "tessera/backend/backend.h"

namespace tessera::backend {

// Whether this build has the CUDA backend and the machine a CUDA device.
bool cuda_available();

// threads: the CPU backend's pool size (0: all cores); ignored by cuda. Errors: InvalidArgument for an unknown
// name, Unavailable for "cuda" without a CUDA build or device.
Expected<std::unique_ptr<Backend>> make_backend(std::string_view device, int threads);

}  // namespace tessera::backend
