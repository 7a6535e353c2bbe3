#pragma once

/// \file
/// The float64 oracles of causal softmax attention (attention/softmax_attention.hpp) and of
/// MoBA attention (attention/moba_attention.hpp): for each query, the scores against every
/// visible key, a softmax, the weighted sum of values. Inputs are assumed valid.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <optional>
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

/// o [B,T,HQ,DV] in C order, in double: MoBA attention (attention/moba_attention.hpp) of a
/// prefill, as upstream's moba_naive.py defines it: per query, the gates against the mean key
/// of every earlier block, its own block and the topk - 1 earlier blocks with the largest
/// gates (ties to the lower block), then softmax over the causal keys of the chosen blocks.
template <class T>
std::vector<double> moba_attention(const SoftmaxAttentionInputs<T>& in, index_t chunk, index_t topk,
                                   std::optional<double> scale_option = {}) {
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  const double scale = scale_option.value_or(1.0 / std::sqrt(static_cast<double>(d.D)));
  const index_t blocks = (d.T + chunk - 1) / chunk;
  std::vector<double> o(static_cast<std::size_t>(d.B * d.T * d.HQ * d.DV), 0.0);
  for (index_t b = 0; b < d.B; ++b) {
    for (index_t h = 0; h < d.HQ; ++h) {
      const index_t kv = h / (d.HQ / d.HKV);
      // kbar_j: the mean key of block j.
      std::vector<double> kbar(static_cast<std::size_t>(blocks * d.D), 0.0);
      for (index_t j = 0; j < blocks; ++j) {
        const index_t first = j * chunk, last = std::min(d.T, first + chunk);
        for (index_t t = first; t < last; ++t) {
          for (index_t c = 0; c < d.D; ++c) kbar[j * d.D + c] += double(in.k(b, t, kv, c));
        }
        for (index_t c = 0; c < d.D; ++c) kbar[j * d.D + c] /= double(last - first);
      }
      for (index_t t = 0; t < d.T; ++t) {
        const index_t own = t / chunk;
        std::vector<double> gate(static_cast<std::size_t>(own), 0.0);
        for (index_t j = 0; j < own; ++j) {
          for (index_t c = 0; c < d.D; ++c) gate[j] += double(in.q(b, t, h, c)) * kbar[j * d.D + c];
        }
        std::vector<bool> chosen(static_cast<std::size_t>(own + 1), false);
        chosen[own] = true;
        for (index_t pick = 0; pick < std::min(topk - 1, own); ++pick) {
          index_t best = -1;
          for (index_t j = 0; j < own; ++j) {
            if (!chosen[j] && (best < 0 || gate[j] > gate[best])) best = j;
          }
          chosen[best] = true;
        }
        std::vector<double> score(static_cast<std::size_t>(t + 1), 0.0);
        double largest = -1e300, sum = 0;
        for (index_t j = 0; j <= t; ++j) {
          if (!chosen[j / chunk]) continue;
          double dot = 0;
          for (index_t c = 0; c < d.D; ++c)
            dot += double(in.q(b, t, h, c)) * double(in.k(b, j, kv, c));
          largest = std::max(largest, score[j] = dot * scale);
        }
        for (index_t j = 0; j <= t; ++j) {
          if (chosen[j / chunk]) sum += (score[j] = std::exp(score[j] - largest));
        }
        for (index_t j = 0; j <= t; ++j) {
          if (!chosen[j / chunk]) continue;
          for (index_t c = 0; c < d.DV; ++c) {
            o[static_cast<std::size_t>(((b * d.T + t) * d.HQ + h) * d.DV + c)] +=
                score[j] / sum * double(in.v(b, j, kv, c));
          }
        }
      }
    }
  }
  return o;
}

}  // namespace sse::reference
