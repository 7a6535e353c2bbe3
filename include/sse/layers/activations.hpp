#pragma once

/// \file
/// Scalar activations of the layers (DESIGN.md section 4), in forms that neither overflow nor
/// lose the small values: silu, sigmoid, softplus (PyTorch's threshold 20: x itself above it),
/// logsigmoid.

#include <algorithm>
#include <cmath>

namespace sse {

/// 1 / (1 + exp(-x)), evaluated on the side where the exponential is at most 1.
template <class T>
inline T sigmoid(T x) noexcept {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

/// x * sigmoid(x).
template <class T>
inline T silu(T x) noexcept {
  return x * sigmoid(x);
}

/// log(1 + exp(x)); x itself above 20 (as torch.nn.functional.softplus).
template <class T>
inline T softplus(T x) noexcept {
  return x > T(20) ? x : std::log1p(std::exp(x));
}

/// log(sigmoid(x)) = min(x, 0) - log(1 + exp(-|x|)).
template <class T>
inline T logsigmoid(T x) noexcept {
  return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
}

}  // namespace sse
