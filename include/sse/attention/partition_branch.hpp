#pragma once

/// \file
/// The partition branches of the SSE operator and the output sum (DESIGN.md section 3):
///
///   partition branch  state n (1..N) runs the recurrence over the tokens its path selects,
///                     with the partition's masks applied, gathered C tokens at a time into
///                     contiguous blocks; the rows it reads go to `partial[token, rank, h]`,
///                     rank being n's place among the token's readers;
///   output sum        o[token, h] += partial[token, 0..KR-1, h], in rank order (fixed, so the
///                     result does not depend on which thread ran which branch).
///
/// The path is a policy: `Selection::for_each_token(call, s, partition, fn, prefetch)` walks
/// the tokens that enter a partition's recurrence and `Selection::count` counts them
/// (attention/masked_selection.hpp: every token; attention/sparse_selection.hpp: its routed
/// tokens, bucketed once per call).

#include <algorithm>
#include <cstddef>

#include "sse/attention/sse_call.hpp"
#include "sse/core/bfloat16.hpp"
#include "sse/core/prefetch.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/workspace.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/head_task.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/state/state.hpp"

namespace sse::detail {

/// State n (1..N) of (s, h) over the tokens `Selection` admits, with the masks of DESIGN.md
/// section 3: k = k2 p_n on writes (emulk), q = q2 p_n on reads (emulq), zero otherwise; the
/// decay (and beta) kept where the rule's mask set holds the partition, zero (frozen) elsewhere.
template <class Rule, index_t C, class Selection, class Arch, class In>
void run_partition_branch(Arch arch, const SseCall<Rule, In>& call, index_t s, index_t h, index_t n,
                          ScratchArena arena) noexcept {
  using T = compute_t<In>;
  const SequenceSpan span = call.sequences[s];
  const index_t partition = n - 1;  // the router's 0-based id
  const index_t b = span.batch;
  const index_t tokens = Selection::count(call, s, partition);
  const bool in_place = call.out.ht.present() && call.in.h0.present() &&
                        call.in.h0.at(call.slot(s), n, h) == call.out.ht.at(call.slot(s), n, h);
  if (tokens == 0) {  // untouched: ht gets h0 (or zeros), an in-place state is not even read
    if (call.out.ht.present() && !in_place) call.begin_state(s, n, h, arena);
    return;
  }
  const StateView<T> state = call.begin_state(s, n, h, arena);
  const SseDims& d = call.d;
  const auto& in = call.in;
  const index_t gate_width = Rule::kPerKeyDecay ? d.K : 1;
  const PartitionBlock<T> block(arena, C, d.K, d.V, gate_width);
  const auto K = static_cast<std::size_t>(d.K), V = static_cast<std::size_t>(d.V);
  const auto G = static_cast<std::size_t>(gate_width);

  auto flush = [&](index_t L) {
    HeadSequence<T> seq = block_sequence(call, block, L, {block.o, d.V});
    if (call.settings.key_rows > 0) seq.key_scale = {block.key_scale, 1};
    run_head_kernel<Rule, C>(arch, call.mode, tokens, seq, state, arena);
    for (index_t i = 0; i < L; ++i) {
      if (block.rank[i] < 0) continue;
      const index_t t = block.batch_token[i] - b * d.T;
      const T* row = block.o + i * d.V;
      std::copy(row, row + V, call.partial_row(b, t, block.rank[i], h));
    }
  };

  auto prefetch_token = [&](index_t t) {
    prefetch(in.q2.at(b, t, h), K * sizeof(In));
    prefetch(in.k2.at(b, t, h), K * sizeof(In));
    prefetch(in.v.at(b, t, h), V * sizeof(In));
    prefetch(in.g2.at(b, t, h), G * sizeof(In));
  };
  index_t L = 0;
  Selection::for_each_token(
      call, s, partition,
      [&](index_t t) {
        const TokenRoute route = call.route(b, t);
        const bool written = route.writes(partition);
        const index_t rank = route.reader_rank(partition);
        const bool read = rank >= 0;
        const bool decays = Rule::kDecayFollowsReaders ? read : written;
        const T p = static_cast<T>(route.p[partition]);

        T* q = block.q + L * d.K;
        T* k = block.k + L * d.K;
        if (read) {
          load_scaled(arch, call.emulq ? p : T(1), in.q2.at(b, t, h), q, K);
        } else {
          std::fill(q, q + K, T(0));
        }
        const T key_scale = written ? (call.emulk ? p : T(1)) : T(0);
        if (call.settings.key_rows >
            0) {  // logits; the kernel forms the sparse key, then scales it
          widen(in.k2.at(b, t, h), k, K);
          block.key_scale[L] = key_scale;
        } else if (written) {
          load_scaled(arch, key_scale, in.k2.at(b, t, h), k, K);
        } else {
          std::fill(k, k + K, T(0));
        }
        widen(in.v.at(b, t, h), block.v + L * d.V, V);
        T* g = block.g + L * gate_width;
        if (decays) {
          widen(in.g2.at(b, t, h), g, G);
        } else {
          std::fill(g, g + G, T(0));
        }
        if constexpr (Rule::kHasBeta) block.beta[L] = read ? to_compute(in.beta2(b, t, h)) : T(0);
        block.batch_token[L] = b * d.T + t;
        block.rank[L] = rank;
        if (++L == C) {
          flush(L);
          L = 0;
        }
      },
      prefetch_token);
  if (L > 0) flush(L);
}

/// o[token, h] += the read partitions' rows, in reader-rank order, for the tokens of (s, h).
template <class Rule, class Arch, class In>
void add_partition_outputs(Arch arch, const SseCall<Rule, In>& call, index_t s,
                           index_t h) noexcept {
  const SequenceSpan span = call.sequences[s];
  const auto V = static_cast<std::size_t>(call.d.V);
  for (index_t t = span.begin; t < span.end; ++t) {
    compute_t<In>* o = call.out.o.at(span.batch, t, h);
    for (index_t rank = 0; rank < call.readers(); ++rank) {
      simd::add(arch, call.partial_row(span.batch, t, rank, h), o, V);
    }
  }
}

}  // namespace sse::detail
