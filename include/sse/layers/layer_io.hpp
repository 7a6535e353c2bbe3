#pragma once

/// \file
/// The checks every layer's `forward` makes on its input, output and cache: x and y contiguous
/// [B,T,D] of the layer's width, and a cache made for the batch.

#include <string>

#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"

namespace sse::detail {

/// Throws sse::invalid_argument unless x and y are contiguous [B,T,hidden] and, when a cache is
/// given (cache_batch >= 0), it was made for B sequences.
inline void check_layer_io(TensorView<const float, 3> x, TensorView<float, 3> y, index_t hidden,
                           index_t cache_batch) {
  if (x.extent(2) != hidden || !x.is_row_major_contiguous()) {
    report_invalid_argument("x: expected a contiguous [B,T,D] with D = " + std::to_string(hidden) +
                            ", got " + format_shape(x.extents()));
  }
  if (y.extents() != x.extents() || !y.is_row_major_contiguous()) {
    report_invalid_argument("y: expected a contiguous " + format_shape(x.extents()) + ", got " +
                            format_shape(y.extents()));
  }
  if (cache_batch >= 0 && cache_batch != x.extent(0)) {
    report_invalid_argument("cache: made for " + std::to_string(cache_batch) +
                            " sequences, the input has B = " + std::to_string(x.extent(0)));
  }
}

}  // namespace sse::detail
