#pragma once

// Prefill then decode, the way a serving loop calls a layer or a model: rows [0, P) of every
// sequence in one call, then one row per call up to T; the outputs laid out as one call's.

#include <algorithm>
#include <vector>

#include "sse/core/shape.hpp"

namespace sse::test {

/// x is [B, T, in_width]; `forward(xs, count, ys)` maps xs [B, count, in_width] to
/// ys [B, count, out_width] (ys is sized by the caller here). Returns [B, T, out_width].
template <class In, class Forward>
std::vector<float> prefill_then_decode(const std::vector<In>& x, index_t B, index_t T,
                                       index_t in_width, index_t out_width, index_t P,
                                       Forward&& forward) {
  std::vector<float> out(std::size_t(B * T * out_width));
  auto run = [&](index_t from, index_t count) {
    std::vector<In> xs(std::size_t(B * count * in_width));
    std::vector<float> ys(std::size_t(B * count * out_width));
    for (index_t b = 0; b < B; ++b) {
      std::copy_n(x.data() + (b * T + from) * in_width, count * in_width,
                  xs.data() + b * count * in_width);
    }
    forward(xs, count, ys);
    for (index_t b = 0; b < B; ++b) {
      std::copy_n(ys.data() + b * count * out_width, count * out_width,
                  out.data() + (b * T + from) * out_width);
    }
  };
  run(0, P);
  for (index_t t = P; t < T; ++t) run(t, 1);
  return out;
}

}  // namespace sse::test
