#pragma once

/// \file
/// Top-k selection over one row of router probabilities, in the spec's total order
/// (DESIGN.md section 2): larger value first, and on equal values the lower index first.

#include <cstddef>
#include <cstdint>

namespace sse {

/// Whether entry (value_a, a) ranks before (value_b, b): larger value, then lower index.
template <class T>
inline bool ranks_before(T value_a, std::size_t a, T value_b, std::size_t b) noexcept {
  return value_a > value_b || (value_a == value_b && a < b);
}

/// Writes the indices of the k best of values[0..n) to out[0..k), best first. Each pick is the
/// best entry ranking after the previous pick, so no scratch is needed: O(k n), and k and n are
/// small (partitions, or the rows of a row-sparse key). Precondition: 1 <= k <= n, no NaN.
template <class T, class Index>
inline void top_k_row(const T* values, std::size_t n, std::size_t k, Index* out) noexcept {
  for (std::size_t r = 0; r < k; ++r) {
    std::size_t best = n;
    for (std::size_t i = 0; i < n; ++i) {
      if (r > 0) {
        const auto prev = static_cast<std::size_t>(out[r - 1]);
        if (!ranks_before(values[prev], prev, values[i], i)) continue;  // already taken
      }
      if (best == n || ranks_before(values[i], i, values[best], best)) best = i;
    }
    out[r] = static_cast<Index>(best);
  }
}

}  // namespace sse
