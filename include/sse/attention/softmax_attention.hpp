#pragma once

/// \file
/// Causal softmax attention, the other mixer of SSE-H (DESIGN.md section 4), in the tiled
/// online-softmax form: a block of queries meets the keys block by block, keeping a running
/// maximum, a running sum and an unnormalised output; no T x T matrix is ever formed.
///
///   q  [B,T,HQ,D]     the new tokens' queries (rotary embedding already applied)
///   k  [B,L,HKV,D]    keys of positions 0..L-1 (a KV cache: row j is position j)
///   v  [B,L,HKV,DV]   values, likewise
///   offsets [B]       optional: the position of row b's first new token (0 when absent);
///                     offsets[b] + T <= L
///   o  [B,T,HQ,DV]
///
/// Query t of row b sits at position p = offsets[b] + t and sees the keys j <= p, and with a
/// window W > 0 only the W most recent ones, p - W < j <= p (its own included). Query head h
/// uses key/value head h / (HQ / HKV) (grouped-query attention).

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>

#include "sse/attention/softmax_attention_inputs.hpp"
#include "sse/config.hpp"
#include "sse/core/checks.hpp"
#include "sse/core/matrix.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/simd/row_ops.hpp"

namespace sse {

/// Checks every input, output and option; the message names the tensor.
template <class T>
Status validate_softmax_attention(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                                  const SoftmaxAttentionOptions& options = {}) {
  for (const auto& [name, view, labels] :
       {std::tuple{"q", in.q, "[B,T,HQ,D]"}, std::tuple{"k", in.k, "[B,L,HKV,D]"},
        std::tuple{"v", in.v, "[B,L,HKV,DV]"}}) {
    if (detail::is_missing(view)) {
      return Status::error(name, std::string("missing (expected shape ") + labels + ")");
    }
  }
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  if (d.B < 1 || d.T < 0 || d.HQ < 1 || d.D < 1) {
    return Status::error("q", std::string("expected shape [B,T,HQ,D] with B, HQ, D >= 1, got ") +
                                  format_shape(in.q.extents()));
  }
  if (d.HKV < 1 || d.HQ % d.HKV != 0) {
    return Status::error("k", std::string("expected HKV >= 1 key/value heads dividing HQ = ") +
                                  std::to_string(d.HQ) + ", got " + format_shape(in.k.extents()));
  }
  if (Status s = detail::check_shape("k", in.k, "[B,L,HKV,D]", {d.B, d.L, d.HKV, d.D}); !s)
    return s;
  if (d.DV < 1)
    return Status::error("v", std::string("expected DV >= 1, got ") + format_shape(in.v.extents()));
  if (Status s = detail::check_shape("v", in.v, "[B,L,HKV,DV]", {d.B, d.L, d.HKV, d.DV}); !s)
    return s;
  if (Status s = detail::check_shape("o", o, "[B,T,HQ,DV]", {d.B, d.T, d.HQ, d.DV}); !s) return s;
  for (const Status& s :
       {detail::check_unit_inner_stride("q", in.q), detail::check_unit_inner_stride("k", in.k),
        detail::check_unit_inner_stride("v", in.v), detail::check_unit_inner_stride("o", o),
        detail::check_unique("o", o)}) {
    if (!s) return s;
  }
  if (views_overlap(o, in.q) || views_overlap(o, in.k) || views_overlap(o, in.v) ||
      views_overlap(o, in.offsets)) {
    return Status::error("o", std::string("overlaps an input; outputs need their own memory"));
  }
  if (in.offsets.present()) {
    if (Status s = detail::check_shape("offsets", in.offsets, "[B]", {d.B}); !s) return s;
    for (index_t b = 0; b < d.B; ++b) {
      if (in.offsets(b) < 0 || in.offsets(b) + d.T > d.L) {
        return Status::error("offsets", std::string("element [") + std::to_string(b) +
                                            "] = " + std::to_string(in.offsets(b)) + " puts the " +
                                            std::to_string(d.T) + " new tokens outside the " +
                                            std::to_string(d.L) + " cached positions");
      }
    }
  } else if (d.T > d.L) {
    return Status::error("k", std::string("expected at least T = ") + std::to_string(d.T) +
                                  " positions, got L = " + std::to_string(d.L));
  }
  if (options.window < 0) {
    return Status::error("window",
                         std::string("expected 0 (unlimited) or a positive number of keys, got ") +
                             std::to_string(options.window));
  }
  if (options.scale && !std::isfinite(*options.scale)) {
    return Status::error("scale",
                         std::string("must be finite, got ") + std::to_string(*options.scale));
  }
  return {};
}

namespace detail {

/// Query rows per tile: a task takes the query heads that share one key/value head (GQA) for
/// up to kAttentionTileRows / G tokens, so each key block is loaded once for all of them and
/// the products are [rows x D] x [D x Bk] at rows = 128 (32 tokens x 4 heads at GQA 32/8).
inline constexpr index_t kAttentionTileRows = 128;
/// Keys per step of the online softmax.
inline constexpr index_t kAttentionKeyBlock = 64;
/// Up to this many rows per tile (a decode step: the G heads of one token), the two products
/// of a key block are dot products and row updates: Eigen's GEMM packs both operands for
/// every block, which costs more than the arithmetic at a few rows.
inline constexpr index_t kAttentionDotRows = 8;

/// Tokens per tile for G query heads per key/value head.
inline index_t attention_tile_tokens(index_t G) noexcept {
  return std::max<index_t>(1, kAttentionTileRows / G);
}

template <class T>
struct AttentionScratch {
  T* q;       // [rows, D] the tile's queries times the scale
  T* scores;  // [rows, Bk] q k^T of one key block, then its exponentials
  T* out;     // [rows, DV] unnormalised output
  T* max;     // [rows] running maximum of the scores
  T* sum;     // [rows] running sum of exp(score - max)
  AttentionScratch(ScratchArena& arena, index_t rows, index_t D, index_t DV)
      : q(arena.take<T>(rows * D)),
        scores(arena.take<T>(rows * kAttentionKeyBlock)),
        out(arena.take<T>(rows * DV)),
        max(arena.take<T>(rows)),
        sum(arena.take<T>(rows)) {}
};

/// One query row's online-softmax step over a block of `cols` scaled scores in `row` (-inf
/// where masked): the scores become exp(score - new max), their sum joins `sum`, `max` moves
/// to the new maximum, and the result is the factor the row's running output must be scaled
/// by (exp(-inf) = 0 on the row's first visible block). A row with nothing visible in the
/// block is zeroed and keeps its state (factor 1).
template <class T>
T online_softmax_step(T* row, index_t cols, T& max, T& sum) noexcept {
  const T neg_inf = -std::numeric_limits<T>::infinity();
  const T block_max = *std::max_element(row, row + cols);
  if (block_max == neg_inf) {
    std::fill(row, row + cols, T(0));
    return T(1);
  }
  const T new_max = std::max(max, block_max);
  const T rescale = std::exp(max - new_max);
  sum = sum * rescale +
        simd::exp_shifted_sum(default_arch{}, row, new_max, static_cast<std::size_t>(cols));
  max = new_max;
  return rescale;
}

/// Tokens [t0, t0 + tokens) of row b for the G query heads of key/value head `kv_head`: a
/// tile of tokens x G query rows (row r is token t0 + r / G, head kv_head G + r % G) that
/// meets the keys it sees block by block. Masks are applied only in the blocks that need them
/// (the diagonal, the window's far edge).
template <class T>
void attend_query_tile(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                       const SoftmaxAttentionDims& d, index_t window, T scale, index_t b,
                       index_t kv_head, index_t t0, index_t tokens,
                       AttentionScratch<T>& s) noexcept {
  constexpr index_t Bk = kAttentionKeyBlock;
  const index_t G = d.HQ / d.HKV, h0 = kv_head * G, rows = tokens * G;
  const index_t offset = in.offsets.present() ? in.offsets(b) : 0;
  const index_t first_pos = offset + t0, last_pos = offset + t0 + tokens - 1;
  const index_t key_begin = window > 0 ? std::max<index_t>(0, first_pos - window + 1) : 0;
  const T neg_inf = -std::numeric_limits<T>::infinity();

  for (index_t r = 0; r < rows; ++r) {
    const T* q = in.q.at(b, t0 + r / G, h0 + r % G);
    for (index_t c = 0; c < d.D; ++c) s.q[r * d.D + c] = q[c] * scale;
  }
  const ConstMatrixMap<T> q(s.q, rows, d.D, Eigen::OuterStride<>(d.D));
  MatrixMap<T> out(s.out, rows, d.DV, Eigen::OuterStride<>(d.DV));
  out.setZero();
  std::fill(s.max, s.max + rows, neg_inf);
  std::fill(s.sum, s.sum + rows, T(0));

  for (index_t j0 = key_begin; j0 <= last_pos; j0 += Bk) {
    const index_t cols = std::min(Bk, last_pos + 1 - j0);
    const ConstMatrixMap<T> k(in.k.at(b, j0, kv_head), cols, d.D,
                              Eigen::OuterStride<>(in.k.stride(1)));
    const ConstMatrixMap<T> v(in.v.at(b, j0, kv_head), cols, d.DV,
                              Eigen::OuterStride<>(in.v.stride(1)));
    MatrixMap<T> scores(s.scores, rows, cols, Eigen::OuterStride<>(Bk));
    if (rows > kAttentionDotRows) {
      scores.noalias() = q * k.transpose();
    } else {
      for (index_t r = 0; r < rows; ++r) {
        for (index_t c = 0; c < cols; ++c) {
          s.scores[r * Bk + c] = simd::dot(default_arch{}, s.q + r * d.D, k.row(c).data(),
                                           static_cast<std::size_t>(d.D));
        }
      }
    }
    // Every row sees every key of the block: none past the first token, none before the
    // window of the last.
    const bool all_visible = j0 + cols - 1 <= first_pos && (window == 0 || j0 > last_pos - window);
    for (index_t r = 0; r < rows; ++r) {
      T* row = s.scores + r * Bk;
      if (!all_visible) {
        const index_t pos = first_pos + r / G;
        const index_t lo = window > 0 ? pos - window + 1 : 0;  // visible keys: lo <= j <= pos
        for (index_t c = 0; c < cols; ++c) {
          if (j0 + c < lo || j0 + c > pos) row[c] = neg_inf;
        }
      }
      out.row(r) *= online_softmax_step(row, cols, s.max[r], s.sum[r]);
    }
    if (rows > kAttentionDotRows) {
      out.noalias() += scores * v;
    } else {
      for (index_t r = 0; r < rows; ++r) {
        for (index_t c = 0; c < cols; ++c) {
          simd::axpy(default_arch{}, s.scores[r * Bk + c], v.row(c).data(), s.out + r * d.DV,
                     static_cast<std::size_t>(d.DV));
        }
      }
    }
  }
  for (index_t r = 0; r < rows; ++r) {
    const T inv = T(1) / s.sum[r];  // every query sees at least its own key
    T* dst = o.at(b, t0 + r / G, h0 + r % G);
    for (index_t c = 0; c < d.DV; ++c) dst[c] = s.out[r * d.DV + c] * inv;
  }
}

/// The scratch of one task for inputs of these sizes.
template <class T>
std::size_t attention_scratch_bytes(const SoftmaxAttentionDims& d) noexcept {
  const index_t G = d.HQ / std::max<index_t>(1, d.HKV);
  return measure_scratch<AttentionScratch<T>>(attention_tile_tokens(G) * G, d.D, d.DV);
}

}  // namespace detail

/// Bytes of the `Workspace` that lets `softmax_attention` run without allocating.
template <class T>
std::size_t softmax_attention_workspace_size(const SoftmaxAttentionInputs<T>& in,
                                             const Executor& executor) noexcept {
  return detail::WorkerScratch::required_bytes(
      executor.concurrency(), detail::attention_scratch_bytes<T>(softmax_attention_dims(in)));
}

/// o = causal softmax attention of the new queries over the cached keys and values. Throws
/// sse::invalid_argument, with nothing written, on bad input. Tasks are (row, key/value head,
/// tile of tokens) with all the query heads of that key/value head; each output row is written
/// by one task, so the bits do not depend on the thread count. Cost about 2 T L_visible HQ
/// (D + DV) flops.
template <class T>
void softmax_attention(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                       const SoftmaxAttentionOptions& options, Executor& executor,
                       Workspace workspace = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "sse::softmax_attention: the element type must be float or double");
  throw_if_error(validate_softmax_attention(in, o, options));
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  const T scale = static_cast<T>(options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.D))));
  const index_t G = d.HQ / d.HKV, tile = detail::attention_tile_tokens(G);
  const index_t tiles = (d.T + tile - 1) / tile;
  const detail::WorkerScratch scratch(workspace, executor.concurrency(),
                                      detail::attention_scratch_bytes<T>(d));
  auto run_task = [&](std::size_t task, std::size_t worker) {
    const auto index = static_cast<index_t>(task);
    const index_t t = index % tiles, kv_head = index / tiles % d.HKV, b = index / tiles / d.HKV;
    const index_t t0 = t * tile, tokens = std::min(tile, d.T - t0);
    ScratchArena arena = scratch.arena(worker);
    detail::AttentionScratch<T> s(arena, tokens * G, d.D, d.DV);
    detail::attend_query_tile(in, o, d, options.window, scale, b, kv_head, t0, tokens, s);
  };
  executor.parallel_for(static_cast<std::size_t>(d.B * d.HKV * tiles), run_task);
}

/// `softmax_attention` on the calling thread.
template <class T>
void softmax_attention(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                       const SoftmaxAttentionOptions& options = {}) {
  SerialExecutor serial;
  softmax_attention(in, o, options, serial);
}

}  // namespace sse
