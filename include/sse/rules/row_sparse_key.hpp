#pragma once

/// \file
/// The row-level sparse key of DESIGN.md section 2b, for one token: the key is a classifier
/// over the K rows of the state. From key logits z [K], keep the top-r rows (larger logit
/// first, ties to the lower row), k = softmax over those r logits (0 on the other rows), and
/// the 0/1 mask m of the kept rows masks the decay:
///
///   S_t = diag(exp(g_t * m_t)) S_{t-1} + k_t^T v_t
///
/// so unselected rows are neither written nor decayed. A kernel that knows the rows touches r
/// of the K rows per token (GlaRule::step_rows); the chunked form takes the dense equivalent
/// (`densify_row_sparse_key`). The `key_rows` option is checked with the scan's other inputs
/// (kernels/scan_checks.hpp).

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "sse/core/shape.hpp"
#include "sse/router/top_k.hpp"

namespace sse {

/// One token's sparse key: `count` rows (best first) and their key values.
template <class T>
struct RowSparseKey {
  index_t* rows;  // [r]
  T* values;      // [r]
  index_t count;
};

/// Selects the top-r rows of the logits z [K] and their softmax values, then multiplies the
/// values by `key_scale` (the partition's p_n, or 1). Precondition: 1 <= r <= K, z finite.
template <class T>
inline void select_key_rows(const T* z, index_t K, T key_scale, RowSparseKey<T> key) noexcept {
  top_k_row(z, static_cast<std::size_t>(K), static_cast<std::size_t>(key.count), key.rows);
  const T largest = z[key.rows[0]];
  T sum = 0;
  for (index_t i = 0; i < key.count; ++i) {
    key.values[i] = std::exp(z[key.rows[i]] - largest);  // <= 1
    sum += key.values[i];
  }
  const T factor = key_scale / sum;
  for (index_t i = 0; i < key.count; ++i) key.values[i] *= factor;
}

/// The spec's q/k normalisation x / sqrt(|x|^2 + eps) of a sparse key (its zeros add nothing).
template <class T>
inline void l2_normalize_key(RowSparseKey<T> key, T eps) noexcept {
  T sum = 0;
  for (index_t i = 0; i < key.count; ++i) sum += key.values[i] * key.values[i];
  const T inv = T(1) / std::sqrt(sum + eps);
  for (index_t i = 0; i < key.count; ++i) key.values[i] *= inv;
}

/// The dense form of a sparse key: k [K] (zero off the kept rows) and g * m [K].
template <class T>
inline void densify_row_sparse_key(RowSparseKey<T> key, index_t K, const T* g, T* k_out,
                                   T* g_out) noexcept {
  std::fill(k_out, k_out + K, T(0));
  std::fill(g_out, g_out + K, T(0));
  for (index_t i = 0; i < key.count; ++i) {
    k_out[key.rows[i]] = key.values[i];
    g_out[key.rows[i]] = g[key.rows[i]];
  }
}

}  // namespace sse
