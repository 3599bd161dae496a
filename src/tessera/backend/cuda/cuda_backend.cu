#include "tessera/backend/cuda/cuda_backend.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tessera/backend/cpu/quant.h"
#include "tessera/backend/cuda/kernels.h"
#include "tessera/tensor/half.h"
#include "tessera/util/log.h"

namespace tessera::backend::cuda {

using tensor::DType;

// Device memory that grows to the largest size asked for and never shrinks, so steady-state forward passes do
// not allocate.
struct DeviceScratch {
  void* data = nullptr;
  size_t nbytes = 0;
};

struct CudaState {
  int device = 0;
  cudaDeviceProp props{};
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  Status error;  // sticky: the first failed CUDA or cuBLAS call

  // Batch metadata: packed on the host into pinned memory, copied with one cudaMemcpyAsync. `meta_copied` is
  // recorded after the copy; the next begin_forward waits on it before reusing the pinned buffer.
  void* meta_host = nullptr;
  size_t meta_host_nbytes = 0;
  DeviceScratch meta_dev;
  cudaEvent_t meta_copied = nullptr;
  DeviceMeta meta;
  int32_t max_ctx = 0;  // longest visible context of any token in the batch

  DeviceScratch half_x;   // matmul input converted to the weight's 16-bit type
  DeviceScratch split_out;  // [2M, N] product of a split (hi, lo) input before folding
  DeviceScratch partial;  // split-KV attention partial results
  struct RopeTable {
    const float* host;
    int32_t rotary_dim;
    float* dev;
  };
  std::vector<RopeTable> rope_tables;
  std::vector<void*> weights;  // memory of imported weights, freed with the backend

  bool check(cudaError_t e, const char* what) {
    if (e == cudaSuccess) return true;
    if (error.ok()) {
      error = internal_error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
      TESSERA_LOG_ERROR("%s", error.to_string().c_str());
    }
    return false;
  }
  bool check(cublasStatus_t e, const char* what) {
    if (e == CUBLAS_STATUS_SUCCESS) return true;
    if (error.ok()) {
      error = internal_error(std::string("cublas: ") + what + ": " + cublasGetStatusString(e));
      TESSERA_LOG_ERROR("%s", error.to_string().c_str());
    }
    return false;
  }
  // Grows `s` to at least `nbytes`; false (and the sticky error set) when the device is out of memory.
  bool ensure(DeviceScratch& s, size_t nbytes, const char* what) {
    if (s.nbytes >= nbytes) return true;
    if (s.data && !check(cudaFreeAsync(s.data, stream), what)) return false;
    s.data = nullptr;
    s.nbytes = 0;
    const size_t rounded = std::max<size_t>(nbytes + nbytes / 4, 256);
    if (!check(cudaMallocAsync(&s.data, rounded, stream), what)) return false;
    s.nbytes = rounded;
    return true;
  }
};

namespace {

// Products of at most this many rows multiply a split (hi + lo) 16-bit input: 16 bits of mantissa instead of 8,
// for the price of twice the rows. Such products read the weights once either way and are bound by that, so the
// precision is free where it matters most (decode, whose greedy tokens then match the CPU backend's); longer
// prefill products are compute-bound and take the input rounded to 16 bits once (see docs/cuda.md).
constexpr int64_t kSplitInputMaxRows = 64;

int table_kind(DType t) { return t == DType::kF32 ? 0 : t == DType::kBF16 ? 1 : 2; }

size_t align16(size_t n) { return (n + 15) / 16 * 16; }

}  // namespace

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // no driver or no device: not an error for the caller
    return 0;
  }
  return n;
}

Expected<std::unique_ptr<CudaBackend>> CudaBackend::create(int device) {
  if (device < 0 || device >= device_count())
    return unavailable("cuda: no CUDA device " + std::to_string(device) + " (" + std::to_string(device_count()) +
                       " found)");
  auto s = std::make_unique<CudaState>();
  s->device = device;
  auto fail = [&](const char* what) { return unavailable(std::string("cuda: ") + what + ": " + s->error.to_string()); };
  if (!s->check(cudaSetDevice(device), "cudaSetDevice")) return fail("cannot open the device");
  if (!s->check(cudaGetDeviceProperties(&s->props, device), "cudaGetDeviceProperties")) return fail("properties");
  if (!s->check(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "cudaStreamCreate"))
    return fail("stream");
  if (!s->check(cudaEventCreateWithFlags(&s->meta_copied, cudaEventDisableTiming), "cudaEventCreate"))
    return fail("event");
  if (!s->check(cublasCreate(&s->cublas), "cublasCreate")) return fail("cuBLAS");
  if (!s->check(cublasSetStream(s->cublas, s->stream), "cublasSetStream")) return fail("cuBLAS stream");
  return std::unique_ptr<CudaBackend>(new CudaBackend(std::move(s)));
}

