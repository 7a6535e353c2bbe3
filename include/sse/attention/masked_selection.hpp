#pragma once

/// \file
/// `MaskedPath`, the token selection of the masked path (upstream's masked formulation, the
/// definition of SSE; DESIGN.md section 3), a policy of the partition branch
/// (attention/partition_branch.hpp): every partition runs over every token, and a partition
/// outside the token's sets sees a zero
/// key, query, decay (and beta) as the rule's masks say, so it is frozen. It supports
/// writers != readers and costs 1 + N state passes per token.

#include "sse/attention/sse_call.hpp"

namespace sse::detail {

struct MaskedPath {
  /// Every partition runs over every token of the sequence.
  template <class Call>
  static index_t count(const Call& call, index_t s, index_t /*partition*/) noexcept {
    return call.sequences[s].length();
  }
  /// Every token in order (sequential: the hardware prefetchers need no hint).
  template <class Call, class Fn, class Prefetch>
  static void for_each_token(const Call& call, index_t s, index_t /*partition*/, Fn&& fn,
                             Prefetch&& /*prefetch*/) {
    const SequenceSpan span = call.sequences[s];
    for (index_t t = span.begin; t < span.end; ++t) fn(t);
  }
};

}  // namespace sse::detail
