#pragma once

/// \file
/// `ScanKernel<Rule, Recurrent>`: one (sequence, head), token by token: the decode path, the
/// speculative verify's, and the oracle of the chunked one. Up to kStepTokens consecutive
/// tokens share one pass over the K x V state (`Rule::steps`), with the same arithmetic as one
/// token at a time, so a run of F tokens gives the bits of F one-token calls.

#include <algorithm>
#include <cstddef>

#include "sse/core/workspace.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/state/state.hpp"

namespace sse {

template <class Rule>
struct ScanKernel<Rule, Recurrent> {
  static_assert(is_update_rule_v<Rule>, "sse::ScanKernel: Rule must be an update rule policy");

  template <class T>
  struct Scratch {
    T* q;           // [kStepTokens, K] the prepared queries
    T* k;           // [kStepTokens, K] the prepared keys
    index_t* rows;  // [K] a row-sparse key's rows
    T* key_values;  // [K] and its values
    typename Rule::template StepScratch<T> rule;
    Scratch(ScratchArena& arena, index_t K, index_t V)
        : q(arena.take<T>(kStepTokens * K)),
          k(arena.take<T>(kStepTokens * K)),
          rows(arena.take<index_t>(K)),
          key_values(arena.take<T>(K)),
          rule(arena, K, V) {}
  };

  template <class T>
  static std::size_t scratch_bytes(index_t K, index_t V) noexcept {
    return measure_scratch<Scratch<T>>(K, V);
  }

  /// Runs the sequence from state S (updated in place), writing every output row.
  template <class Arch, class T>
  static void run(Arch arch, const HeadSequence<T>& seq, StateView<T> S,
                  ScratchArena arena) noexcept {
    Scratch<T> scratch(arena, seq.K, seq.V);
    if constexpr (Rule::kRowSparseKeys) {
      if (seq.key_rows > 0) {  // DESIGN.md section 2b: r of the K rows per token
        const RowSparseKey<T> key{scratch.rows, scratch.key_values, seq.key_rows};
        for (index_t t = 0; t < seq.length; ++t) {
          prepare_query(arch, seq, t, scratch.q);
          prepare_sparse_key(seq, t, key);
          Rule::step_rows(arch, scratch.q, key, seq.v.row(t), seq.g.row(t), S, seq.o.row(t));
        }
        return;
      }
    }
    StepToken<T> tokens[kStepTokens];
    for (index_t t0 = 0; t0 < seq.length; t0 += kStepTokens) {
      const index_t count = std::min(kStepTokens, seq.length - t0);
      for (index_t i = 0; i < count; ++i) {
        const index_t t = t0 + i;
        T* q = scratch.q + i * seq.K;
        T* k = scratch.k + i * seq.K;
        prepare_query_key(arch, seq, t, q, k);
        tokens[i] = {
            q,           k, seq.v.row(t), seq.g.row(t), seq.beta.data ? seq.beta.row(t) : nullptr,
            seq.o.row(t)};
      }
      Rule::steps(arch, tokens, count, S, scratch.rule);
    }
  }
};

}  // namespace sse
