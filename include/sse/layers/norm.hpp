#pragma once

/// \file
/// RMSNorm over the last dimension (DESIGN.md section 4), and the gated form of the SSE layers'
/// output norm:
///
///   rms_norm(x)            = x / sqrt(mean(x^2) + eps) * weight
///   gated_rms_norm(x, z)   = rms_norm(x) * silu(z)

#include <cmath>
#include <cstddef>

#include "sse/layers/activations.hpp"

namespace sse {

/// One row of n: out = x / sqrt(mean(x^2) + eps) * weight (out may be x).
template <class T>
inline void rms_norm_row(const T* x, const T* weight, T eps, T* out, std::size_t n) noexcept {
  double sum = 0;  // float rows of thousands: accumulate in double
  for (std::size_t i = 0; i < n; ++i) sum += double(x[i]) * double(x[i]);
  const T inv = static_cast<T>(1.0 / std::sqrt(sum / double(n) + double(eps)));
  for (std::size_t i = 0; i < n; ++i) out[i] = x[i] * inv * weight[i];
}

/// One row of n: out = rms_norm(x) * silu(gate) (out may be x).
template <class T>
inline void gated_rms_norm_row(const T* x, const T* gate, const T* weight, T eps, T* out,
                               std::size_t n) noexcept {
  rms_norm_row(x, weight, eps, out, n);
  for (std::size_t i = 0; i < n; ++i) out[i] *= silu(gate[i]);
}

}  // namespace sse
