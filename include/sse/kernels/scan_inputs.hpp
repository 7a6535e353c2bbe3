#pragma once

/// \file
/// The tensors of a scan (one base recurrence over a batch, DESIGN.md section 1) and the sizes
/// read from them:
///
///   inputs   q, k [B,T,H,K]; v [B,T,H,V]; g [B,T,H,K] (GLA) or [B,T,H] (GDN); beta [B,T,H]
///            (GDN); optional h0 [S,H,K,V]; optional cu_seqlens [S+1] (B = 1, packed)
///   outputs  o [B,T,H,V]; optional ht [S,H,K,V] (may be the very buffer of h0: in place)

#include <cstdint>

#include "sse/core/tensor_view.hpp"
#include "sse/rules/rule_traits.hpp"

namespace sse {

template <class Rule, class T = float>
struct ScanInputs {
  TensorView<const T, 4> q;                      // [B,T,H,K]
  TensorView<const T, 4> k;                      // [B,T,H,K]
  TensorView<const T, 4> v;                      // [B,T,H,V]
  TensorView<const T, gate_rank_v<Rule>> g;      // [B,T,H,K] (GLA) or [B,T,H] (GDN)
  TensorView<const T, 3> beta;                   // [B,T,H], rules with beta only
  TensorView<const T, 4> h0;                     // [S,H,K,V], optional (zero state)
  TensorView<const std::int64_t, 1> cu_seqlens;  // [S+1], optional
};

template <class T = float>
struct ScanOutputs {
  TensorView<T, 4> o;   // [B,T,H,V]
  TensorView<T, 4> ht;  // [S,H,K,V], optional
};

/// The sizes of a scan, read from its inputs.
struct ScanDims {
  index_t B = 0, T = 0, H = 0, K = 0, V = 0, S = 0;
};

template <class Rule, class T>
ScanDims scan_dims(const ScanInputs<Rule, T>& in) noexcept {
  ScanDims d;
  d.B = in.q.extent(0);
  d.T = in.q.extent(1);
  d.H = in.q.extent(2);
  d.K = in.q.extent(3);
  d.V = in.v.extent(3);
  d.S = in.cu_seqlens.present() ? in.cu_seqlens.extent(0) - 1 : d.B;
  return d;
}

}  // namespace sse
