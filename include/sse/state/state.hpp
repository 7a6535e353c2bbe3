#pragma once

/// \file
/// `StateView<T>`: one K x V recurrent state S (rows are key channels), contiguous row-major.

#include <Eigen/Core>

#include "sse/core/shape.hpp"

namespace sse {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A dynamic-size row-major matrix over existing memory with a run-time row stride.
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

/// One K x V state, row d at data + d * V.
template <class T>
struct StateView {
  T* data = nullptr;
  index_t K = 0;
  index_t V = 0;

  T* row(index_t d) const noexcept { return data + d * V; }
  MatrixMap<T> matrix() const noexcept { return {data, K, V, Eigen::OuterStride<>(V)}; }
};

}  // namespace sse
