#pragma once

/// \file
/// One (sequence, head) task of a recurrence, as the scan and the SSE operator's branches run
/// it: the state it starts from, its head sequence over [B,T,H,...] tensors, its scratch, and
/// the kernel its mode chooses.

#include <algorithm>
#include <cstddef>

#include "sse/core/sequences.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/core/workspace.hpp"
#include "sse/kernels/chunked.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/mode.hpp"
#include "sse/kernels/recurrent.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/rules/rule_traits.hpp"
#include "sse/state/state.hpp"

namespace sse::detail {

/// What every head sequence of one call shares.
template <class T>
struct HeadSettings {
  T scale = T(1);
  bool qk_l2norm = false;
  index_t key_rows = 0;  // DESIGN.md section 2b; 0: dense keys
};

/// The state a task starts from: `ht` (its slot of the output states; scratch when the call
/// has none) holding `h0` (its slot of the initial states), or zeros when h0 is null.
template <class T>
StateView<T> begin_state(T* ht, const T* h0, index_t K, index_t V, ScratchArena& arena) noexcept {
  const auto elements = static_cast<std::size_t>(K * V);
  T* state = ht != nullptr ? ht : arena.take<T>(elements);
  if (h0 == nullptr) {
    std::fill(state, state + elements, T(0));
  } else if (h0 != state) {
    std::copy(h0, h0 + elements, state);
  }
  return {state, K, V};
}

/// Head h of `span` in [B,T,H,...] tensors: q, k [.., K], v [.., V], g [.., K] or [..], beta
/// [..] (absent for rules without it), and the output rows o [.., V].
template <class Rule, class T>
HeadSequence<T> tensor_head_sequence(const TensorView<const T, 4>& q,
                                     const TensorView<const T, 4>& k,
                                     const TensorView<const T, 4>& v,
                                     const TensorView<const T, gate_rank_v<Rule>>& g,
                                     const TensorView<const T, 3>& beta, const TensorView<T, 4>& o,
                                     SequenceSpan span, index_t h,
                                     const HeadSettings<T>& settings) noexcept {
  const index_t b = span.batch, t0 = span.begin;
  HeadSequence<T> seq;
  seq.length = span.length();
  seq.K = q.extent(3);
  seq.V = v.extent(3);
  seq.q = {q.at(b, t0, h), q.stride(1)};
  seq.k = {k.at(b, t0, h), k.stride(1)};
  seq.v = {v.at(b, t0, h), v.stride(1)};
  seq.g = {g.at(b, t0, h), g.stride(1)};
  if (beta.present()) seq.beta = {beta.at(b, t0, h), beta.stride(1)};
  seq.o = {o.at(b, t0, h), o.stride(1)};
  seq.scale = settings.scale;
  seq.qk_l2norm = settings.qk_l2norm;
  seq.key_rows = settings.key_rows;
  return seq;
}

/// Scratch bytes of one task: the larger kernel's, plus the state when the call writes no ht.
template <class Rule, index_t C, class T>
std::size_t head_task_bytes(index_t K, index_t V, bool has_ht) noexcept {
  std::size_t bytes = std::max(ScanKernel<Rule, Recurrent>::template scratch_bytes<T>(K, V),
                               ScanKernel<Rule, Chunked<C>>::template scratch_bytes<T>(K, V));
  if (!has_ht) bytes += ScratchArena::round_up(sizeof(T) * K * V);
  return bytes;
}

/// Runs `seq` from `state` with the form `mode` picks for a recurrence over `tokens` tokens (a
/// partition branch feeds its tokens in blocks, each block a sequence of its own).
template <class Rule, index_t C, class Arch, class T>
void run_head_kernel(Arch arch, Mode mode, index_t tokens, const HeadSequence<T>& seq,
                     StateView<T> state, ScratchArena arena) noexcept {
  if (uses_chunked_form(mode, tokens)) {
    ScanKernel<Rule, Chunked<C>>::run(arch, seq, state, arena);
  } else {
    ScanKernel<Rule, Recurrent>::run(arch, seq, state, arena);
  }
}

}  // namespace sse::detail
