#pragma once

/// \file
/// MoBA block-sparse causal attention (DESIGN.md section 4b, upstream `moba_naive.py`
/// semantics): the prefill of SpikingBrain2.0's MoBA layers on an empty cache.
///
///   q  [B,T,HQ,D]    queries (q-norm and RoPE already applied)
///   k  [B,T,HKV,D]   keys of the same T positions (key/value head h / (HQ / HKV) serves
///   v  [B,T,HKV,DV]  query head h, as upstream repeats them)
///   o  [B,T,HQ,DV]
///
/// With C = chunk_size, key block j holds positions [jC, (j+1)C) (the last may be partial) and
/// kbar_j is the mean of its keys. Query i in block b attends, causally, to the keys of block b
/// and of the min(topk - 1, b) earlier blocks j < b with the largest gate q_i . kbar_j (float,
/// not scaled; ties go to the lower j). With at most topk blocks this is dense causal attention.
///
/// Tiled with an online softmax (never a T x T matrix): a task is (row, query head, up to
/// kMobaQueryTile queries of one block). For each key block the tile's queries chose, only the
/// rows that chose it are gathered and multiplied with it (and in the own block only the rows
/// at or after each 64-key step), so the cost is about T x (topk x C) x (D + DV) per head plus
/// the gates' T x (T / C) x D, and each key block is read once per tile, not once per query.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>

#include "sse/attention/softmax_attention.hpp"
#include "sse/attention/softmax_attention_inputs.hpp"
#include "sse/config.hpp"
#include "sse/core/matrix.hpp"
#include "sse/core/parallel.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/core/workspace.hpp"
#include "sse/error.hpp"
#include "sse/simd/row_ops.hpp"

namespace sse {

struct MobaOptions {
  index_t chunk_size = 1024;  // C: keys per block
  index_t topk = 4;           // blocks per query, its own included
  /// Multiplies q k; absent means D^-1/2.
  std::optional<double> scale;
};

/// Checks every input, output and option; the message names the tensor or option. The keys
/// are those of the queries' own positions (L = T, no offsets: a prefill from position 0).
template <class T>
Status validate_moba_attention(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                               const MobaOptions& options) {
  SoftmaxAttentionOptions dense;
  dense.scale = options.scale;
  if (Status s = validate_softmax_attention(in, o, dense); !s) return s;
  if (in.offsets.present()) {
    return Status::error("offsets", std::string("MoBA attends a prefill from position 0; "
                                                "expected no offsets"));
  }
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  if (d.L != d.T) {
    return Status::error("k", std::string("expected the T = ") + std::to_string(d.T) +
                                  " positions of the queries, got L = " + std::to_string(d.L));
  }
  if (options.chunk_size < 1) {
    return Status::error("chunk_size",
                         std::string("must be >= 1, got ") + std::to_string(options.chunk_size));
  }
  if (options.topk < 1) {
    return Status::error("topk", std::string("must be >= 1, got ") + std::to_string(options.topk));
  }
  return {};
}

namespace detail {

/// Queries per MoBA task: large, so that each key block a tile's queries chose meets many of
/// them at once (with topk of T / C blocks chosen, a block meets about tile x topk x C / T).
inline constexpr index_t kMobaQueryTile = 512;

/// One worker's scratch: the online softmax of a tile of queries, the rows that chose the
/// block at hand gathered, and every row's gates and choices.
template <class T>
struct MobaScratch {
  T* scores;               // [tile, Bk]
  T* out;                  // [tile, DV] unnormalised output of the tile
  T *max, *sum;            // [tile]
  T* gathered;             // [tile, D] queries of the rows that chose the block
  T* part;                 // [tile, DV] the block's contribution to those rows
  T* gates;                // [tile, blocks]
  unsigned char* chosen;   // [tile, blocks]
  index_t* rows_of_block;  // [tile]

