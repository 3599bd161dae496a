// Shared by the CUDA backend tests: a backend per test; a failure when the machine has no GPU.
//
// These are GPU-machine tests in their own binary, tessera_cuda_tests: CI compiles it (it has nvcc) but never has a
// GPU, so ctest does not run it; scripts/gpu-check runs it on the GPU machine.
#pragma once

#ifdef TESSERA_CUDA

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "tessera/backend/cpu/cpu_backend.h"
#include "tessera/backend/cuda/cuda_backend.h"

namespace tessera::backend::cuda::testing {

#define TESSERA_REQUIRE_GPU()                                                                   \
  do {                                                                                          \
    if (::tessera::backend::cuda::device_count() == 0)                                          \
      FAIL() << "no CUDA device: tessera_cuda_tests runs on a GPU machine (scripts/gpu-check)"; \
  } while (0)

// A device tensor holding `host` (or `n` NaNs when host is empty), owned by the fixture's buffers.
struct DeviceArrays {
  explicit DeviceArrays(CudaBackend& be) : be_(be) {}
  Tensor upload(const void* host, tensor::DType t, std::initializer_list<int64_t> shape) {
    Tensor x(nullptr, t, shape, tensor::Device::kCuda);
    auto b = be_.allocate(x.nbytes());
    EXPECT_TRUE(b.ok());
    x.data = b->data();
    be_.copy_from_host(x, host);
    bufs_.push_back(std::move(*b));
    return x;
  }
  // f32 tensor filled with NaN: every element the op fails to write stays NaN.
  Tensor poisoned(std::initializer_list<int64_t> shape) {
    Tensor x(nullptr, tensor::DType::kF32, shape, tensor::Device::kCuda);
    std::vector<float> nan(x.numel(), std::numeric_limits<float>::quiet_NaN());
    return upload(nan.data(), tensor::DType::kF32, shape);
  }
  std::vector<float> download(const Tensor& x) {
    std::vector<float> h(x.nbytes() / sizeof(float));
    be_.copy_to_host(x, h.data());
    return h;
  }

 private:
  CudaBackend& be_;
  std::vector<Buffer> bufs_;
};

// ||a - b|| / ||b|| in double; infinity when a has a NaN or sizes differ.
inline double rel_error(const std::vector<float>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i])) return std::numeric_limits<double>::infinity();
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-300));
}
inline double rel_error(const std::vector<float>& a, const std::vector<float>& b) {
  return rel_error(a, std::vector<double>(b.begin(), b.end()));
}

}  // namespace tessera::backend::cuda::testing

#endif  // TESSERA_CUDA
