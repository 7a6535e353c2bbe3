#pragma once

/// \file
/// The tasks of the SSE operator (DESIGN.md section 3), one (sequence, head, branch) each:
///
///   shared branch     state 0 runs the base recurrence on (q1, k1, v, g1[, beta1]) over every
///                     token and writes o directly;
///   partition branch  state n (1..N) runs the recurrence over the tokens its path selects,
///                     with the partition's masks applied, gathered C tokens at a time into
///                     contiguous blocks; the rows it reads go to `partial[token, rank, h]`,
///                     rank being n's place among the token's readers;
///   output sum        o[token, h] += partial[token, 0..KR-1, h], in rank order (fixed, so the
///                     result does not depend on which thread ran which branch).
///
/// The path is a policy: `Selection::for_each_token(call, s, partition, fn)` walks the tokens
/// that enter a partition's recurrence (the masked path: every token; the sparse path: its
/// routed tokens, bucketed once per call) and `Selection::count` counts them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sse/attention/inputs.hpp"
#include "sse/attention/options.hpp"
#include "sse/attention/outputs.hpp"
#include "sse/attention/validate.hpp"
#include "sse/core/bfloat16.hpp"
#include "sse/core/prefetch.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/workspace.hpp"
#include "sse/kernels/chunked.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/recurrent.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/state/state.hpp"

namespace sse {

/// Which router set gates a partition's decay (DESIGN.md section 3, upstream's masks): GLA's g2
/// follows the writers; GDN's g2 and beta2 follow the readers.
template <class Rule>
inline constexpr bool decay_follows_readers_v = std::is_same_v<Rule, GdnRule>;

namespace detail {

/// One token's routing: p over the N partitions, its writers and readers (0-based ids).
struct TokenRoute {
  const float* p;
  const std::int32_t* writers;
  const std::int32_t* readers;
  index_t KW, KR;

  bool writes(index_t partition) const noexcept {
    return std::find(writers, writers + KW, partition) != writers + KW;
  }
  /// The partition's place among the readers, or -1 when it is not read.
  index_t reader_rank(index_t partition) const noexcept {
    const std::int32_t* it = std::find(readers, readers + KR, partition);
    return it == readers + KR ? -1 : static_cast<index_t>(it - readers);
  }
};

/// What every task of one operator call reads. In is the input element type, T the type
/// states and outputs are computed in.
template <class Rule, class In>
struct SseCall {
  using T = compute_t<In>;
  const SseInputs<Rule, In>& in;
  const SseOutputs<T>& out;
  SseDims d;
  Sequences sequences;
  RoutingView routing;  // the caller's views or the workspace's
  T* partial;           // [B*T, KR, H, V] the read rows of every partition
  T scale;
  bool qk_l2norm;
  bool emulq, emulk;
  Mode mode;
  index_t key_rows;               // DESIGN.md section 2b; 0: dense keys
  const index_t* routed_tokens;   // sparse path: bucket_routed_tokens's output
  const index_t* routed_offsets;  // [S, N+1]

  /// Readers per token (k_r).
  index_t readers() const noexcept { return routing.reader_ids.extent(2); }
  TokenRoute route(index_t b, index_t t) const noexcept {
    return {routing.p.at(b, t), routing.writer_ids.at(b, t), routing.reader_ids.at(b, t),
            routing.writer_ids.extent(2), readers()};
  }
  T* partial_row(index_t b, index_t t, index_t rank, index_t h) const noexcept {
    return partial + (((b * d.T + t) * readers() + rank) * d.H + h) * d.V;
  }
  index_t slot(index_t s) const noexcept {
    return in.state_slots.present() ? in.state_slots(s) : s;
  }
  bool chunked(index_t tokens) const noexcept {
    return mode == Mode::kChunk || (mode == Mode::kAuto && tokens >= kAutoChunkMinLength);
  }

