#include "sse/core/parallel.hpp"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sse::test {
namespace {

// Every task runs exactly once, workers are in range, and no worker runs two tasks at once.
void check_executor(Executor& executor, std::size_t n_tasks) {
  std::vector<std::atomic<int>> runs(n_tasks);
  std::vector<std::atomic<int>> busy(executor.concurrency());
  std::atomic<bool> overlap{false}, bad_worker{false};
  auto fn = [&](std::size_t task, std::size_t worker) {
    if (worker >= executor.concurrency()) {
      bad_worker = true;
      return;
    }
    if (busy[worker].fetch_add(1) != 0) overlap = true;
    runs[task].fetch_add(1);
    std::this_thread::yield();
    busy[worker].fetch_sub(1);
  };
  executor.parallel_for(n_tasks, fn);
  for (std::size_t i = 0; i < n_tasks; ++i) EXPECT_EQ(runs[i].load(), 1) << "task " << i;
  EXPECT_FALSE(overlap.load());
  EXPECT_FALSE(bad_worker.load());
}

TEST(Executor, SerialRunsInOrder) {
  SerialExecutor serial;
  EXPECT_EQ(serial.concurrency(), 1u);
  std::vector<std::size_t> order;
  auto fn = [&](std::size_t task, std::size_t worker) {
    EXPECT_EQ(worker, 0u);
    order.push_back(task);
  };
  serial.parallel_for(5, fn);
  EXPECT_EQ(order, (std::vector<std::size_t>{0, 1, 2, 3, 4}));
  check_executor(serial, 17);
}

TEST(Executor, ThreadPoolRunsEveryTaskOnce) {
  for (std::size_t threads : {1u, 2u, 3u, 4u}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.concurrency(), threads);
    for (std::size_t n : {0u, 1u, 2u, 7u, 100u}) check_executor(pool, n);
  }
}

TEST(Executor, ThreadPoolAcceptsConcurrentCallers) {
  ThreadPool pool(2);
  std::atomic<long> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        auto fn = [&](std::size_t task, std::size_t) { total += long(task); };
        pool.parallel_for(10, fn);
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 4L * 20 * 45);
}

}  // namespace
}  // namespace sse::test
