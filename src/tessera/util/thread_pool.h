// A fixed pool of worker threads for data-parallel kernels.
//
// Threading: one thread at a time may call run(); it takes part in the job and returns when every part is done.
// Workers spin briefly between jobs (a decode step issues hundreds of small jobs back to back), then sleep.
//
// A job has num_threads parts, and whichever thread is running claims the next unclaimed part: a worker the OS has
// descheduled (more busy threads than cores: an HTTP server beside the engine, or a loaded machine) claims nothing,
// and the caller runs its part instead of waiting a whole time slice for it. Part i always gets index i, so what a
// part computes does not depend on which thread ran it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace tessera::util {

class ThreadPool {
 public:
  // num_threads counts the calling thread; 0 means all hardware threads.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Calls fn(part, num_threads) once for each part in [0, num_threads), on whichever threads are free (the caller
  // included; one part at a time per thread), and waits for all.
  template <typename F>
  void run(F&& fn) {
    using Fn = std::remove_reference_t<F>;
    run_impl([](void* ctx, int i, int n) { (*static_cast<Fn*>(ctx))(i, n); },
             const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Splits [0, n) into contiguous ranges, one per thread, and calls fn(begin, end) for each non-empty range.
  // `align` rounds range boundaries to a multiple (e.g. a kernel's row tile).
  template <typename F>
  void parallel_for(int64_t n, F&& fn, int64_t align = 1) {
    if (n <= 0) return;
    if (num_threads_ == 1 || n <= align) {
      fn(int64_t{0}, n);
      return;
    }
    run([&](int i, int nt) {
      int64_t units = (n + align - 1) / align;
      int64_t b = units * i / nt * align, e = units * (i + 1) / nt * align;
      if (e > n) e = n;
      if (b < e) fn(b, e);
    });
  }

 private:
  using Job = void (*)(void* ctx, int thread_index, int num_threads);
  void run_impl(Job job, void* ctx);
  void worker_loop();
  // Runs unclaimed parts of job `generation` until none is left.
  void run_parts(uint32_t generation);

  int num_threads_;
  std::vector<std::thread> workers_;
  // Written by the caller before bumping generation_; read by workers after they see the new generation.
  Job job_ = nullptr;
  void* ctx_ = nullptr;
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> num_done_{0};  // parts finished
  // (generation << 32) | next unclaimed part: claiming is one CAS, and a claim can only succeed for the current job.
  alignas(64) std::atomic<uint64_t> claim_{0};
  alignas(64) std::atomic<bool> stop_{false};
  // Sleeping workers: a worker registers in num_sleeping_ and re-checks generation_ under mu_ before waiting; run()
  // bumps generation_ and then notifies under mu_ if anyone is registered, so no wake-up is lost.
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<int> num_sleeping_{0};
};

}  // namespace tessera::util
