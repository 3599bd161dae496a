// The CUDA backend: device memory, cuBLAS for the matrix products and our own kernels for the rest.
//
// Activations stay f32 [T, ...] as on the CPU, so the forward pass is the same code for both; the matmul converts
// its input to the weight's 16-bit type on the fly (tensor cores need both operands in one type) and accumulates
// and writes in f32. Weights: BF16/F16 uploaded as they are, F32 kept (exact fixture tests; real checkpoints are
// 16-bit), block-quantized types dequantized to BF16 once, at import. The KV cache is f16 (or f32).
//
// This header is plain C++ (no CUDA includes): the factory and the CLI include it from .cc files.
//
// Threading: one thread at a time (the model's engine thread). Every op is enqueued on the backend's stream and
// returns at once; copy_to_host() and synchronize() wait. A failing CUDA call is logged and kept: status() returns
// the first one, and later ops do nothing, so a broken forward pass never returns plausible numbers silently.
#pragma once

#include <memory>
#include <string>

#include "tessera/backend/backend.h"

namespace tessera::backend::cuda {

// Number of CUDA devices the runtime sees; 0 when there is no driver or no device (never an error).
int device_count();

struct CudaState;  // CUDA handles and device buffers; defined in cuda_backend.cu

class CudaBackend final : public Backend {
 public:
  // Opens `device` (an ordinal): a stream, a cuBLAS handle and the batch metadata buffers.
  static Expected<std::unique_ptr<CudaBackend>> create(int device = 0);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  std::string name() const override;
  tensor::Device device() const override { return tensor::Device::kCuda; }

  Expected<Buffer> allocate(size_t nbytes) override;
  Expected<Tensor> import_weight(const Tensor& host) override;
  void copy_from_host(Tensor dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void synchronize() override;

  void begin_forward(const BatchMeta& meta) override;

  void embedding(const Tensor& table, Tensor out) override;
  void matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor out) override;
  void rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor out) override;
  void add_rmsnorm(Tensor residual, const Tensor& delta, const Tensor& w, float eps, Tensor out) override;
  void add(Tensor x, const Tensor& y) override;
  void rope(Tensor x, const RopeParams& rope) override;
  void silu_mul(const Tensor& gate, const Tensor& up, Tensor out) override;
  void store_kv(const Tensor& k, const Tensor& v, Tensor k_cache, Tensor v_cache) override;
  void attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, float scale, Tensor out) override;
  void gather_logit_rows(const Tensor& x, Tensor out) override;
  void softmax(Tensor x) override;

  // OK, or the first CUDA/cuBLAS error since creation (sticky).
  Status status() const override;
  // Free and total device memory; std::nullopt (logged) when the driver cannot say.
  std::optional<MemoryInfo> memory_info() const override;

 protected:
  void deallocate(void* data, size_t nbytes) override;

 private:
  explicit CudaBackend(std::unique_ptr<CudaState> state);
  std::unique_ptr<CudaState> s_;
};

}  // namespace tessera::backend::cuda
