#pragma once

/// \file
/// The tensors of the SSE operator (DESIGN.md section 3):
///
///   q1, k1  [B,T,H,K]   shared branch            q2, k2  [B,T,H,K]   partition branch
///   v       [B,T,H,V]   one value for both        eta     [B,T,N]     router logits
///   g1, g2  [B,T,H,K] (GLA) or [B,T,H] (GDN)      beta1, beta2 [B,T,H] (GDN)
///   h0      [S,1+N,H,K,V] optional initial states (index 0 shared, 1..N partitions)
///
/// T is the element type of q, k, v, g and beta: float, double or bfloat16. States (h0, and
/// ht and o in SseOutputs) are in compute_t<T>: float for bfloat16 inputs.
///   cu_seqlens [S+1] optional packed sequences (B = 1)
///   state_slots [S] optional: h0 and ht are then pools [P,1+N,H,K,V] and sequence s uses
///           slot state_slots[s] (distinct slots in [0, P)), as a serving engine keeps states

#include <cstdint>

#include "sse/core/bfloat16.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/rules/rule_traits.hpp"

namespace sse {

template <class Rule, class T = float>
struct SseInputs {
  TensorView<const T, 4> q1, k1;                  // [B,T,H,K] shared branch
  TensorView<const T, 4> q2, k2;                  // [B,T,H,K] partition branch
  TensorView<const T, 4> v;                       // [B,T,H,V]
  TensorView<const T, gate_rank_v<Rule>> g1, g2;  // [B,T,H,K] or [B,T,H]
  TensorView<const T, 3> beta1, beta2;            // [B,T,H], rules with beta only
  TensorView<const float, 3> eta;                 // [B,T,N] router logits (float32)
  TensorView<const compute_t<T>, 5> h0;           // [S or P,1+N,H,K,V], optional
  TensorView<const std::int64_t, 1> cu_seqlens;   // [S+1], optional
  TensorView<const std::int64_t, 1> state_slots;  // [S], optional: h0/ht are state pools
};

/// The sizes of one operator call, read from its inputs: S is the number of sequences (B, or
/// the packed sequences of cu_seqlens). A state pool's size is not among them: it is the
/// leading extent of h0 or ht.
struct SseDims {
  index_t B = 0, T = 0, H = 0, K = 0, V = 0, N = 0, S = 0;
};

template <class Rule, class T>
SseDims sse_dims(const SseInputs<Rule, T>& in) noexcept {
  SseDims d;
  d.B = in.q1.extent(0);
  d.T = in.q1.extent(1);
  d.H = in.q1.extent(2);
  d.K = in.q1.extent(3);
  d.V = in.v.extent(3);
  d.N = in.eta.extent(2);
  d.S = in.cu_seqlens.present() ? in.cu_seqlens.extent(0) - 1 : d.B;
  return d;
}

}  // namespace sse