CudaBackend::CudaBackend(std::unique_ptr<CudaState> state) : s_(std::move(state)) {}

CudaBackend::~CudaBackend() {
  // Errors on the way out are ignored: there is nobody left to report them to.
  (void)cudaStreamSynchronize(s_->stream);
  for (void* p : s_->weights) (void)cudaFree(p);
  for (auto& r : s_->rope_tables) (void)cudaFree(r.dev);
  for (DeviceScratch* d : {&s_->meta_dev, &s_->half_x, &s_->split_out, &s_->partial})
    if (d->data) (void)cudaFree(d->data);
  if (s_->meta_host) (void)cudaFreeHost(s_->meta_host);
  if (s_->cublas) (void)cublasDestroy(s_->cublas);
  if (s_->meta_copied) (void)cudaEventDestroy(s_->meta_copied);
  if (s_->stream) (void)cudaStreamDestroy(s_->stream);
}

std::string CudaBackend::name() const {
  return std::string("cuda (") + s_->props.name + ", sm_" + std::to_string(s_->props.major) +
         std::to_string(s_->props.minor) + ")";
}

Status CudaBackend::status() const { return s_->error; }

std::optional<MemoryInfo> CudaBackend::memory_info() const {
  size_t free_b = 0, total_b = 0;
  if (cudaError_t e = cudaMemGetInfo(&free_b, &total_b); e != cudaSuccess) {
    TESSERA_LOG_ERROR("cuda: cudaMemGetInfo: %s", cudaGetErrorString(e));
    return std::nullopt;
  }
  return MemoryInfo{free_b, total_b};
}

// ---- memory ----

Expected<Buffer> CudaBackend::allocate(size_t nbytes) {
  void* p = nullptr;
  if (cudaError_t e = cudaMalloc(&p, std::max<size_t>(nbytes, 1)); e != cudaSuccess) {
    (void)cudaGetLastError();
    return resource_exhausted("cuda: cannot allocate " + std::to_string(nbytes) + " bytes: " + cudaGetErrorString(e));
  }
  return Buffer(this, p, nbytes);
}

void CudaBackend::deallocate(void* data, size_t) {
  // Kernels still queued may read this memory: wait for them first.
  s_->check(cudaStreamSynchronize(s_->stream), "synchronize before free");
  s_->check(cudaFree(data), "cudaFree");
}

Expected<Tensor> CudaBackend::import_weight(const Tensor& host) {
  if (host.dtype == DType::kI32) return invalid_argument("cuda: an i32 tensor is not a weight");
  // Block-quantized types become BF16 here (see docs/cuda.md for why): the file's rows are dequantized on the
  // host a slab at a time and uploaded.
  const bool dequantize = tensor::is_quantized(host.dtype);
  Tensor t = host;
  t.device = tensor::Device::kCuda;
  if (dequantize) t.dtype = DType::kBF16;
  void* dev = nullptr;
  if (cudaError_t e = cudaMalloc(&dev, std::max<size_t>(t.nbytes(), 1)); e != cudaSuccess) {
    (void)cudaGetLastError();
    return resource_exhausted("cuda: cannot allocate " + std::to_string(t.nbytes()) + " bytes for a weight " +
                              host.shape_string() + ": " + cudaGetErrorString(e));
  }
  s_->weights.push_back(dev);
  t.data = dev;
  if (!dequantize) {
    if (!s_->check(cudaMemcpy(dev, host.data, host.nbytes(), cudaMemcpyHostToDevice), "upload weight"))
      return s_->error;
    return t;
  }
  const int64_t cols = host.cols(), rows = host.rows();
  const int64_t slab = std::max<int64_t>(1, (int64_t{1} << 22) / cols);  // about 4M elements per upload
  std::vector<float> f(static_cast<size_t>(slab * cols));
  std::vector<uint16_t> b(f.size());
  for (int64_t r0 = 0; r0 < rows; r0 += slab) {
    const int64_t n = std::min(slab, rows - r0);
    for (int64_t r = 0; r < n; ++r)
      cpu::dequantize_row(host.dtype, static_cast<const uint8_t*>(host.data) + (r0 + r) * host.row_nbytes(),
                          f.data() + r * cols, cols);
    for (int64_t i = 0; i < n * cols; ++i) b[i] = tensor::f32_to_bf16(f[i]);
    if (!s_->check(cudaMemcpy(static_cast<uint16_t*>(dev) + r0 * cols, b.data(), n * cols * sizeof(uint16_t),
                              cudaMemcpyHostToDevice),
                   "upload dequantized weight"))
      return s_->error;
  }
  return t;
}

