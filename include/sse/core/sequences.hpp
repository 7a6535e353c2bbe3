#pragma once

/// \file
/// Sequences of a batch. Without `cu_seqlens`, batch row b of [B, T, ...] is sequence b. With
/// `cu_seqlens` (B = 1; S+1 non-decreasing offsets, first 0, last T) the T tokens are S packed
/// sequences, sequence s being tokens [cu_seqlens[s], cu_seqlens[s+1]); empty ones are allowed.

#include <algorithm>
#include <cstdint>
#include <string>

#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"

namespace sse {

/// Tokens [begin, end) of batch row `batch`.
struct SequenceSpan {
  index_t batch = 0;
  index_t begin = 0;
  index_t end = 0;
  index_t length() const noexcept { return end - begin; }
};

/// The sequences of a [B, T] batch, packed or not. Build it only from validated input.
class Sequences {
 public:
  Sequences(index_t batch, index_t tokens, TensorView<const std::int64_t, 1> cu_seqlens) noexcept
      : batch_(batch), tokens_(tokens), cu_seqlens_(cu_seqlens) {}

  bool packed() const noexcept { return cu_seqlens_.present(); }
  /// S: B, or the number of packed sequences.
  index_t count() const noexcept { return packed() ? cu_seqlens_.extent(0) - 1 : batch_; }

  SequenceSpan operator[](index_t s) const noexcept {
    SequenceSpan span = packed() ? SequenceSpan{0, cu_seqlens_(s), cu_seqlens_(s + 1)}
                                 : SequenceSpan{s, 0, tokens_};
    if (ends_ != nullptr) span.end = span.begin + std::min(span.length(), ends_[s]);
    span.begin += std::min(span.length(), first_);
    return span;
  }

  /// The same sequences cut to the window [first, ends[s]) of each one's own positions (ends
  /// null: to its end; both clamped to its length): what a speculative verify runs in two
  /// parts and its commit replays.
  Sequences window(index_t first, const index_t* ends = nullptr) const noexcept {
    Sequences cut = *this;
    cut.first_ = first;
    cut.ends_ = ends;
    return cut;
  }

 private:
  index_t batch_;
  index_t tokens_;
  TensorView<const std::int64_t, 1> cu_seqlens_;
  index_t first_ = 0;
  const index_t* ends_ = nullptr;
};

/// Checks `cu_seqlens` (if present) against a [batch, tokens] input.
inline Status validate_cu_seqlens(TensorView<const std::int64_t, 1> cu_seqlens, index_t batch,
                                  index_t tokens) {
  if (!cu_seqlens.present()) return {};
  if (batch != 1) {
    return Status::error(
        "cu_seqlens", std::string("packed sequences need B = 1, got B = ") + std::to_string(batch));
  }
  const index_t n = cu_seqlens.extent(0);
  if (n < 2) {
    return Status::error("cu_seqlens", std::string("expected shape [S+1] with S >= 1, got [") +
                                           std::to_string(n) + "]");
  }
  if (cu_seqlens(0) != 0) {
    return Status::error("cu_seqlens",
                         std::string("must start at 0, got ") + std::to_string(cu_seqlens(0)));
  }
  for (index_t i = 1; i < n; ++i) {
    if (cu_seqlens(i) < cu_seqlens(i - 1)) {
      return Status::error(
          "cu_seqlens", std::string("must be non-decreasing, but cu_seqlens[") + std::to_string(i) +
                            "] = " + std::to_string(cu_seqlens(i)) + " < cu_seqlens[" +
                            std::to_string(i - 1) + "] = " + std::to_string(cu_seqlens(i - 1)));
    }
  }
  if (cu_seqlens(n - 1) != tokens) {
    return Status::error("cu_seqlens", std::string("must end at T = ") + std::to_string(tokens) +
                                           ", got " + std::to_string(cu_seqlens(n - 1)));
  }
  return {};
}

}  // namespace sse
