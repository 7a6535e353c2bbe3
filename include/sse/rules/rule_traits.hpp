#pragma once

/// \file
/// What an update rule policy provides, and the per-token / per-chunk data it is handed.
///
/// A rule (GlaRule, GdnRule) is a stateless struct describing itself:
///   kName                 "gla" / "gdn"
///   kPerKeyDecay          true: g is [B,T,H,K] (one log decay per key channel); false: [B,T,H]
///   kHasBeta              whether the rule takes beta [B,T,H]
///   kDefaultQkL2norm      the spec's default for qk_l2norm (also how upstream's layer runs it)
///   kDecayFollowsReaders  SSE masks: a partition's decay (and beta) is kept where the token
///                         reads it (GDN) or where it writes it (GLA)
///   kRowSparseKeys        whether it offers the row-level sparse update (step_rows)
///   StepScratch<T>, steps(...)    the recurrent form: up to kStepTokens consecutive tokens
///                                 in one pass over the state, bit for bit as one at a time
///   ChunkScratch<T>, chunk<C>(...) the chunkwise-parallel form: up to C tokens
/// Kernels (kernels/recurrent.hpp, kernels/chunked.hpp) loop over tokens and chunks and ask the
/// rule for the math; they never test which rule they run.

#include <type_traits>

#include "sse/core/shape.hpp"

namespace sse {

/// Rows of one head over consecutive tokens: row t at data + t * stride.
template <class T>
struct Rows {
  T* data = nullptr;
  index_t stride = 0;
  T* row(index_t t) const noexcept { return data + t * stride; }
};

/// Tokens a recurrent step takes in one pass over the state (`Rule::steps`): enough for a
/// speculative verify (a few drafts) and for a partition's short runs; longer sequences are
/// taken kStepTokens at a time.
inline constexpr index_t kStepTokens = 8;

/// One token of one head, as a rule's recurrent step sees it: its inputs and its output row.
/// q is already multiplied by `scale` (and q, k L2-normalised when qk_l2norm is on).
template <class T>
struct StepToken {
  const T* q;     // [K]
  const T* k;     // [K]
  const T* v;     // [V]
  const T* g;     // [K] (per-key decay) or [1]
  const T* beta;  // [1], or nullptr for rules without beta
  T* o;           // [V]
};

/// Up to C consecutive tokens of one head, as a rule's chunked form sees them.
template <class T>
struct ChunkInputs {
  index_t L;           // tokens in this chunk, 1 <= L <= C
  const T* q;          // [L, K] contiguous, scaled (and normalised)
  const T* k;          // [L, K] contiguous (normalised)
  Rows<const T> v;     // [L, V]
  Rows<const T> g;     // [L, K] or [L, 1]
  Rows<const T> beta;  // [L, 1], data null for rules without beta
  Rows<T> o;           // [L, V] outputs, written (not accumulated)
};

namespace detail {
template <class...>
inline constexpr bool dependent_false_v = false;
}  // namespace detail

/// Whether R describes itself as an update rule.
template <class R, class = void>
struct is_update_rule : std::false_type {};
template <class R>
struct is_update_rule<R,
                      std::void_t<decltype(R::kName), decltype(R::kPerKeyDecay),
                                  decltype(R::kHasBeta), decltype(R::kDefaultQkL2norm),
                                  decltype(R::kDecayFollowsReaders), decltype(R::kRowSparseKeys)>>
    : std::true_type {};
template <class R>
inline constexpr bool is_update_rule_v = is_update_rule<R>::value;

/// The rank of a rule's gate tensor g: [B,T,H,K] or [B,T,H].
template <class Rule>
inline constexpr std::size_t gate_rank_v = Rule::kPerKeyDecay ? 4 : 3;

}  // namespace sse
