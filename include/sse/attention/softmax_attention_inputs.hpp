#pragma once

/// \file
/// The tensors and options of causal softmax attention (attention/softmax_attention.hpp) and
/// the sizes read from them: q [B,T,HQ,D], k [B,L,HKV,D], v [B,L,HKV,DV], optional offsets [B].

#include <cstdint>
#include <optional>

#include "sse/core/shape.hpp"
#include "sse/core/tensor_view.hpp"

namespace sse {

template <class T = float>
struct SoftmaxAttentionInputs {
  TensorView<const T, 4> q;                   // [B,T,HQ,D]
  TensorView<const T, 4> k;                   // [B,L,HKV,D]
  TensorView<const T, 4> v;                   // [B,L,HKV,DV]
  TensorView<const std::int64_t, 1> offsets;  // [B], optional
};

struct SoftmaxAttentionOptions {
  /// Multiplies q k; absent means D^-1/2.
  std::optional<double> scale;
  /// W > 0: each query sees its W most recent keys (its own included); 0: every earlier key.
  index_t window = 0;
};

/// The sizes of one call, read from its inputs.
struct SoftmaxAttentionDims {
  index_t B = 0, T = 0, HQ = 0, D = 0, L = 0, HKV = 0, DV = 0;
};

template <class T>
SoftmaxAttentionDims softmax_attention_dims(const SoftmaxAttentionInputs<T>& in) noexcept {
  return {in.q.extent(0), in.q.extent(1), in.q.extent(2), in.q.extent(3),
          in.k.extent(1), in.k.extent(2), in.v.extent(3)};
}

}  // namespace sse