  MobaScratch(ScratchArena& arena, index_t D, index_t DV, index_t blocks)
      : scores(arena.take<T>(kMobaQueryTile * kAttentionKeyBlock)),
        out(arena.take<T>(kMobaQueryTile * DV)),
        max(arena.take<T>(kMobaQueryTile)),
        sum(arena.take<T>(kMobaQueryTile)),
        gathered(arena.take<T>(kMobaQueryTile * D)),
        part(arena.take<T>(kMobaQueryTile * DV)),
        gates(arena.take<T>(kMobaQueryTile * blocks)),
        chosen(arena.take<unsigned char>(kMobaQueryTile * blocks)),
        rows_of_block(arena.take<index_t>(kMobaQueryTile)) {}
};

/// kbar [B, blocks, HKV, D]: the mean of each block's keys.
template <class T>
void mean_block_keys(const SoftmaxAttentionInputs<T>& in, index_t chunk, index_t blocks,
                     T* kbar) noexcept {
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  for (index_t b = 0; b < d.B; ++b) {
    for (index_t j = 0; j < blocks; ++j) {
      const index_t first = j * chunk, last = std::min(d.T, first + chunk);
      for (index_t h = 0; h < d.HKV; ++h) {
        T* mean = kbar + ((b * blocks + j) * d.HKV + h) * d.D;
        std::fill(mean, mean + d.D, T(0));
        for (index_t t = first; t < last; ++t) {
          const T* key = in.k.at(b, t, h);
          for (index_t c = 0; c < d.D; ++c) mean[c] += key[c];
        }
        for (index_t c = 0; c < d.D; ++c) mean[c] /= static_cast<T>(last - first);
      }
    }
  }
}

/// Marks in chosen [rows, blocks] the blocks each query row of the tile attends: its own block
/// `own` and the topk - 1 earlier ones with the largest gates (ties to the lower block).
template <class T>
void choose_blocks(const SoftmaxAttentionInputs<T>& in, const SoftmaxAttentionDims& d,
                   const T* kbar, index_t blocks, index_t topk, index_t b, index_t h,
                   index_t kv_head, index_t t0, index_t rows, index_t own,
                   MobaScratch<T>& s) noexcept {
  const index_t earlier = std::min(topk - 1, own);
  for (index_t r = 0; r < rows; ++r) {
    unsigned char* chosen = s.chosen + r * blocks;
    std::fill(chosen, chosen + blocks, static_cast<unsigned char>(0));
    chosen[own] = 1;
    if (earlier == own) {  // every earlier block
      std::fill(chosen, chosen + own, static_cast<unsigned char>(1));
      continue;
    }
    T* gate = s.gates + r * blocks;
    const T* q = in.q.at(b, t0 + r, h);
    for (index_t j = 0; j < own; ++j) {
      gate[j] = simd::dot(default_arch{}, q, kbar + ((b * blocks + j) * d.HKV + kv_head) * d.D,
                          static_cast<std::size_t>(d.D));
    }
    for (index_t pick = 0; pick < earlier; ++pick) {
      index_t best = -1;
      for (index_t j = 0; j < own; ++j) {  // strictly larger: ties keep the lower block
        if (!chosen[j] && (best < 0 || gate[j] > gate[best])) best = j;
      }
      chosen[best] = 1;
    }
  }
}

/// Queries [t0, t0 + rows) of (b, h), all in block `own`: every block they chose, in order.
template <class T>
void moba_query_block(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                      const SoftmaxAttentionDims& d, const T* kbar, index_t blocks,
                      const MobaOptions& options, T scale, index_t b, index_t h, index_t t0,
                      index_t rows, MobaScratch<T>& s) noexcept {
  constexpr index_t Bk = kAttentionKeyBlock;
  const index_t C = options.chunk_size, kv_head = h / (d.HQ / d.HKV);
  const index_t own = t0 / C, last_pos = t0 + rows - 1;
  const T neg_inf = -std::numeric_limits<T>::infinity();
  choose_blocks(in, d, kbar, blocks, options.topk, b, h, kv_head, t0, rows, own, s);

  MatrixMap<T> out(s.out, rows, d.DV, Eigen::OuterStride<>(d.DV));
  out.setZero();
  std::fill(s.max, s.max + rows, neg_inf);
  std::fill(s.sum, s.sum + rows, T(0));
  for (index_t j = 0; j <= own; ++j) {
    index_t n = 0;
    for (index_t r = 0; r < rows; ++r) {
      if (s.chosen[r * blocks + j]) s.rows_of_block[n++] = r;
    }
    if (n == 0) continue;
    for (index_t i = 0; i < n; ++i) {
      const T* q = in.q.at(b, t0 + s.rows_of_block[i], h);
      for (index_t c = 0; c < d.D; ++c) s.gathered[i * d.D + c] = q[c] * scale;
    }
    const index_t key_end = j == own ? last_pos + 1 : std::min(d.T, (j + 1) * C);
    index_t first = 0;  // the gathered rows at or after key j0 (all but in the own block)
    for (index_t j0 = j * C; j0 < key_end; j0 += Bk) {
      const index_t cols = std::min(Bk, key_end - j0);
      while (first < n && t0 + s.rows_of_block[first] < j0) ++first;
      const index_t m = n - first;
      const ConstMatrixMap<T> q(s.gathered + first * d.D, m, d.D, Eigen::OuterStride<>(d.D));
      const ConstMatrixMap<T> k(in.k.at(b, j0, kv_head), cols, d.D,
                                Eigen::OuterStride<>(in.k.stride(1)));
      const ConstMatrixMap<T> v(in.v.at(b, j0, kv_head), cols, d.DV,
                                Eigen::OuterStride<>(in.v.stride(1)));
      MatrixMap<T> scores(s.scores, m, cols, Eigen::OuterStride<>(Bk));
      scores.noalias() = q * k.transpose();
      for (index_t i = 0; i < m; ++i) {
        const index_t r = s.rows_of_block[first + i], pos = t0 + r;
        T* row = s.scores + i * Bk;
        if (j == own) {  // earlier blocks precede every query of the tile: nothing to mask
          for (index_t c = 0; c < cols; ++c) {
            if (j0 + c > pos) row[c] = neg_inf;
          }
        }
        out.row(r) *= online_softmax_step(row, cols, s.max[r], s.sum[r]);
      }
      MatrixMap<T> part(s.part, m, d.DV, Eigen::OuterStride<>(d.DV));
      part.noalias() = scores * v;
      for (index_t i = 0; i < m; ++i) out.row(s.rows_of_block[first + i]) += part.row(i);
    }
  }
  for (index_t r = 0; r < rows; ++r) {
    const T inv = T(1) / s.sum[r];  // every query sees its own key
    T* dst = o.at(b, t0 + r, h);
    for (index_t c = 0; c < d.DV; ++c) dst[c] = s.out[r * d.DV + c] * inv;
  }
}

/// Key blocks of a prefill of T tokens.
inline index_t moba_blocks(index_t T, index_t chunk) noexcept { return (T + chunk - 1) / chunk; }

/// The kbar region every task reads.
template <class T>
struct MobaShared {
  T* kbar;
  MobaShared(ScratchArena& arena, const SoftmaxAttentionDims& d, index_t blocks)
      : kbar(arena.take<T>(static_cast<std::size_t>(d.B * blocks * d.HKV * d.D))) {}
};

}  // namespace detail

/// Bytes of the `Workspace` that lets `moba_attention` run without allocating.
template <class T>
std::size_t moba_attention_workspace_size(const SoftmaxAttentionInputs<T>& in,
                                          const MobaOptions& options,
                                          const Executor& executor) noexcept {
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  const index_t blocks = detail::moba_blocks(d.T, std::max<index_t>(1, options.chunk_size));
  return detail::WorkerScratch::required_bytes(
      executor.concurrency(), measure_scratch<detail::MobaScratch<T>>(d.D, d.DV, blocks),
      measure_scratch<detail::MobaShared<T>>(d, blocks));
}

/// o = MoBA attention of a prefill (see the file comment). Throws sse::invalid_argument, with
/// nothing written, on bad input. Each output row is written by one task, so the bits do not
/// depend on the thread count.
template <class T>
void moba_attention(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                    const MobaOptions& options, Executor& executor, Workspace workspace = {}) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "sse::moba_attention: the element type must be float or double");
  throw_if_error(validate_moba_attention(in, o, options));
  const SoftmaxAttentionDims d = softmax_attention_dims(in);
  const T scale = static_cast<T>(options.scale.value_or(1.0 / std::sqrt(static_cast<double>(d.D))));
  const index_t C = options.chunk_size, blocks = detail::moba_blocks(d.T, C);
  const detail::WorkerScratch scratch(workspace, executor.concurrency(),
                                      measure_scratch<detail::MobaScratch<T>>(d.D, d.DV, blocks),
                                      measure_scratch<detail::MobaShared<T>>(d, blocks));
  ScratchArena shared_arena = scratch.shared();
  const detail::MobaShared<T> shared(shared_arena, d, blocks);
  detail::mean_block_keys(in, C, blocks, shared.kbar);

  constexpr index_t Bq = detail::kMobaQueryTile;
  const index_t tiles_per_block = (std::min(C, d.T) + Bq - 1) / Bq;
  const index_t tiles = blocks * tiles_per_block;
  auto run_task = [&](std::size_t task, std::size_t worker) {
    const auto index = static_cast<index_t>(task);
    const index_t tile = index % tiles, h = index / tiles % d.HQ, b = index / tiles / d.HQ;
    const index_t block = tile / tiles_per_block;
    const index_t t0 = block * C + tile % tiles_per_block * Bq;
    const index_t block_end = std::min(d.T, (block + 1) * C);
    if (t0 >= block_end) return;
    ScratchArena arena = scratch.arena(worker);
    detail::MobaScratch<T> s(arena, d.D, d.DV, blocks);
    detail::moba_query_block(in, o, d, shared.kbar, blocks, options, scale, b, h, t0,
                             std::min(Bq, block_end - t0), s);
  };
  executor.parallel_for(static_cast<std::size_t>(d.B * d.HQ * tiles), run_task);
}

/// `moba_attention` on the calling thread.
template <class T>
void moba_attention(const SoftmaxAttentionInputs<T>& in, TensorView<T, 4> o,
                    const MobaOptions& options) {
  SerialExecutor serial;
  moba_attention(in, o, options, serial);
}

}  // namespace sse
