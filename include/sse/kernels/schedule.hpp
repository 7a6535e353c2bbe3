#pragma once

/// \file
/// Schedules are tags: `Recurrent` (one token at a time; the decode path) and `Chunked<C>`
/// (chunkwise-parallel, C tokens per matrix-matrix step). `ScanKernel<Rule, Schedule>` runs one
/// (sequence, head) of a scan with that schedule; an unknown schedule fails to compile.

#include "sse/core/shape.hpp"
#include "sse/rules/rule_traits.hpp"

namespace sse {

struct Recurrent {
  static constexpr const char* kName = "recurrent";
};

/// C tokens per chunk; 64 by default (DESIGN.md section 1), a multiple of the 16-token
/// sub-block of the GLA chunk form.
template <index_t C = 64>
struct Chunked {
  static_assert(C >= 16 && C % 16 == 0, "sse::Chunked<C>: C must be a positive multiple of 16");
  static constexpr index_t kChunkSize = C;
  static constexpr const char* kName = "chunked";
};

/// The default chunked schedule.
using DefaultChunked = Chunked<64>;

template <class Rule, class Schedule>
struct ScanKernel {
  static_assert(detail::dependent_false_v<Rule, Schedule>,
                "sse::ScanKernel has no specialization for this Schedule: use Recurrent or "
                "Chunked<C>");
};

}  // namespace sse
