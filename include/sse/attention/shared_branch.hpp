#pragma once

/// \file
/// The shared branch of the SSE operator (DESIGN.md section 3): state 0 of each (sequence,
/// head) runs the base recurrence on (q1, k1, v, g1[, beta1]) over every token and writes o
/// directly. bfloat16 inputs are widened C tokens at a time on the float path's chunk
/// boundaries, so they give the float result on the rounded values.

#include <algorithm>
#include <cstddef>
#include <type_traits>

#include "sse/attention/sse_call.hpp"
#include "sse/core/bfloat16.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/workspace.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/head_task.hpp"
#include "sse/state/state.hpp"

namespace sse::detail {

/// State 0 of (s, h) for inputs not in the compute type (bfloat16): the rows of C tokens at a
/// time widened into float blocks, then the same kernel (and the same chunk boundaries) as
/// float inputs take; o written directly.
template <class Rule, index_t C, class Arch, class In>
void run_shared_branch_widened(Arch arch, const SseCall<Rule, In>& call, index_t s, index_t h,
                               StateView<compute_t<In>> state, ScratchArena arena) noexcept {
  using T = compute_t<In>;
  const SequenceSpan span = call.sequences[s];
  const SseDims& d = call.d;
  const auto& in = call.in;
  const index_t b = span.batch;
  const index_t gate_width = Rule::kPerKeyDecay ? d.K : 1;
  const PartitionBlock<T> block(arena, C, d.K, d.V, gate_width);
  const auto K = static_cast<std::size_t>(d.K), V = static_cast<std::size_t>(d.V);
  for (index_t t0 = span.begin; t0 < span.end; t0 += C) {
    const index_t L = std::min(C, span.end - t0);
    for (index_t i = 0; i < L; ++i) {
      widen(in.q1.at(b, t0 + i, h), block.q + i * d.K, K);
      widen(in.k1.at(b, t0 + i, h), block.k + i * d.K, K);
      widen(in.v.at(b, t0 + i, h), block.v + i * d.V, V);
      widen(in.g1.at(b, t0 + i, h), block.g + i * gate_width, static_cast<std::size_t>(gate_width));
      if constexpr (Rule::kHasBeta) block.beta[i] = to_compute(in.beta1(b, t0 + i, h));
    }
    const HeadSequence<T> seq =
        block_sequence(call, block, L, {call.out.o.at(b, t0, h), call.out.o.stride(1)});
    run_head_kernel<Rule, C>(arch, call.mode, span.length(), seq, state, arena);
  }
}

/// State 0 of (s, h) for inputs in the compute type: the kernel reads the tensors in place.
template <class Rule, index_t C, class Arch, class T>
void run_shared_branch_direct(Arch arch, const SseCall<Rule, T>& call, SequenceSpan span, index_t h,
                              StateView<T> state, ScratchArena arena) noexcept {
  const auto& in = call.in;
  const HeadSequence<T> seq = tensor_head_sequence<Rule>(in.q1, in.k1, in.v, in.g1, in.beta1,
                                                         call.out.o, span, h, call.settings);
  run_head_kernel<Rule, C>(arch, call.mode, seq.length, seq, state, arena);
}

/// State 0 of (s, h): the base recurrence over every token, o written directly.
template <class Rule, index_t C, class Arch, class In>
void run_shared_branch(Arch arch, const SseCall<Rule, In>& call, index_t s, index_t h,
                       ScratchArena arena) noexcept {
  using T = compute_t<In>;
  const SequenceSpan span = call.sequences[s];
  const StateView<T> state = call.begin_state(s, 0, h, arena);
  if (span.length() == 0) return;
  if constexpr (!std::is_same_v<In, T>) {
    run_shared_branch_widened<Rule, C>(arch, call, s, h, state, arena);
  } else {
    run_shared_branch_direct<Rule, C>(arch, call, span, h, state, arena);
  }
}

}  // namespace sse::detail
