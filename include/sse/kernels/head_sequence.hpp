#pragma once

/// \file
/// `HeadSequence<T>`: what one scan task works on, the rows of one head over one sequence,
/// and the per-token preparation of q and k shared by every schedule.

#include <cstddef>

#include "sse/rules/rule_traits.hpp"
#include "sse/simd/row_ops.hpp"

namespace sse {

/// The spec's epsilon of the q/k L2 normalisation: x / sqrt(|x|^2 + 1e-6).
inline constexpr double kQkL2normEps = 1e-6;

/// One (sequence, head) of a scan: `length` tokens, row t of each tensor at row(t).
template <class T>
struct HeadSequence {
  index_t length = 0;
  index_t K = 0;
  index_t V = 0;
  Rows<const T> q;     // [length, K]
  Rows<const T> k;     // [length, K]
  Rows<const T> v;     // [length, V]
  Rows<const T> g;     // [length, K] or [length, 1]
  Rows<const T> beta;  // [length, 1] or absent
  Rows<T> o;           // [length, V]
  T scale = T(1);
  bool qk_l2norm = false;
};

/// q_out = scale * q' and k_out = k', where ' is the L2 normalisation when `qk_l2norm` is on.
template <class Arch, class T>
inline void prepare_query_key(Arch arch, const HeadSequence<T>& seq, index_t t, T* q_out,
                              T* k_out) noexcept {
  const auto K = static_cast<std::size_t>(seq.K);
  if (seq.qk_l2norm) {
    const T eps = static_cast<T>(kQkL2normEps);
    simd::l2_normalize_scaled(arch, seq.scale, eps, seq.q.row(t), q_out, K);
    simd::l2_normalize_scaled(arch, T(1), eps, seq.k.row(t), k_out, K);
  } else {
    simd::scale(arch, seq.scale, seq.q.row(t), q_out, K);
    simd::scale(arch, T(1), seq.k.row(t), k_out, K);
  }
}

}  // namespace sse
