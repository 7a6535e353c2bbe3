#pragma once

/// \file
/// The executor interface and the two executors that ship with sse. Work is split into
/// independent tasks (for the scan: one per (sequence, head)); each task writes its own outputs,
/// so no reduction crosses tasks and results do not depend on the number of threads.
///
/// A caller can wrap its own pool by deriving from `Executor`.

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace sse {

/// A non-owning reference to a callable `void(std::size_t task, std::size_t worker)`, cheap to
/// pass through the virtual executor interface (as std::function_ref, without allocation).
class TaskRef {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, TaskRef>>>
  TaskRef(F& f) noexcept  // NOLINT: implicit on purpose, as function_ref
      : object_(static_cast<void*>(&f)), call_(&invoke<F>) {}

  void operator()(std::size_t task, std::size_t worker) const { call_(object_, task, worker); }

 private:
  template <class F>
  static void invoke(void* object, std::size_t task, std::size_t worker) {
    (*static_cast<F*>(object))(task, worker);
  }
  void* object_;
  void (*call_)(void*, std::size_t, std::size_t);
};

/// Runs independent tasks. `parallel_for(n, fn)` calls fn(task, worker) once for every task in
/// [0, n), with `worker` in [0, concurrency()) and no two tasks running at once on the same
/// worker (so per-worker scratch memory is safe), and returns when all have finished. Tasks
/// must not throw and must not call parallel_for on the same executor.
class Executor {
 public:
  virtual ~Executor() = default;
  /// The most tasks that run at once (workers are numbered 0 .. concurrency()-1).
  virtual std::size_t concurrency() const noexcept = 0;
  virtual void parallel_for(std::size_t n_tasks, TaskRef fn) = 0;
};

/// Runs every task on the calling thread, in order.
class SerialExecutor final : public Executor {
 public:
  std::size_t concurrency() const noexcept override { return 1; }
  void parallel_for(std::size_t n_tasks, TaskRef fn) override {
    for (std::size_t task = 0; task < n_tasks; ++task) fn(task, 0);
  }
};

namespace detail {

/// Tells the core that this thread is spinning (x86's pause: it yields the core's resources to
/// the other hyperthread and keeps the loop from flooding the memory system).
#if defined(__x86_64__) || defined(__i386__)
inline void spin_pause() noexcept { __builtin_ia32_pause(); }
#else
inline void spin_pause() noexcept {}
#endif

/// Pauses a thread spins for before it blocks (tens of microseconds): a decode step is a few
/// hundred parallel_for calls a few microseconds to a millisecond apart, and a condition
/// variable's wake-up alone costs tens of microseconds on a virtual machine.
inline constexpr int kSpinPauses = 8192;

}  // namespace detail

/// A fixed pool of std::threads; the calling thread works too (as worker 0), so a pool of n
/// threads starts n - 1. Calls from several threads at once are safe: they run one after the
/// other. Between jobs the workers spin for a short while before they block, and so does the
/// caller waiting for them, so that back-to-back calls do not pay a wake-up each.
class ThreadPool final : public Executor {
 public:
  /// `threads` = 0 means std::thread::hardware_concurrency().
  explicit ThreadPool(std::size_t threads = 0) {
    if (threads == 0) threads = std::max<std::size_t>(1, std::thread::hardware_concurrency());
    workers_.reserve(threads - 1);
    for (std::size_t w = 1; w < threads; ++w) workers_.emplace_back([this, w] { worker_loop(w); });
  }
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;
  ~ThreadPool() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  std::size_t concurrency() const noexcept override { return workers_.size() + 1; }

  void parallel_for(std::size_t n_tasks, TaskRef fn) override {
    if (n_tasks == 0) return;
    std::lock_guard<std::mutex> one_job_at_a_time(job_mutex_);
    if (workers_.empty() || n_tasks == 1) {
      for (std::size_t task = 0; task < n_tasks; ++task) fn(task, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      job_ = &fn;
      n_tasks_ = n_tasks;
      next_task_.store(0, std::memory_order_relaxed);
      active_workers_.store(workers_.size(), std::memory_order_relaxed);
      generation_.fetch_add(1, std::memory_order_release);  // publishes the fields above
    }
    wake_.notify_all();
    run_tasks(fn, 0);
    for (int spin = 0; spin < detail::kSpinPauses && !workers_done(); ++spin) detail::spin_pause();
    if (!workers_done()) {
      std::unique_lock<std::mutex> lock(mutex_);
      done_.wait(lock, [this] { return workers_done(); });
    }
  }

 private:
  bool workers_done() const noexcept {
    return active_workers_.load(std::memory_order_acquire) == 0;
  }

  void run_tasks(const TaskRef& fn, std::size_t worker) {
    for (;;) {
      const std::size_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
      if (task >= n_tasks_) return;
      fn(task, worker);
    }
  }

  void worker_loop(std::size_t worker) {
    std::size_t seen_generation = 0;
    for (;;) {
      auto has_news = [&] {
        return stopping_.load(std::memory_order_acquire) ||
               generation_.load(std::memory_order_acquire) != seen_generation;
      };
      for (int spin = 0; spin < detail::kSpinPauses && !has_news(); ++spin) detail::spin_pause();
      if (!has_news()) {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, has_news);
      }
      if (stopping_.load(std::memory_order_acquire)) return;
      seen_generation = generation_.load(std::memory_order_acquire);
      run_tasks(*job_, worker);
      if (active_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
        std::lock_guard<std::mutex> lock(mutex_);  // the caller may be between check and wait
        done_.notify_one();
      }
    }
  }

  std::vector<std::thread> workers_;
  std::mutex job_mutex_;  // serializes concurrent parallel_for calls
  std::mutex mutex_;      // pairs with the condition variables
  std::condition_variable wake_;
  std::condition_variable done_;
  // The job: written by parallel_for before generation_ moves on (release), read by the
  // workers after they see it move (acquire).
  const TaskRef* job_ = nullptr;
  std::size_t n_tasks_ = 0;
  std::atomic<std::size_t> next_task_{0};
  std::atomic<std::size_t> active_workers_{0};
  std::atomic<std::size_t> generation_{0};
  std::atomic<bool> stopping_{false};
};

}  // namespace sse
