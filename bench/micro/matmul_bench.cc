// Matmul micro benchmarks at SmolLM2-135M shapes on a 2-thread pool (TESSERA_BENCH_THREADS to change).
//
//   BM_Matmul/<type>/M/K/N    one matmul; counters: weight GB/s (weight bytes read per second, once per call) and
//                             GFLOP/s (2 M N K per call). Weights of one shape fit in L2/L3, so M=1 shows the
//                             kernel's speed, not DRAM's.
//   BM_SmolLM2Layers/<type>/M/lm_rows
//                             every matmul of the 30 layers plus the logits (for lm_rows rows: all of a decode
//                             batch, only the last token of a prefill), each with its own weights (about 70-100 MB,
//                             larger than L3), back to back as in a forward pass: the matmul time of one step at
//                             batch M, weights from DRAM. Counter tok/s = M / time (matmuls only).
//
// TESSERA_CPU_ISA=portable|avx2|avx512 picks a lower level (default: the best this CPU has).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "tessera/backend/cpu/matmul.h"
#include "tessera/tensor/half.h"

namespace {

using tessera::backend::cpu::matmul;
using tessera::backend::cpu::MatmulScratch;
using tessera::tensor::DType;

// Two threads, as the targets are stated; TESSERA_BENCH_THREADS overrides (1 isolates kernel speed from a busy
// machine's scheduling, where a descheduled peer costs a whole time slice).
tessera::util::ThreadPool& pool() {
  static tessera::util::ThreadPool p([] {
    const char* env = std::getenv("TESSERA_BENCH_THREADS");
    return env != nullptr ? std::atoi(env) : 2;
  }());
  return p;
}

// Random codes with small finite f16 scales; speed does not depend on the values.
std::vector<uint8_t> make_weights(DType t, int64_t N, int64_t K, uint32_t seed) {
  std::vector<uint8_t> w(static_cast<size_t>(N) * tessera::tensor::row_bytes(t, K));
  std::mt19937 rng(seed);
  for (auto& b : w) b = static_cast<uint8_t>(rng());
  const tessera::tensor::DTypeInfo& info = tessera::tensor::dtype_info(t);
  const uint16_t scale = tessera::tensor::f32_to_f16(0.01f);
  if (t == DType::kF16 || t == DType::kBF16) {
    for (size_t i = 0; i < w.size(); i += 2) std::memcpy(&w[i], &scale, 2);
  } else if (t == DType::kF32) {
    const float f = 0.01f;
    for (size_t i = 0; i < w.size(); i += 4) std::memcpy(&w[i], &f, 4);
  } else {
    const size_t off = t == DType::kQ6_K ? 208 : 0;
    const bool two = t == DType::kQ4_1 || t == DType::kQ4_K || t == DType::kQ5_K;
    for (size_t b = 0; b < w.size(); b += info.block_bytes) {
      std::memcpy(&w[b + off], &scale, 2);
      if (two) std::memcpy(&w[b + 2], &scale, 2);
    }
  }
  return w;
}

std::vector<float> make_x(int64_t M, int64_t K) {
  std::vector<float> x(static_cast<size_t>(M * K));
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (auto& v : x) v = u(rng);
  return x;
}

void BM_Matmul(benchmark::State& state, DType t) {
  const int64_t M = state.range(0), K = state.range(1), N = state.range(2);
  const std::vector<uint8_t> w = make_weights(t, N, K, 42);
  const std::vector<float> x = make_x(M, K);
  std::vector<float> out(static_cast<size_t>(M * N));
  MatmulScratch scratch;
  for (auto _ : state) {
    matmul(pool(), scratch, x.data(), M, K, w.data(), t, N, nullptr, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double calls = static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(calls * static_cast<double>(w.size()) / 1e9, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(calls * 2.0 * static_cast<double>(M * N * K) / 1e9, benchmark::Counter::kIsRate);
}

// With --benchmark_repetitions=N, "best" rows report the fastest repetition: the shortest time and (these are
// rates) the highest counters. Useful on a shared machine, where the noise is one-sided.
double min_of(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double max_of(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }
void add_best_of(benchmark::internal::Benchmark* b) {
  b->ComputeStatistics("min_time", min_of)->ComputeStatistics("max_rate", max_of);
}

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t M : {1, 16, 512}) {
    b->Args({M, 576, 1536});
    b->Args({M, 1536, 576});
    b->Args({M, 576, 49152});
  }
  b->ArgNames({"M", "K", "N"})->Unit(benchmark::kMicrosecond)->UseRealTime();
  add_best_of(b);
}

// SmolLM2-135M: hidden 576, intermediate 1536, 9 q heads / 3 kv heads of 64, 30 layers, vocab 49152.
struct LayerWeights {
  std::vector<uint8_t> q, k, v, o, gate, up, down;
};

void BM_SmolLM2Layers(benchmark::State& state, DType t) {
  constexpr int64_t kH = 576, kI = 1536, kKv = 192, kV = 49152, kLayers = 30;
  const int64_t M = state.range(0), lm_rows = state.range(1);
  std::vector<LayerWeights> layers(kLayers);
  uint32_t seed = 1;
  size_t bytes = 0;
  for (auto& l : layers) {
    l.q = make_weights(t, kH, kH, seed++), l.k = make_weights(t, kKv, kH, seed++);
    l.v = make_weights(t, kKv, kH, seed++), l.o = make_weights(t, kH, kH, seed++);
    l.gate = make_weights(t, kI, kH, seed++), l.up = make_weights(t, kI, kH, seed++);
    l.down = make_weights(t, kH, kI, seed++);
    bytes += l.q.size() + l.k.size() + l.v.size() + l.o.size() + l.gate.size() + l.up.size() + l.down.size();
  }
  const std::vector<uint8_t> lm = make_weights(t, kV, kH, seed++);
  bytes += lm.size();
  const std::vector<float> x = make_x(M, kI);
  std::vector<float> out(static_cast<size_t>(M * kV));
  MatmulScratch scratch;
  for (auto _ : state) {
    for (const auto& l : layers) {
      matmul(pool(), scratch, x.data(), M, kH, l.q.data(), t, kH, nullptr, out.data());
      matmul(pool(), scratch, x.data(), M, kH, l.k.data(), t, kKv, nullptr, out.data());
      matmul(pool(), scratch, x.data(), M, kH, l.v.data(), t, kKv, nullptr, out.data());
      matmul(pool(), scratch, x.data(), M, kH, l.o.data(), t, kH, nullptr, out.data());
      matmul(pool(), scratch, x.data(), M, kH, l.gate.data(), t, kI, nullptr, out.data());
      matmul(pool(), scratch, x.data(), M, kH, l.up.data(), t, kI, nullptr, out.data());
      matmul(pool(), scratch, x.data(), M, kI, l.down.data(), t, kH, nullptr, out.data());
    }
    matmul(pool(), scratch, x.data(), lm_rows, kH, lm.data(), t, kV, nullptr, out.data());
    benchmark::ClobberMemory();
  }
  const double steps = static_cast<double>(state.iterations());
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
  state.counters["GB/s"] = benchmark::Counter(steps * static_cast<double>(bytes) / 1e9, benchmark::Counter::kIsRate);
  state.counters["tok/s"] = benchmark::Counter(steps * static_cast<double>(M), benchmark::Counter::kIsRate);
}

#define TESSERA_MATMUL_BENCH(T)                                \
  BENCHMARK_CAPTURE(BM_Matmul, T, DType::k##T)->Apply(shapes); \
  BENCHMARK_CAPTURE(BM_SmolLM2Layers, T, DType::k##T)          \
      ->Args({1, 1})                                           \
      ->Args({16, 16})                                         \
      ->Args({512, 1})                                         \
      ->ArgNames({"M", "lm_rows"})                             \
      ->Unit(benchmark::kMillisecond)                          \
      ->UseRealTime()                                          \
      ->Apply(add_best_of);

TESSERA_MATMUL_BENCH(Q4_1)
TESSERA_MATMUL_BENCH(Q8_0)
TESSERA_MATMUL_BENCH(Q4_K)
TESSERA_MATMUL_BENCH(Q6_K)
TESSERA_MATMUL_BENCH(F16)

}  // namespace
