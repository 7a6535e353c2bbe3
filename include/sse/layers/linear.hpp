#pragma once

/// \file
/// Linear layers as upstream stores them: weight [out, in] (PyTorch's layout), optional bias
/// [out]; y = x W^T + b over rows of x; `detail::project` applies one by its weight key.

#include <string_view>

#include "sse/config.hpp"
#include "sse/core/matrix.hpp"
#include "sse/core/shape.hpp"
#include "sse/layers/weights.hpp"
#include "sse/simd/row_ops.hpp"

namespace sse {

/// Up to this many rows (a decode step's batch), `linear` takes one dot product per output and
/// row, each weight row read once while it is in L1: nothing is packed and nothing allocated.
/// More rows are one Eigen matrix product.
inline constexpr index_t kLinearDotRows = 4;

/// y [M, out] = x [M, in] W^T (+ bias). W is row-major [out, in]; rows of x and y may be
/// strided (slices of wider buffers). Allocates nothing for M <= kLinearDotRows; above, Eigen
/// packs the product on the stack up to its 128 KiB limit and on the heap beyond it.
template <class T>
inline void linear(ConstMatrixMap<T> x, const T* weight, const T* bias, MatrixMap<T> y) {
  const index_t in = x.cols(), out = y.cols();
  if (x.rows() <= kLinearDotRows) {
    for (index_t o = 0; o < out; ++o) {
      const T* w = weight + o * in;
      const T b = bias != nullptr ? bias[o] : T(0);
      for (index_t r = 0; r < x.rows(); ++r) {
        y(r, o) = simd::dot(default_arch{}, w, x.data() + r * x.outerStride(),
                            static_cast<std::size_t>(in)) +
                  b;
      }
    }
    return;
  }
  const ConstMatrixMap<T> w(weight, out, in, Eigen::OuterStride<>(in));
  y.noalias() = x * w.transpose();
  if (bias != nullptr) {
    for (index_t r = 0; r < y.rows(); ++r) {
      for (index_t c = 0; c < out; ++c) y(r, c) += bias[c];
    }
  }
}

namespace detail {

/// x [rows, D] through weight [out, D] (and bias) into y [rows, out].
inline void project(const Weights& w, std::string_view key, ConstMatrixMap<float> x, float* y,
                    index_t out, std::string_view bias_key = {}) {
  linear<float>(x, w.at(key).data.data(), bias_key.empty() ? nullptr : w.at(bias_key).data.data(),
                MatrixMap<float>(y, x.rows(), out, Eigen::OuterStride<>(out)));
}

inline ConstMatrixMap<float> rows_of(const float* x, index_t rows, index_t cols) {
  return {x, rows, cols, Eigen::OuterStride<>(cols)};
}

}  // namespace detail

}  // namespace sse
