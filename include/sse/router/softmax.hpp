#pragma once

/// \file
/// Softmax over one row of router logits (DESIGN.md section 2), in float32 as upstream computes
/// it: p_n = exp(eta_n - max) / sum_m exp(eta_m - max). A -inf logit gets probability 0.

#include <cmath>
#include <cstddef>

namespace sse {

/// p = softmax(logits) over n entries. Precondition: no NaN or +inf, at least one finite logit.
inline void softmax_row(const float* logits, float* p, std::size_t n) noexcept {
  float max = logits[0];
  for (std::size_t i = 1; i < n; ++i) max = logits[i] > max ? logits[i] : max;
  float sum = 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    p[i] = std::exp(logits[i] - max);  // exp(-inf) = 0
    sum += p[i];
  }
  const float inv = 1.0f / sum;
  for (std::size_t i = 0; i < n; ++i) p[i] *= inv;
}

}  // namespace sse
