#pragma once

/// \file
/// What every task of one SSE operator call shares (DESIGN.md section 3): the inputs and
/// outputs, the sizes, the routing of each token, the partitions' read rows, and the settings
/// of the recurrence; and the block of gathered tokens a branch feeds its kernel.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sse/attention/inputs.hpp"
#include "sse/attention/outputs.hpp"
#include "sse/core/bfloat16.hpp"
#include "sse/core/sequences.hpp"
#include "sse/core/workspace.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/head_task.hpp"
#include "sse/kernels/mode.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/state/state.hpp"

namespace sse::detail {

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
  RoutingView routing;       // the caller's views or the workspace's
  T* partial;                // [B*T, KR, H, V] the read rows of every partition
  HeadSettings<T> settings;  // scale, qk_l2norm, key_rows
  bool emulq, emulk;
  Mode mode;
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

  /// The state of (sequence s, state n, head h) as it enters the call: ht's slot (or scratch
  /// when ht is absent), holding h0's slot or zeros.
  StateView<T> begin_state(index_t s, index_t n, index_t h, ScratchArena& arena) const noexcept {
    return detail::begin_state(out.ht.present() ? out.ht.at(slot(s), n, h) : nullptr,
                               in.h0.present() ? in.h0.at(slot(s), n, h) : nullptr, d.K, d.V,
                               arena);
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
  seq.scale = call.settings.scale;
  seq.qk_l2norm = call.settings.qk_l2norm;
  seq.key_rows = call.settings.key_rows;
  return seq;
}

/// Scratch bytes of one branch task: a block of C gathered tokens and the task's own.
template <class Rule, index_t C, class T>
std::size_t branch_slice_bytes(const SseDims& d, bool has_ht) noexcept {
  const index_t gate_width = Rule::kPerKeyDecay ? d.K : 1;
  return measure_scratch<PartitionBlock<T>>(C, d.K, d.V, gate_width) +
         head_task_bytes<Rule, C, T>(d.K, d.V, has_ht);
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

}  // namespace sse::detail
