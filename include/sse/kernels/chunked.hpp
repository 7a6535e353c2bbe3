#pragma once

/// \file
/// `ScanKernel<Rule, Chunked<C>>`: one (sequence, head) in chunks of C tokens (the last one
/// shorter). Per chunk the prepared q and k rows are gathered into contiguous [C, K] blocks and
/// the rule's chunk form does the matrix-matrix work (intra-chunk products, the inter-chunk
/// state pass).

#include <algorithm>
#include <cstddef>

#include "sse/core/workspace.hpp"
#include "sse/kernels/head_sequence.hpp"
#include "sse/kernels/schedule.hpp"
#include "sse/state/state.hpp"

namespace sse {

template <class Rule, index_t C>
struct ScanKernel<Rule, Chunked<C>> {
  static_assert(is_update_rule_v<Rule>, "sse::ScanKernel: Rule must be an update rule policy");

  template <class T>
  struct Scratch {
    T* q;           // [C, K] prepared queries of the chunk
    T* k;           // [C, K] prepared keys of the chunk
    T* g;           // [C, K] decays masked by a row-sparse key's rows (rules with per-row decay)
    index_t* rows;  // [K] one row-sparse key's rows
    T* key_values;  // [K] and its values
    typename Rule::template ChunkScratch<T> rule;
    Scratch(ScratchArena& arena, index_t K, index_t V)
        : q(arena.take<T>(C * K)),
          k(arena.take<T>(C * K)),
          g(arena.take<T>(Rule::kRowSparseKeys ? C * K : 0)),
          rows(arena.take<index_t>(Rule::kRowSparseKeys ? K : 0)),
          key_values(arena.take<T>(Rule::kRowSparseKeys ? K : 0)),
          rule(arena, C, K, V) {}
  };

  template <class T>
  static std::size_t scratch_bytes(index_t K, index_t V) noexcept {
    return measure_scratch<Scratch<T>>(K, V);
  }

  /// Runs the sequence from state S (updated in place), writing every output row. A row-sparse
  /// key (DESIGN.md section 2b) enters in its dense form: zero off its rows, g masked.
  template <class Arch, class T>
  static void run(Arch arch, const HeadSequence<T>& seq, StateView<T> S,
                  ScratchArena arena) noexcept {
    Scratch<T> scratch(arena, seq.K, seq.V);
    const bool row_sparse = Rule::kRowSparseKeys && seq.key_rows > 0;
    const RowSparseKey<T> key{scratch.rows, scratch.key_values, seq.key_rows};
    for (index_t t0 = 0; t0 < seq.length; t0 += C) {
      const index_t L = std::min(C, seq.length - t0);
      for (index_t i = 0; i < L; ++i) {
        T* q = scratch.q + i * seq.K;
        T* k = scratch.k + i * seq.K;
        if (row_sparse) {
          prepare_query(arch, seq, t0 + i, q);
          prepare_sparse_key(seq, t0 + i, key);
          densify_row_sparse_key(key, seq.K, seq.g.row(t0 + i), k, scratch.g + i * seq.K);
        } else {
          prepare_query_key(arch, seq, t0 + i, q, k);
        }
      }
      const Rows<const T> g =
          row_sparse ? Rows<const T>{scratch.g, seq.K} : Rows<const T>{seq.g.row(t0), seq.g.stride};
      const ChunkInputs<T> chunk{L,
                                 scratch.q,
                                 scratch.k,
                                 {seq.v.row(t0), seq.v.stride},
                                 g,
                                 {seq.beta.data ? seq.beta.row(t0) : nullptr, seq.beta.stride},
                                 {seq.o.row(t0), seq.o.stride}};
      Rule::template chunk<C>(arch, chunk, S, scratch.rule);
    }
  }
};

}  // namespace sse
