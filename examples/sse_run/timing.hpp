#pragma once

// `--repeat R` timing: runs the computation R times and reports the median and the minimum.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace sse_run {

/// Runs `fn` `repeat` times; with repeat > 1 prints "time_ms median=X min=Y" on stderr.
template <class F>
void run_timed(long repeat, F&& fn) {
  std::vector<double> ms;
  for (long r = 0; r < repeat; ++r) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    const auto stop = std::chrono::steady_clock::now();
    ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }
  if (repeat > 1) {
    std::sort(ms.begin(), ms.end());
    const std::size_t n = ms.size();
    const double median = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    std::fprintf(stderr, "time_ms median=%.4f min=%.4f\n", median, ms.front());
  }
}

}  // namespace sse_run
