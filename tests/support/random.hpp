#pragma once

// Random test inputs with fixed seeds (the seed is part of every failure message).

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace sse::test {

/// n standard-normal values.
template <class T>
std::vector<T> randn(std::size_t n, std::uint64_t seed, double stddev = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dist(0.0, stddev);
  std::vector<T> out(n);
  for (T& x : out) x = static_cast<T>(dist(rng));
  return out;
}

/// n values uniform in [lo, hi].
template <class T>
std::vector<T> uniform(std::size_t n, std::uint64_t seed, double lo, double hi) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> dist(lo, hi);
  std::vector<T> out(n);
  for (T& x : out) x = static_cast<T>(dist(rng));
  return out;
}

/// Rows of length `width` rescaled so that each has norm at most `max_norm` (keys of the delta
/// rule without qk_l2norm must satisfy |k| <= 1; DESIGN.md section 1).
template <class T>
void clamp_row_norms(std::vector<T>& x, std::size_t width, double max_norm) {
  for (std::size_t r = 0; r * width < x.size(); ++r) {
    double sum = 0;
    for (std::size_t i = 0; i < width; ++i) sum += double(x[r * width + i]) * x[r * width + i];
    const double norm = std::sqrt(sum);
    if (norm > max_norm) {
      for (std::size_t i = 0; i < width; ++i)
        x[r * width + i] = T(x[r * width + i] * max_norm / norm);
    }
  }
}

}  // namespace sse::test
