#pragma once

/// \file
/// The sparse (varlen) path (DESIGN.md section 3): because a partition outside a token's sets is
/// frozen, partition n's recurrence is the base recurrence over the subsequence of tokens routed
/// to it, in causal order. With writers == readers each partition gathers only those tokens, so
/// a token costs 1 + k state passes instead of 1 + N.

#include "sse/attention/branches.hpp"

namespace sse::detail {

struct SparsePath {
  /// Precondition: writers == readers, so the written and the read sets are the same.
  static bool includes(const TokenRoute& route, index_t partition) noexcept {
    return route.writes(partition);
  }
};

}  // namespace sse::detail
