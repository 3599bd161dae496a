// The two ceilings every CUDA benchmark is reported against, measured in the same call: device-to-device copy
// bandwidth (bytes read + bytes written, a 4 GiB buffer, far past the L2) and the BF16 GEMM rate of cuBLAS on an
// 8192^3 product of random data (zeros run faster and would flatter it). Median of the timed repetitions after a
// warm-up. Prints one JSON line.
//
// Build: nvcc -O3 -std=c++17 -arch=sm_90 bench/cuda/ceilings.cu -lcublas -o ceilings  (scripts/gpu-check does)
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(x)                                                                            \
  do {                                                                                      \
    auto e_ = (x);                                                                          \
    if (static_cast<int>(e_) != 0) {                                                        \
      std::fprintf(stderr, "ceilings: %s failed (%d) at line %d\n", #x, static_cast<int>(e_), __LINE__); \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)

__global__ void fill_random_bf16(__nv_bfloat16* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
    p[i] = __float2bfloat16((h & 0xffff) / 32768.0f - 1.0f);
  }
}

template <typename F>
float median_ms(int reps, F&& f) {
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  f();  // warm-up
  CHECK(cudaDeviceSynchronize());
  std::vector<float> ms;
  for (int i = 0; i < reps; ++i) {
    CHECK(cudaEventRecord(a));
    f();
    CHECK(cudaEventRecord(b));
    CHECK(cudaEventSynchronize(b));
    float t;
    CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

int main() {
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  const size_t copy_bytes = size_t{4} << 30;
  void *src, *dst;
  CHECK(cudaMalloc(&src, copy_bytes));
  CHECK(cudaMalloc(&dst, copy_bytes));
  fill_random_bf16<<<4096, 256>>>(static_cast<__nv_bfloat16*>(src), copy_bytes / 2, 1);
  CHECK(cudaGetLastError());
  const float copy_ms = median_ms(20, [&] { CHECK(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice)); });
  CHECK(cudaFree(src));
  CHECK(cudaFree(dst));

  const int n = 8192;
  __nv_bfloat16 *A, *B;
  float* C;
  CHECK(cudaMalloc(&A, size_t{2} * n * n));
  CHECK(cudaMalloc(&B, size_t{2} * n * n));
  CHECK(cudaMalloc(&C, size_t{4} * n * n));
  fill_random_bf16<<<4096, 256>>>(A, size_t{1} * n * n, 2);
  fill_random_bf16<<<4096, 256>>>(B, size_t{1} * n * n, 3);
  CHECK(cudaGetLastError());
  cublasHandle_t h;
  CHECK(cublasCreate(&h));
  const float one = 1.0f, zero = 0.0f;
  // f32 output, as the backend's matmul writes it.
  const float gemm_ms = median_ms(10, [&] {
    CHECK(cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, n, n, n, &one, A, CUDA_R_16BF, n, B, CUDA_R_16BF, n, &zero, C,
                       CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  });
  const double tb_s = 2.0 * copy_bytes / (copy_ms * 1e-3) / 1e12;
  const double tflops = 2.0 * n * n * static_cast<double>(n) / (gemm_ms * 1e-3) / 1e12;
  std::printf("{\"device\": \"%s\", \"copy_tb_s\": %.3f, \"bf16_gemm_tflops\": %.1f, \"copy_ms\": %.3f, \"gemm_ms\": %.3f}\n",
              prop.name, tb_s, tflops, copy_ms, gemm_ms);
  CHECK(cublasDestroy(h));
  return 0;
}
