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
    T* q;  // [C, K] prepared queries of the chunk
    T* k;  // [C, K] prepared keys of the chunk
    typename Rule::template ChunkScratch<T> rule;
    Scratch(ScratchArena& arena, index_t K, index_t V)
        : q(arena.take<T>(C * K)), k(arena.take<T>(C * K)), rule(arena, C, K, V) {}
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
    for (index_t t0 = 0; t0 < seq.length; t0 += C) {
      const index_t L = std::min(C, seq.length - t0);
      for (index_t i = 0; i < L; ++i) {
        prepare_query_key(arch, seq, t0 + i, scratch.q + i * seq.K, scratch.k + i * seq.K);
      }
      const ChunkInputs<T> chunk{L,
                                 scratch.q,
                                 scratch.k,
                                 {seq.v.row(t0), seq.v.stride},
                                 {seq.g.row(t0), seq.g.stride},
                                 {seq.beta.data ? seq.beta.row(t0) : nullptr, seq.beta.stride},
                                 {seq.o.row(t0), seq.o.stride}};
      Rule::template chunk<C>(arch, chunk, S, scratch.rule);
    }
  }
};

}  // namespace sse
