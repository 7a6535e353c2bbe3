#pragma once

/// \file
/// `HeadSequence<T>`: what one scan task works on, the rows of one head over one sequence,
/// and the per-token preparation of q and k shared by every schedule.

#include <cstddef>

#include "sse/rules/row_sparse_key.hpp"
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
  /// r > 0: the row-level sparse update (DESIGN.md section 2b); k rows hold key logits.
  index_t key_rows = 0;
  /// With key_rows: a factor per token on the sparse key ([length, 1]; absent means 1). The SSE
  /// partition branch passes p_n (emulk) or 0 (not written).
  Rows<const T> key_scale;
};

/// q_out = scale * q', where ' is the L2 normalisation when `qk_l2norm` is on.
template <class Arch, class T>
inline void prepare_query(Arch arch, const HeadSequence<T>& seq, index_t t, T* q_out) noexcept {
  const auto K = static_cast<std::size_t>(seq.K);
  if (seq.qk_l2norm) {
    simd::l2_normalize_scaled(arch, seq.scale, static_cast<T>(kQkL2normEps), seq.q.row(t), q_out,
                              K);
  } else {
    simd::scale(arch, seq.scale, seq.q.row(t), q_out, K);
  }
}

/// q_out = scale * q' and k_out = k', where ' is the L2 normalisation when `qk_l2norm` is on.
template <class Arch, class T>
inline void prepare_query_key(Arch arch, const HeadSequence<T>& seq, index_t t, T* q_out,
                              T* k_out) noexcept {
  const auto K = static_cast<std::size_t>(seq.K);
  prepare_query(arch, seq, t, q_out);
  if (seq.qk_l2norm) {
    simd::l2_normalize_scaled(arch, T(1), static_cast<T>(kQkL2normEps), seq.k.row(t), k_out, K);
  } else {
    simd::scale(arch, T(1), seq.k.row(t), k_out, K);
  }
}

/// With key_rows = r: token t's sparse key from its logits, times its key scale, normalised
/// when `qk_l2norm` is on.
template <class T>
inline void prepare_sparse_key(const HeadSequence<T>& seq, index_t t,
                               RowSparseKey<T> key) noexcept {
  const T key_scale = seq.key_scale.data != nullptr ? *seq.key_scale.row(t) : T(1);
  select_key_rows(seq.k.row(t), seq.K, key_scale, key);
  if (seq.qk_l2norm) l2_normalize_key(key, static_cast<T>(kQkL2normEps));
}

}  // namespace sse
