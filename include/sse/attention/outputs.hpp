#pragma once

/// \file
/// Where the SSE operator writes (DESIGN.md section 3):
///
///   o        [B,T,H,V]        required
///   ht       [S,1+N,H,K,V]    optional final states (or a pool [P,1+N,H,K,V] with state_slots);
///                             may be the very buffer of h0 (update in place)
///   routing  p [B,T,N], writer_ids [B,T,KW], reader_ids [B,T,KR]: optional, all or none; the
///            routing the operator used, for analysis or a load-balancing loss

#include "sse/core/tensor_view.hpp"
#include "sse/router/router.hpp"

namespace sse {

template <class T = float>
struct SseOutputs {
  TensorView<T, 4> o;   // [B,T,H,V]
  TensorView<T, 5> ht;  // [S or P,1+N,H,K,V], optional
  RoutingView routing;  // optional: all three views or none
};

}  // namespace sse
