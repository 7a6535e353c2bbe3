#pragma once

/// \file
/// `Bf16SseInputs<Rule>`: a bfloat16 copy of float32 operator inputs (q, k, v, g, beta rounded
/// to nearest even; eta, h0, cu_seqlens and state_slots shared, as they stay float32 or
/// integer). For running the bf16 path on data held in float32 (tools, benchmarks, checking
/// the bf16 path against float32); an engine with bf16 activations builds SseInputs<Rule,
/// bfloat16> over its own tensors instead.

#include <array>
#include <cstddef>
#include <vector>

#include "sse/attention/inputs.hpp"
#include "sse/core/bfloat16.hpp"
#include "sse/core/tensor_view.hpp"

namespace sse {

template <class Rule>
class Bf16SseInputs {
 public:
  explicit Bf16SseInputs(const SseInputs<Rule, float>& in) {
    inputs_.q1 = narrowed(in.q1, storage_[0]);
    inputs_.k1 = narrowed(in.k1, storage_[1]);
    inputs_.q2 = narrowed(in.q2, storage_[2]);
    inputs_.k2 = narrowed(in.k2, storage_[3]);
    inputs_.v = narrowed(in.v, storage_[4]);
    inputs_.g1 = narrowed(in.g1, storage_[5]);
    inputs_.g2 = narrowed(in.g2, storage_[6]);
    inputs_.beta1 = narrowed(in.beta1, storage_[7]);
    inputs_.beta2 = narrowed(in.beta2, storage_[8]);
    inputs_.eta = in.eta;
    inputs_.h0 = in.h0;
    inputs_.cu_seqlens = in.cu_seqlens;
    inputs_.state_slots = in.state_slots;
  }
  Bf16SseInputs(const Bf16SseInputs&) = delete;  // the views point into this object
  Bf16SseInputs& operator=(const Bf16SseInputs&) = delete;

  const SseInputs<Rule, bfloat16>& inputs() const noexcept { return inputs_; }

 private:
  /// A contiguous (C order) bf16 copy of `view`; an absent view stays absent.
  template <std::size_t Rank>
  static TensorView<const bfloat16, Rank> narrowed(const TensorView<const float, Rank>& view,
                                                   std::vector<bfloat16>& storage) {
    if (!view.present()) return {};
    const auto count = static_cast<std::size_t>(view.size());
    storage.resize(count > 0 ? count : 1);  // a non-null pointer also for an empty tensor
    std::array<index_t, Rank> index{};
    for (std::size_t i = 0; i < count; ++i) {
      storage[i] = bfloat16::from_float(*view.at(index));
      for (std::size_t d = Rank; d-- > 0;) {  // next index in C order
        if (++index[d] < view.extent(d)) break;
        index[d] = 0;
      }
    }
    return {storage.data(), view.extents()};
  }

  std::array<std::vector<bfloat16>, 9> storage_;
  SseInputs<Rule, bfloat16> inputs_;
};

}  // namespace sse
