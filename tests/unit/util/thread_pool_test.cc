#include "tessera/util/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace tessera::util {
namespace {

TEST(ThreadPool, RunCallsEveryThreadOnce) {
  for (int n : {1, 2, 3}) {
    ThreadPool pool(n);
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> hits(n);
      pool.run([&](int i, int nt) {
        EXPECT_EQ(nt, n);
        hits[i].fetch_add(1);
      });
      for (int i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "thread " << i << " rep " << rep;
    }
  }
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnceWithAlignment) {
  ThreadPool pool(3);
  for (int64_t n : {1, 2, 5, 64, 1001}) {
    for (int64_t align : {1, 4, 16}) {
      std::vector<std::atomic<int>> hits(n);
      pool.parallel_for(
          n,
          [&](int64_t b, int64_t e) {
            EXPECT_TRUE(b % align == 0) << b;
            for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
          },
          align);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace tessera::util

// More threads than cores: workers are often descheduled, and whichever thread runs claims their parts. Every
// part of every job must still run exactly once, with its own index, and never two jobs' parts mixed.
TEST(ThreadPool, EveryPartRunsOnceWhenThreadsOutnumberCores) {
  tessera::util::ThreadPool pool(8);
  for (int job = 0; job < 2000; ++job) {
    std::vector<std::atomic<int>> calls(8);
    std::atomic<int> wrong_n{0};
    pool.run([&](int part, int n) {
      if (n != 8) ++wrong_n;
      calls[part].fetch_add(1);
    });
    ASSERT_EQ(wrong_n.load(), 0);
    for (int p = 0; p < 8; ++p) ASSERT_EQ(calls[p].load(), 1) << "job " << job << " part " << p;
  }
}
