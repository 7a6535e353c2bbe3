#pragma once

/// \file
/// `SparsePath`, the token selection of the sparse (varlen) path (DESIGN.md section 3), a policy
/// of the partition branch (attention/partition_branch.hpp), and the bucketing of routed tokens
/// it walks: because a partition outside a token's sets is
/// frozen, partition n's recurrence is the base recurrence over the subsequence of tokens routed
/// to it, in causal order. With writers == readers each partition gathers only those tokens, so
/// a token costs 1 + k state passes instead of 1 + N.

#include <algorithm>
#include <cstdint>

#include "sse/attention/sse_call.hpp"
#include "sse/core/sequences.hpp"

namespace sse::detail {

/// The tokens of every (sequence, partition), bucketed once per call so that a partition
/// branch walks its own tokens instead of testing every token of the sequence:
///   offsets [S, N+1]   sequence s, partition p owns tokens[offsets[s,p] .. offsets[s,p+1])
///   tokens  [B*T*KW]   time indices t (within the sequence's batch row), causal order
/// Precondition: writers == readers, so the written and the read sets are the same.
inline void bucket_routed_tokens(const RoutingView& routing, const Sequences& sequences, index_t N,
                                 index_t* tokens, index_t* offsets) noexcept {
  const index_t KW = routing.writer_ids.extent(2);
  index_t start = 0;
  for (index_t s = 0; s < sequences.count(); ++s) {
    const SequenceSpan span = sequences[s];
    index_t* o = offsets + s * (N + 1);
    std::fill(o, o + N + 1, index_t{0});
    for (index_t t = span.begin; t < span.end; ++t) {  // o[p + 1] = tokens of partition p
      const std::int32_t* writers = routing.writer_ids.at(span.batch, t);
      for (index_t i = 0; i < KW; ++i) ++o[writers[i] + 1];
    }
    o[0] = start;  // o[p] = first slot of partition p
    for (index_t p = 1; p <= N; ++p) o[p] += o[p - 1];
    for (index_t t = span.begin; t < span.end; ++t) {  // o[p] = next free slot of p
      const std::int32_t* writers = routing.writer_ids.at(span.batch, t);
      for (index_t i = 0; i < KW; ++i) tokens[o[writers[i]]++] = t;
    }
    for (index_t p = N; p > 0; --p) o[p] = o[p - 1];  // back to first slots
    o[0] = start;
    start = o[N];
  }
}

struct SparsePath {
  /// The number of tokens partition `partition` (0-based) runs over in sequence s.
  template <class Call>
  static index_t count(const Call& call, index_t s, index_t partition) noexcept {
    const index_t* o = call.routed_offsets + s * (call.d.N + 1);
    return o[partition + 1] - o[partition];
  }
  /// fn(t) for each of those tokens, in causal order, with prefetch(t') called first for the
  /// token kPrefetchAhead places later: routed tokens are scattered through the inputs, so the
  /// hardware prefetchers do not see them coming.
  template <class Call, class Fn, class Prefetch>
  static void for_each_token(const Call& call, index_t s, index_t partition, Fn&& fn,
                             Prefetch&& prefetch) {
    constexpr index_t kPrefetchAhead = 2;
    const index_t* o = call.routed_offsets + s * (call.d.N + 1);
    for (index_t i = o[partition]; i < o[partition + 1]; ++i) {
      if (i + kPrefetchAhead < o[partition + 1]) prefetch(call.routed_tokens[i + kPrefetchAhead]);
      fn(call.routed_tokens[i]);
    }
  }
};

}  // namespace sse::detail
