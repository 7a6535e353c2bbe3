#pragma once

/// \file
/// `StateView<T>`: one K x V recurrent state S (rows are key channels), contiguous row-major.

#include "sse/core/matrix.hpp"
#include "sse/core/shape.hpp"

namespace sse {

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
