#pragma once

/// \file
/// Linear layers as upstream stores them: weight [out, in] (PyTorch's layout), optional bias
/// [out]; y = x W^T + b over rows of x, as one Eigen matrix product.

#include <Eigen/Core>

#include "sse/core/shape.hpp"
#include "sse/state/state.hpp"

namespace sse {

/// y [M, out] = x [M, in] W^T (+ bias). W is row-major [out, in]; rows of x and y may be
/// strided (slices of wider buffers). No allocation for the shapes of a layer's tokens (Eigen
/// packs the product on the stack up to its 128 KiB limit, on the heap above).
template <class T>
inline void linear(ConstMatrixMap<T> x, const T* weight, const T* bias, MatrixMap<T> y) {
  const ConstMatrixMap<T> w(weight, y.cols(), x.cols(), Eigen::OuterStride<>(x.cols()));
  y.noalias() = x * w.transpose();
  if (bias != nullptr) {
    for (index_t r = 0; r < y.rows(); ++r) {
      for (index_t c = 0; c < y.cols(); ++c) y(r, c) += bias[c];
    }
  }
}

}  // namespace sse
