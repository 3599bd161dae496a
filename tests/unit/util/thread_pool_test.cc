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