  /// The state of (sequence s, state n, head h) as it enters the call: ht's slot (or scratch
  /// when ht is absent), holding h0's slot or zeros.
  StateView<T> begin_state(index_t s, index_t n, index_t h, ScratchArena& arena) const noexcept {
    const auto elements = static_cast<std::size_t>(d.K * d.V);
    T* state = out.ht.present() ? out.ht.at(slot(s), n, h) : arena.take<T>(elements);
    if (!in.h0.present()) {
      std::fill(state, state + elements, T(0));
    } else if (const T* initial = in.h0.at(slot(s), n, h); initial != state) {
      std::copy(initial, initial + elements, state);
    }
    return {state, d.K, d.V};
  }
};

/// The scratch of a partition branch: one block of C gathered (and masked) tokens.
template <class T>
struct PartitionBlock {
  T* q;                  // [C, K] q2 (times p_n), zero when not read
  T* k;                  // [C, K] k2 (times p_n), zero when not written
  T* v;                  // [C, V]
  T* g;                  // [C, K] or [C, 1] g2, zero when the mask freezes the decay
  T* beta;               // [C] beta2, zero when not read (rules with beta)
  T* key_scale;          // [C] row-sparse keys: p_n (emulk) or 1 when written, else 0
  T* o;                  // [C, V] the branch's output rows
  index_t* batch_token;  // [C] (b, t) of each row, as b * T + t
  index_t* rank;         // [C] reader rank of the partition at that token, or -1
  PartitionBlock(ScratchArena& arena, index_t C, index_t K, index_t V, index_t gate_width)
      : q(arena.take<T>(C * K)),
        k(arena.take<T>(C * K)),
        v(arena.take<T>(C * V)),
        g(arena.take<T>(C * gate_width)),
        beta(arena.take<T>(C)),
        key_scale(arena.take<T>(C)),
        o(arena.take<T>(C * V)),
        batch_token(arena.take<index_t>(C)),
        rank(arena.take<index_t>(C)) {}
};

/// The scan of the first L gathered rows of `block`, writing its output rows to `o`.
template <class Rule, class In>
HeadSequence<compute_t<In>> block_sequence(const SseCall<Rule, In>& call,
                                           const PartitionBlock<compute_t<In>>& block, index_t L,
                                           Rows<compute_t<In>> o) noexcept {
  const index_t gate_width = Rule::kPerKeyDecay ? call.d.K : 1;
  HeadSequence<compute_t<In>> seq;
  seq.length = L;
  seq.K = call.d.K;
  seq.V = call.d.V;
  seq.q = {block.q, call.d.K};
  seq.k = {block.k, call.d.K};
  seq.v = {block.v, call.d.V};
  seq.g = {block.g, gate_width};
  if constexpr (Rule::kHasBeta) seq.beta = {block.beta, 1};
  seq.o = o;
  seq.scale = call.scale;
  seq.qk_l2norm = call.qk_l2norm;
  seq.key_rows = call.key_rows;
  return seq;
}

template <class Rule, index_t C, class T>
std::size_t branch_slice_bytes(const SseDims& d, bool has_ht) noexcept {
  const index_t gate_width = Rule::kPerKeyDecay ? d.K : 1;
  std::size_t bytes = measure_scratch<PartitionBlock<T>>(C, d.K, d.V, gate_width);
  bytes += std::max(ScanKernel<Rule, Recurrent>::template scratch_bytes<T>(d.K, d.V),
                    ScanKernel<Rule, Chunked<C>>::template scratch_bytes<T>(d.K, d.V));
  if (!has_ht) bytes += ScratchArena::round_up(sizeof(T) * d.K * d.V);
  return bytes;
}

template <class Rule, index_t C, class Arch, class T>
void run_kernel(Arch arch, bool chunked, const HeadSequence<T>& seq, StateView<T> state,
                ScratchArena arena) noexcept {
  if (chunked) {
    ScanKernel<Rule, Chunked<C>>::run(arch, seq, state, arena);
  } else {
    ScanKernel<Rule, Recurrent>::run(arch, seq, state, arena);
  }
}

/// dst = alpha * src, src widened to the compute type.
template <class Arch, class In>
void load_scaled(Arch arch, compute_t<In> alpha, const In* src, compute_t<In>* dst,
                 std::size_t n) noexcept {
  if constexpr (std::is_same_v<In, compute_t<In>>) {
    simd::scale(arch, alpha, src, dst, n);
  } else {
    widen(src, dst, n);
    simd::scale_in_place(arch, alpha, dst, n);
  }
}

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
  const bool chunked = call.chunked(span.length());
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
    run_kernel<Rule, C>(arch, chunked, seq, state, arena);
  }
}

/// State 0 of (s, h) for inputs in the compute type: the kernel reads the tensors in place.
template <class Rule, index_t C, class Arch, class T>
void run_shared_branch_direct(Arch arch, const SseCall<Rule, T>& call, SequenceSpan span, index_t h,
                              StateView<T> state, ScratchArena arena) noexcept {
  const auto& in = call.in;
  const index_t b = span.batch, t0 = span.begin;
  HeadSequence<T> seq;
  seq.length = span.length();
  seq.K = call.d.K;
  seq.V = call.d.V;
  seq.q = {in.q1.at(b, t0, h), in.q1.stride(1)};
  seq.k = {in.k1.at(b, t0, h), in.k1.stride(1)};
  seq.v = {in.v.at(b, t0, h), in.v.stride(1)};
  seq.g = {in.g1.at(b, t0, h), in.g1.stride(1)};
  if (in.beta1.present()) seq.beta = {in.beta1.at(b, t0, h), in.beta1.stride(1)};
  seq.o = {call.out.o.at(b, t0, h), call.out.o.stride(1)};
  seq.scale = call.scale;
  seq.qk_l2norm = call.qk_l2norm;
  seq.key_rows = call.key_rows;
  run_kernel<Rule, C>(arch, call.chunked(seq.length), seq, state, arena);
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
  const bool chunked = call.chunked(tokens);
  const auto K = static_cast<std::size_t>(d.K), V = static_cast<std::size_t>(d.V);
  const auto G = static_cast<std::size_t>(gate_width);

  auto flush = [&](index_t L) {
    HeadSequence<T> seq = block_sequence(call, block, L, {block.o, d.V});
    if (call.key_rows > 0) seq.key_scale = {block.key_scale, 1};
    run_kernel<Rule, C>(arch, chunked, seq, state, arena);
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
        const bool decays = decay_follows_readers_v<Rule> ? read : written;
        const T p = static_cast<T>(route.p[partition]);

        T* q = block.q + L * d.K;
        T* k = block.k + L * d.K;
        if (read) {
          load_scaled(arch, call.emulq ? p : T(1), in.q2.at(b, t, h), q, K);
        } else {
          std::fill(q, q + K, T(0));
        }
        const T key_scale = written ? (call.emulk ? p : T(1)) : T(0);
        if (call.key_rows > 0) {  // logits; the kernel forms the sparse key, then scales it
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

}  // namespace detail
}  // namespace sse
