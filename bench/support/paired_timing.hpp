#pragma once
// Two (or more) computations timed in turn inside one Google Benchmark case, so that their
// ratio comes from the same minutes of a shared, noisy machine: each benchmark iteration runs
// every variant once, and the ratio is taken between the variants' median times.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace sse::bench {

class PairedTiming {
 public:
  /// Adds a variant; returns its index. `prepare`, when given, runs untimed before each run
  /// (for instance to evict the caches).
  std::size_t add(std::string name, std::function<void()> run, std::function<void()> prepare = {}) {
    variants_.push_back({std::move(name), std::move(run), std::move(prepare), {}});
    return variants_.size() - 1;
  }

  /// One benchmark iteration: every variant once, in order; the iteration's time is their sum.
  void run_iteration(benchmark::State& state) {
    double total = 0;
    for (Variant& v : variants_) {
      if (v.prepare) v.prepare();
      const auto start = std::chrono::steady_clock::now();
      v.run();
      benchmark::ClobberMemory();
      const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
      v.seconds.push_back(elapsed.count());
      total += elapsed.count();
    }
    state.SetIterationTime(total);
  }

  /// Median seconds of variant i over the iterations run.
  double median(std::size_t i) const {
    std::vector<double> s = variants_[i].seconds;
    std::nth_element(s.begin(), s.begin() + std::ptrdiff_t(s.size() / 2), s.end());
    return s[s.size() / 2];
  }

  /// Counters "<name>_ms" (median) for every variant.
  void report_times(benchmark::State& state) const {
    for (std::size_t i = 0; i < variants_.size(); ++i) {
      state.counters[variants_[i].name + "_ms"] = median(i) * 1e3;
    }
  }

 private:
  struct Variant {
    std::string name;
    std::function<void()> run;
    std::function<void()> prepare;
    std::vector<double> seconds;
  };
  std::vector<Variant> variants_;
};

/// Reports a target: counters "ratio", "target" and "met" (1 or 0), and a label saying which
/// way the target goes.
inline void report_target(benchmark::State& state, double ratio, double target, bool at_least,
                          const std::string& what) {
  state.counters["ratio"] = ratio;
  state.counters["target"] = target;
  state.counters["met"] = (at_least ? ratio >= target : ratio <= target) ? 1 : 0;
  state.SetLabel(what + (at_least ? " >= " : " <= ") + std::to_string(target).substr(0, 4));
}

}  // namespace sse::bench
