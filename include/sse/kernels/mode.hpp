#pragma once

/// \file
/// `Mode`: which form of the recurrence runs (chunked, recurrent, or chosen by length), shared
/// by the scan's and the SSE operator's options.

#include "sse/core/shape.hpp"

namespace sse {

/// How the recurrence is evaluated. `kAuto` takes the chunked form for sequences of at least
/// `kAutoChunkMinLength` tokens and the recurrent form for shorter ones (decode).
enum class Mode { kAuto, kChunk, kRecurrent };

/// Sequences shorter than this run the recurrent form under Mode::kAuto: below one 16-token
/// sub-block the chunked form's fixed costs (a full pass over the state per chunk) dominate.
inline constexpr long kAutoChunkMinLength = 16;

/// Whether `mode` runs a recurrence over `tokens` tokens in the chunked form.
constexpr bool uses_chunked_form(Mode mode, index_t tokens) noexcept {
  return mode == Mode::kChunk || (mode == Mode::kAuto && tokens >= kAutoChunkMinLength);
}

}  // namespace sse
