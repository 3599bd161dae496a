// The CPU backend: a thread pool plus the SIMD kernels of ops.h and matmul.h.
//
// Threading: one thread at a time (the model's engine thread) calls the ops; each op splits its work over the
// pool and returns when it is done, so there is nothing to synchronize. Weights are used in place, from the
// memory-mapped model file.
#pragma once

#include <memory>
#include <vector>

#include "tessera/backend/backend.h"
#include "tessera/backend/cpu/matmul.h"
#include "tessera/backend/cpu/ops.h"
#include "tessera/util/thread_pool.h"

namespace tessera::backend::cpu {

class CpuBackend final : public Backend {
 public:
  // num_threads 0: all hardware threads. `k` and `matmul_level` pick the instruction sets of the kernels and of the
  // matrix products (tests run each one; REQUIRES: matmul_isa_supported(matmul_level)).
  explicit CpuBackend(int num_threads = 0, const Kernels& k = kernels(), MatmulIsa matmul_level = matmul_isa());
  ~CpuBackend() override;

  std::string name() const override;
  tensor::Device device() const override { return tensor::Device::kCpu; }
  int num_threads() const { return pool_.num_threads(); }

  Expected<Buffer> allocate(size_t nbytes) override;
  Expected<Tensor> import_weight(const Tensor& host) override { return host; }
  void copy_from_host(Tensor dst, const void* src) override;
  void copy_to_host(const Tensor& src, void* dst) override;
  void synchronize() override {}

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

 protected:
  void deallocate(void* data, size_t nbytes) override;

 private:
  // Runs fn(begin, end) over [0, rows), on the pool only when the job is big enough to pay for the dispatch.
  template <typename F>
  void for_rows(int64_t rows, int64_t work_per_row, F&& fn);

  const Kernels& k_;
  MatmulIsa matmul_isa_;
  util::ThreadPool pool_;
  MatmulScratch matmul_scratch_;
  BatchMeta meta_;
  // cos/sin of the batch's positions for one RopeParams, reused by every layer of the forward pass.
  std::vector<float> rope_cos_sin_;  // [T, rotary_dim / 2, 2]
  const float* rope_inv_freq_ = nullptr;
  int32_t rope_dim_ = 0;
  float rope_attn_factor_ = 0.0f;
  bool rope_valid_ = false;
  std::vector<AttentionTask> attn_tasks_;
  std::vector<std::vector<float>> attn_scratch_;  // one per thread
};

}  // namespace tessera::backend::cpu