void CudaBackend::copy_from_host(Tensor dst, const void* src) {
  if (!s_->error.ok()) return;
  s_->check(cudaMemcpyAsync(dst.data, src, dst.nbytes(), cudaMemcpyHostToDevice, s_->stream), "copy_from_host");
  s_->check(cudaStreamSynchronize(s_->stream), "copy_from_host");  // `src` may go away when we return
}

void CudaBackend::copy_to_host(const Tensor& src, void* dst) {
  if (!s_->error.ok()) {
    // A failed forward pass must not look like a result: NaN is what every caller's check catches.
    std::vector<float> nan(src.nbytes() / sizeof(float), std::numeric_limits<float>::quiet_NaN());
    std::memcpy(dst, nan.data(), nan.size() * sizeof(float));
    return;
  }
  s_->check(cudaMemcpyAsync(dst, src.data, src.nbytes(), cudaMemcpyDeviceToHost, s_->stream), "copy_to_host");
  s_->check(cudaStreamSynchronize(s_->stream), "copy_to_host");
}

void CudaBackend::synchronize() { s_->check(cudaStreamSynchronize(s_->stream), "synchronize"); }

// ---- batch metadata ----

void CudaBackend::begin_forward(const BatchMeta& m) {
  CudaState& s = *s_;
  if (!s.error.ok()) return;
  const size_t T = m.num_tokens, S = m.num_seqs, R = m.num_logits;
  s.max_ctx = 0;
  for (int32_t t = 0; t < m.num_tokens; ++t) s.max_ctx = std::max(s.max_ctx, m.positions[t] + 1);
  const size_t o_ids = 0, o_pos = o_ids + align16(T * 4), o_slots = o_pos + align16(T * 4),
               o_seq = o_slots + align16(T * 8), o_lens = o_seq + align16(T * 4), o_tables = o_lens + align16(S * 4),
               o_logits = o_tables + align16(S * m.max_blocks_per_seq * 4), total = o_logits + align16(R * 4);
  // The previous copy out of the pinned buffer must be done before it is overwritten.
  if (!s.check(cudaEventSynchronize(s.meta_copied), "wait for the previous batch's metadata copy")) return;
  if (s.meta_host_nbytes < total) {
    if (s.meta_host) s.check(cudaFreeHost(s.meta_host), "cudaFreeHost");
    s.meta_host = nullptr;
    s.meta_host_nbytes = 0;
    if (!s.check(cudaMallocHost(&s.meta_host, total * 2), "cudaMallocHost")) return;
    s.meta_host_nbytes = total * 2;
  }
  auto* h = static_cast<uint8_t*>(s.meta_host);
  auto put = [&](size_t off, const void* src, size_t n) {
    if (n) std::memcpy(h + off, src, n);
  };
  put(o_ids, m.token_ids, T * 4);
  put(o_pos, m.positions, T * 4);
  put(o_slots, m.slot_mapping, T * 8);
  put(o_seq, m.token_seq, T * 4);
  put(o_lens, m.seq_lens, S * 4);
  put(o_tables, m.block_tables, S * m.max_blocks_per_seq * 4);
  put(o_logits, m.logits_indices, R * 4);
  if (!s.ensure(s.meta_dev, total, "batch metadata")) return;
  if (!s.check(cudaMemcpyAsync(s.meta_dev.data, s.meta_host, total, cudaMemcpyHostToDevice, s.stream),
               "copy batch metadata"))
    return;
  s.check(cudaEventRecord(s.meta_copied, s.stream), "cudaEventRecord");
  auto* d = static_cast<uint8_t*>(s.meta_dev.data);
  s.meta.token_ids = reinterpret_cast<const int32_t*>(d + o_ids);
  s.meta.positions = reinterpret_cast<const int32_t*>(d + o_pos);
  s.meta.slot_mapping = reinterpret_cast<const int64_t*>(d + o_slots);
  s.meta.token_seq = reinterpret_cast<const int32_t*>(d + o_seq);
  s.meta.seq_lens = reinterpret_cast<const int32_t*>(d + o_lens);
  s.meta.block_tables = reinterpret_cast<const int32_t*>(d + o_tables);
  s.meta.logits_indices = reinterpret_cast<const int32_t*>(d + o_logits);
  s.meta.num_tokens = m.num_tokens;
  s.meta.num_seqs = m.num_seqs;
  s.meta.num_logits = m.num_logits;
  s.meta.max_blocks_per_seq = m.max_blocks_per_seq;
  s.meta.block_size = m.block_size;
}

