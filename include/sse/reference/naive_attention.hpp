#pragma once

/// \file
/// The float64 oracle of causal softmax attention (attention/softmax_attention.hpp): for each
/// query, the scores against every visible key, a softmax, the weighted sum of values. Inputs
/// are assumed valid.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "sse/attention/softmax_attention_inputs.hpp"

namespace sse::reference {

/// o [B,T,HQ,DV] in C order, in double.
template <class T>
std::vector<double> softmax_attention(const SoftmaxAttentionInputs<T>& in,
                                      const SoftmaxAttentionOptions& options = {}) {
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  const double scale = options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.D)));
  std::vector<double> o(static_cast<std::size_t>(d.B * d.T * d.HQ * d.DV), 0.0);
  for (index_t b = 0; b < d.B; ++b) {
    const index_t offset = in.offsets.present() ? in.offsets(b) : 0;
    for (index_t t = 0; t < d.T; ++t) {
      const index_t pos = offset + t;
      const index_t first = options.window > 0 ? std::max<index_t>(0, pos - options.window + 1) : 0;
      for (index_t h = 0; h < d.HQ; ++h) {
        const index_t kv = h / (d.HQ / d.HKV);
        std::vector<double> score(static_cast<std::size_t>(pos + 1 - first));
        for (index_t j = first; j <= pos; ++j) {
          double dot = 0;
          for (index_t c = 0; c < d.D; ++c)
            dot += double(in.q(b, t, h, c)) * double(in.k(b, j, kv, c));
          score[static_cast<std::size_t>(j - first)] = dot * scale;
        }
        const double largest = *std::max_element(score.begin(), score.end());
        double sum = 0;
        for (double& x : score) sum += (x = std::exp(x - largest));
        for (index_t j = first; j <= pos; ++j) {
          const double p = score[static_cast<std::size_t>(j - first)] / sum;
          for (index_t c = 0; c < d.DV; ++c) {
            o[static_cast<std::size_t>(((b * d.T + t) * d.HQ + h) * d.DV + c)] +=
                p * double(in.v(b, j, kv, c));
          }
        }
      }
    }
  }
  return o;
}

}  // namespace sse::reference
