#pragma once

/// \file
/// The masked path (upstream's masked formulation, the definition of SSE; DESIGN.md section 3):
/// every partition runs over every token, and a partition outside the token's sets sees a zero
/// key, query, decay (and beta) as the rule's masks say, so it is frozen. It supports
/// writers != readers and costs 1 + N state passes per token.

#include "sse/attention/branches.hpp"

namespace sse::detail {

struct MaskedPath {
  static constexpr bool includes(const TokenRoute& /*route*/, index_t /*partition*/) noexcept {
    return true;
  }
};

}  // namespace sse::detail
