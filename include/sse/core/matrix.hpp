#pragma once

/// \file
/// Eigen's row-major matrices and maps over existing memory, as every part of sse uses them
/// (states, projections, attention tiles).

#include <Eigen/Core>

#include "sse/config.hpp"  // first: its guard for GCC 12's AVX-512 intrinsics

namespace sse {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A dynamic-size row-major matrix over existing memory with a run-time row stride.
template <class T>
using MatrixMap = Eigen::Map<RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>, Eigen::Unaligned, Eigen::OuterStride<>>;

}  // namespace sse
