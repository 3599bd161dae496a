#include "tessera/util/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TESSERA_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TESSERA_CPU_RELAX() asm volatile("yield")
#else
#define TESSERA_CPU_RELAX() ((void)0)
#endif

namespace tessera::util {
namespace {
// About 50-100 us of spinning before a worker sleeps: long enough to span the gap between kernels of one forward
// pass, short enough not to burn a core while the engine is idle.
constexpr int kSpinIterations = 1 << 14;
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (num_threads <= 0) num_threads = 1;
  num_threads_ = num_threads;
  workers_.reserve(num_threads_ - 1);
  for (int i = 1; i < num_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_impl(Job job, void* ctx) {
  if (num_threads_ == 1) {
    job(ctx, 0, 1);
    return;
  }
  job_ = job;
  ctx_ = ctx;
  num_done_.store(0, std::memory_order_relaxed);
  const uint32_t g = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(static_cast<uint64_t>(g) << 32, std::memory_order_release);
  generation_.store(g);  // seq_cst: ordered against the workers' registration in num_sleeping_
  if (num_sleeping_.load() > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    wake_.notify_all();
  }
  run_parts(g);
  while (num_done_.load(std::memory_order_acquire) != num_threads_) TESSERA_CPU_RELAX();
}

void ThreadPool::run_parts(uint32_t generation) {
  uint64_t v = claim_.load(std::memory_order_acquire);
  for (;;) {
    const auto part = static_cast<uint32_t>(v);
    if (static_cast<uint32_t>(v >> 32) != generation || part >= static_cast<uint32_t>(num_threads_)) return;
    if (!claim_.compare_exchange_weak(v, v + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // A claimed part keeps its job from completing, so job_ and ctx_ cannot change under it.
    job_(ctx_, static_cast<int>(part), num_threads_);
    num_done_.fetch_add(1, std::memory_order_acq_rel);
    v = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::worker_loop() {
  // Generation 0 is the one before any job; reading generation_ here instead could miss a job that run() started
  // before this thread got going.
  uint32_t seen = 0;
  for (;;) {
    uint32_t g;
    int spins = 0;
    while ((g = generation_.load(std::memory_order_acquire)) == seen) {
      if (++spins < kSpinIterations) {
        TESSERA_CPU_RELAX();
      } else {
        std::unique_lock<std::mutex> lock(mu_);
        num_sleeping_.fetch_add(1);
        wake_.wait(lock, [&] { return generation_.load() != seen; });
        num_sleeping_.fetch_sub(1);
        spins = 0;
      }
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    run_parts(g);
  }
}

}  // namespace tessera::util
