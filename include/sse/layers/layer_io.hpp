#pragma once

/// \file
/// The checks every layer's `forward` makes on its input, output and cache: x and y contiguous
/// [B,T,D] of the layer's width, and a cache made for the batch; and those of a speculative
/// commit's kept counts.

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

/// Throws sse::invalid_argument unless a verify of `verified` tokens per sequence awaits a
/// commit and kept [batch] keeps 1 to `verified` of them in every sequence.
inline void check_commit(TensorView<const index_t, 1> kept, index_t batch, index_t verified) {
  if (verified == 0) report_invalid_argument("commit: no verify awaits a commit");
  if (kept.extent(0) != batch) {
    report_invalid_argument("kept: expected shape [B] = [" + std::to_string(batch) + "], got [" +
                            std::to_string(kept.extent(0)) + "]");
  }
  for (index_t b = 0; b < batch; ++b) {
    if (kept(b) < 1 || kept(b) > verified) {
      report_invalid_argument("kept: sequence " + std::to_string(b) + " keeps " +
                              std::to_string(kept(b)) + " of its " + std::to_string(verified) +
                              " verified tokens; expected 1 to " + std::to_string(verified));
    }
  }
}

/// Throws sse::invalid_argument unless a verify's input has at least one token per sequence.
inline void check_verify_tokens(index_t tokens) {
  if (tokens < 1) {
    report_invalid_argument("x: a verify takes at least one token per sequence, got T = " +
                            std::to_string(tokens));
  }
}

}  // namespace sse::detail