// ---- ops ----

void CudaBackend::embedding(const Tensor& table, Tensor out) {
  if (!s_->error.ok()) return;
  s_->check(launch_embedding(table.data, table_kind(table.dtype), table.cols(), s_->meta, out.as<float>(),
                             s_->stream),
            "embedding");
}

void CudaBackend::matmul(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor out) {
  CudaState& s = *s_;
  if (!s.error.ok()) return;
  const int64_t M = x.rows(), K = x.cols(), N = w.rows();
  if (M == 0) return;
  const float one = 1.0f, zero = 0.0f;
  // cuBLAS is column-major: row-major out[M, N] = x[M, K] w[N, K]^T is column-major out'[N, M] = W x', where
  // w's memory is a K x N column-major matrix taken transposed (op T) and x's a K x M one taken as it is (op N).
  if (w.dtype == DType::kF32) {
    s.check(cublasSgemm(s.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(M),
                        static_cast<int>(K), &one, w.as<const float>(), static_cast<int>(K), x.as<const float>(),
                        static_cast<int>(K), &zero, out.as<float>(), static_cast<int>(N)),
            "sgemm");
  } else {
    const bool bf16 = w.dtype == DType::kBF16;
    if (!bf16 && w.dtype != DType::kF16) {
      s.check(cudaErrorInvalidValue, "matmul: weight type not imported for CUDA");
      return;
    }
    const bool split = M <= kSplitInputMaxRows;
    const int64_t rows = split ? 2 * M : M;
    if (!s.ensure(s.half_x, static_cast<size_t>(rows * K) * 2, "matmul input")) return;
    if (split && !s.ensure(s.split_out, static_cast<size_t>(rows * N) * sizeof(float), "matmul split output"))
      return;
    const Half kind = bf16 ? Half::kBF16 : Half::kF16;
    const cudaError_t conv = split ? launch_to_half_split(x.as<const float>(), s.half_x.data, kind, M * K, s.stream)
                                   : launch_to_half(x.as<const float>(), s.half_x.data, kind, M * K, s.stream);
    if (!s.check(conv, "matmul input to 16-bit")) return;
    const cudaDataType_t ab = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    void* c = split ? s.split_out.data : out.data;
    if (!s.check(cublasGemmEx(s.cublas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(N), static_cast<int>(rows),
                              static_cast<int>(K), &one, w.data, ab, static_cast<int>(K), s.half_x.data, ab,
                              static_cast<int>(K), &zero, c, CUDA_R_32F, static_cast<int>(N), CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 "gemm"))
      return;
    if (split &&
        !s.check(launch_fold_halves(static_cast<const float*>(s.split_out.data), out.as<float>(), M * N, s.stream),
                 "matmul fold"))
      return;
  }
  if (!bias.empty())
    s.check(launch_add_bias(out.as<float>(), bias.as<const float>(), M, N, s.stream), "matmul bias");
}

void CudaBackend::rmsnorm(const Tensor& x, const Tensor& w, float eps, Tensor out) {
  if (!s_->error.ok()) return;
  s_->check(launch_rmsnorm(x.as<const float>(), w.as<const float>(), eps, out.as<float>(), x.rows(), x.cols(),
                           s_->stream),
            "rmsnorm");
}

void CudaBackend::add_rmsnorm(Tensor residual, const Tensor& delta, const Tensor& w, float eps, Tensor out) {
  if (!s_->error.ok()) return;
  s_->check(launch_add_rmsnorm(residual.as<float>(), delta.as<const float>(), w.as<const float>(), eps,
                               out.as<float>(), residual.rows(), residual.cols(), s_->stream),
            "add_rmsnorm");
}

void CudaBackend::add(Tensor x, const Tensor& y) {
  if (!s_->error.ok()) return;
  s_->check(launch_add(x.as<float>(), y.as<const float>(), x.numel(), s_->stream), "add");
}

void CudaBackend::silu_mul(const Tensor& gate, const Tensor& up, Tensor out) {
  if (!s_->error.ok()) return;
  s_->check(launch_silu_mul(gate.as<const float>(), up.as<const float>(), out.as<float>(), gate.numel(),
                            s_->stream),
            "silu_mul");
}

void CudaBackend::rope(Tensor x, const RopeParams& p) {
  CudaState& s = *s_;
  if (!s.error.ok()) return;
  // inv_freq lives on the host for the model's lifetime; upload each distinct table once.
  float* table = nullptr;
  for (auto& r : s.rope_tables)
    if (r.host == p.inv_freq && r.rotary_dim == p.rotary_dim) table = r.dev;
  if (!table) {
    const size_t nbytes = static_cast<size_t>(std::max(p.rotary_dim / 2, 1)) * sizeof(float);
    if (!s.check(cudaMalloc(&table, nbytes), "rope table")) return;
    s.rope_tables.push_back({p.inv_freq, p.rotary_dim, table});
    if (!s.check(cudaMemcpy(table, p.inv_freq, static_cast<size_t>(p.rotary_dim / 2) * sizeof(float),
                            cudaMemcpyHostToDevice),
                 "rope table upload"))
      return;
  }
  s.check(launch_rope(x.as<float>(), s.meta, static_cast<int32_t>(x.dim(1)), static_cast<int32_t>(x.dim(2)), table,
                      p.rotary_dim, p.neox, p.attn_factor, s.stream),
          "rope");
}

void CudaBackend::store_kv(const Tensor& k, const Tensor& v, Tensor k_cache, Tensor v_cache) {
  if (!s_->error.ok()) return;
  const int64_t row = k.numel() / k.dim(0);
  s_->check(launch_store_kv(k.as<const float>(), v.as<const float>(), k_cache.data, v_cache.data, row,
                            k_cache.dtype == DType::kF16, s_->meta, s_->stream),
            "store_kv");
}

void CudaBackend::attention(const Tensor& q, const Tensor& k_cache, const Tensor& v_cache, float scale, Tensor out) {
  CudaState& s = *s_;
  if (!s.error.ok()) return;
  AttentionArgs a;
  a.q = q.as<const float>();
  a.k_cache = k_cache.data;
  a.v_cache = v_cache.data;
  a.out = out.as<float>();
  a.num_heads = static_cast<int32_t>(q.dim(1));
  a.head_dim = static_cast<int32_t>(q.dim(2));
  a.num_kv_heads = static_cast<int32_t>(k_cache.dim(2));
  a.scale = scale;
  a.kv_f16 = k_cache.dtype == DType::kF16;
  const int32_t splits = attention_num_splits(s.meta.num_tokens, a.num_kv_heads, s.max_ctx,
                                              s.props.multiProcessorCount);
  const int64_t pf = attention_partial_floats(s.meta.num_tokens, a.num_heads, a.head_dim, splits);
  if (pf > 0 && !s.ensure(s.partial, static_cast<size_t>(pf) * sizeof(float), "attention partials")) return;
  s.check(launch_attention_decode(a, s.meta, splits, s.max_ctx, static_cast<float*>(s.partial.data), s.stream),
          "attention decode");
}

void CudaBackend::gather_logit_rows(const Tensor& x, Tensor out) {
  if (!s_->error.ok()) return;
  s_->check(launch_gather_rows(x.data, static_cast<int64_t>(x.row_nbytes()), s_->meta, out.data, s_->stream),
            "gather_logit_rows");
}

void CudaBackend::softmax(Tensor x) {
  if (!s_->error.ok()) return;
  s_->check(launch_softmax(x.as<float>(), x.rows(), x.cols(), s_->stream), "softmax");
}

}  // namespace tessera::backend::cuda
