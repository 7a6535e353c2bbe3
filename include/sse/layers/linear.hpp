#pragma once

/// \file
/// Linear layers as upstream stores them: weight [out, in] (PyTorch's layout), optional bias
/// [out]; y = x W^T + b over rows of x; `detail::project` applies one by its weight key. A
/// weight `Parameter` may be stored in BF16 or F16: its rows are widened to float32 as they
/// are read (activations and sums stay float32), so y equals the float32 product with the
/// stored values up to summation order.

#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>
#include <vector>

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

/// Elements of a 16-bit weight row widened at a time on the stack by the few-row path.
inline constexpr index_t kWidenChunk = 512;
/// Floats of the widened panel the many-row path multiplies at a time (1 MiB).
inline constexpr index_t kWidenPanelFloats = index_t{1} << 18;

}  // namespace detail

/// y [M, out] = x [M, in] W^T (+ bias) for a weight `Parameter` [out, in] in any stored
/// precision. Float32 weights take `linear<float>`. 16-bit weights: up to kLinearDotRows rows,
/// each weight row is widened chunk by chunk on the stack and dotted with every row of x
/// (nothing allocated); above, a panel of rows is widened at a time into one buffer and
/// multiplied by Eigen, so widening costs O(out x in) per call against O(M x out x in) work.
inline void linear(ConstMatrixMap<float> x, const Parameter& weight, const float* bias,
                   MatrixMap<float> y) {
  if (weight.is_float32()) {
    linear<float>(x, weight.data.data(), bias, y);
    return;
  }
  const index_t in = x.cols(), out = y.cols(), M = x.rows();
  if (M <= kLinearDotRows) {
    std::array<float, detail::kWidenChunk> chunk;
    std::array<float, kLinearDotRows> sums;
    for (index_t o = 0; o < out; ++o) {
      sums.fill(0.0f);
      for (index_t c0 = 0; c0 < in; c0 += detail::kWidenChunk) {
        const index_t n = std::min(detail::kWidenChunk, in - c0);
        weight.widen(static_cast<std::size_t>(o * in + c0), static_cast<std::size_t>(n),
                     chunk.data());
        for (index_t r = 0; r < M; ++r) {
          sums[r] += simd::dot(default_arch{}, chunk.data(), x.data() + r * x.outerStride() + c0,
                               static_cast<std::size_t>(n));
        }
      }
      for (index_t r = 0; r < M; ++r) y(r, o) = sums[r] + (bias != nullptr ? bias[o] : 0.0f);
    }
    return;
  }
  const index_t panel_rows = std::max<index_t>(1, std::min(out, detail::kWidenPanelFloats / in));
  std::vector<float> panel(static_cast<std::size_t>(panel_rows * in));
  for (index_t o0 = 0; o0 < out; o0 += panel_rows) {
    const index_t rows = std::min(panel_rows, out - o0);
    weight.widen(static_cast<std::size_t>(o0 * in), static_cast<std::size_t>(rows * in),
                 panel.data());
    const ConstMatrixMap<float> w(panel.data(), rows, in, Eigen::OuterStride<>(in));
    y.middleCols(o0, rows).noalias() = x * w.transpose();
  }
  if (bias != nullptr) {
    for (index_t r = 0; r < M; ++r) {
      for (index_t c = 0; c < out; ++c) y(r, c) += bias[c];
    }
  }
}

namespace detail {

/// x [rows, D] through weight [out, D] (and bias) into y [rows, out].
inline void project(const Weights& w, std::string_view key, ConstMatrixMap<float> x, float* y,
                    index_t out, std::string_view bias_key = {}) {
  linear(x, w.at(key), bias_key.empty() ? nullptr : w.at(bias_key).data.data(),
         MatrixMap<float>(y, x.rows(), out, Eigen::OuterStride<>(out)));
}

inline ConstMatrixMap<float> rows_of(const float* x, index_t rows, index_t cols) {
  return {x, rows, cols, Eigen::OuterStride<>(cols)};
}

}  // namespace detail

}  // namespace sse
