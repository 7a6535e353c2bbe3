#pragma once

/// \file
/// `GlaRule`: gated linear attention, one log decay per key channel (DESIGN.md section 1).
///
///   S_t = diag(exp(g_t)) S_{t-1} + k_t^T v_t,      o_t = (scale q_t) S_t
///
/// Recurrent form: one token, one pass over the K rows of S. Chunked form: up to C tokens as
/// matrix products (Eigen), with every exponent formed as a sum of log decays of one sign, so
/// that no factor exceeds 1 and no difference of large running sums is taken (see `chunk`).

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "sse/core/matrix.hpp"
#include "sse/core/workspace.hpp"
#include "sse/rules/row_sparse_key.hpp"
#include "sse/rules/rule_traits.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/simd/state_pass.hpp"
#include "sse/state/state.hpp"

namespace sse {

struct GlaRule {
  static constexpr const char* kName = "gla";
  static constexpr bool kPerKeyDecay = true;
  static constexpr bool kHasBeta = false;
  static constexpr bool kDefaultQkL2norm = false;
  /// Which router set gates a partition's decay in SSE (DESIGN.md section 3). GLA: g2 follows the
  /// writers (a partition decays only where it is written).
  static constexpr bool kDecayFollowsReaders = false;
  /// Offers the row-level sparse update of DESIGN.md section 2b (`step_rows`).
  static constexpr bool kRowSparseKeys = true;
  /// Sub-block length of the chunked form: exponents restart at each sub-block (DESIGN.md
  /// section 1: "split the chunk into sub-blocks of at most 16 tokens").
  static constexpr index_t kSubBlock = 16;

  /// A diagonal sub-block whose log decays sum to at least -kFactorableDecay on every key
  /// channel is one matrix product, (q * exp(c)) (k * exp(-c))^T: its factors stay within
  /// [e^-2, e^2] and the rounding of |c| <= 2 costs at most about 2e-6 relative per entry.
  /// Faster-decaying blocks give every entry its own exponent, a sum of g over (j, t], exact
  /// for any decay (and 16 * 17 / 2 * K exps per block instead of one product).
  static constexpr double kFactorableDecay = 2.0;

  template <class T>
  static bool factorable_block(const T* block_total, index_t K) noexcept {
    for (index_t d = 0; d < K; ++d) {
      if (block_total[d] < T(-kFactorableDecay)) return false;
    }
    return true;
  }

  template <class T>
  struct StepScratch {
    T* decay;  // [kStepTokens, K] exp(g_t)
    StepScratch(ScratchArena& arena, index_t K, index_t /*V*/)
        : decay(arena.take<T>(kStepTokens * K)) {}
  };

  /// Up to kStepTokens tokens, each S <- diag(exp(g)) S + k^T v, then o = q S (q already
  /// scaled), in one pass over S.
  template <class Arch, class T>
  static void steps(Arch arch, const StepToken<T>* x, index_t count, StateView<T> S,
                    StepScratch<T>& scratch) noexcept {
    simd::PassToken<T> tokens[kStepTokens];
    const auto K = static_cast<std::size_t>(S.K);
    for (index_t i = 0; i < count; ++i) {
      T* decay = scratch.decay + static_cast<std::size_t>(i) * K;
      simd::exp(arch, x[i].g, decay, K);
      tokens[i] = {decay, T(0), x[i].k, x[i].v, x[i].q, x[i].o};
    }
    simd::update_read(arch, tokens, static_cast<std::size_t>(count), 1, S);
  }

  /// One token of the row-level sparse update (DESIGN.md section 2b): only the key's rows
  /// decay and are written, S[i] <- exp(g_i) S[i] + k_i v; then o = q S over every row (q is
  /// dense). The other rows are not touched.
  template <class Arch, class T>
  static void step_rows(Arch arch, const T* q, RowSparseKey<T> k, const T* v, const T* g,
                        StateView<T> S, T* o) noexcept {
    const auto V = static_cast<std::size_t>(S.V);
    for (index_t i = 0; i < k.count; ++i) {
      const index_t row = k.rows[i];
      simd::decay_axpy(arch, std::exp(g[row]), k.values[i], v, S.row(row), V);
    }
    simd::vector_matrix(arch, q, S.data, S.K, S.V, o);
  }

  template <class T>
  struct ChunkScratch {
    T* prefix;       // [C, K] b_t: log decay summed from the chunk start through t
    T* local;        // [C, K] c_t: the same sum restarted at t's sub-block start
    T* q_prefix;     // [C, K] q_t * exp(b_t)                     (inter-chunk term)
    T* q_local;      // [C, K] q_t * exp(c_t)                     (rows of off-diagonal blocks)
    T* k_block_end;  // [C, K] k_j * exp(sum of g over (j, end of j's sub-block])
    T* k_chunk_end;  // [C, K] k_j * exp(sum of g over (j, L-1])   (state update)
    T* scores;       // [C, C] A[t, j] = sum_d q_td k_jd exp(b_td - b_jd), j <= t
    T* q_scaled;     // [kSubBlock, K] q_local rows times exp(gap) for one block pair, or
                     //   k rows times exp(-c) for a factorable diagonal block
    T* gap;          // [K] log decay summed over the sub-blocks between two blocks
    T* running;      // [K] a running sum of log decays
    T* factor;       // [K] exp of a log-decay vector

    ChunkScratch(ScratchArena& arena, index_t C, index_t K, index_t /*V*/)
        : prefix(arena.take<T>(C * K)),
          local(arena.take<T>(C * K)),
          q_prefix(arena.take<T>(C * K)),
          q_local(arena.take<T>(C * K)),
          k_block_end(arena.take<T>(C * K)),
          k_chunk_end(arena.take<T>(C * K)),
          scores(arena.take<T>(C * C)),
          q_scaled(arena.take<T>(kSubBlock * K)),
          gap(arena.take<T>(K)),
          running(arena.take<T>(K)),
          factor(arena.take<T>(K)) {}
  };

  /// Up to C tokens (DESIGN.md section 1, chunkwise-parallel form):
  ///   o_t = [(q_t * exp(b_t)) S_0] + sum_{j<=t} A[t, j] v_j
  ///   S_L = diag(exp(b_L)) S_0 + sum_j (k_j * exp(b_L - b_j))^T v_j
  /// A is built per pair of 16-token sub-blocks (I, J). Inside a diagonal block each entry's
  /// exponent is a running sum of g over (j, t]. For I > J the factor exp(b_t - b_j) is split
  /// at the end e of block J into exp(sum over (e, t]) exp(sum over (j, e]), both <= 1, and
  /// the first is itself exp(c_t) times exp(sum of the whole blocks between J and I).
  template <index_t C, class Arch, class T>
  static void chunk(Arch arch, const ChunkInputs<T>& x, StateView<T> S,
                    ChunkScratch<T>& s) noexcept {
    const index_t L = x.L;
    const index_t K = S.K;
    const index_t V = S.V;
    const auto k_len = static_cast<std::size_t>(K);
    const index_t blocks = (L + kSubBlock - 1) / kSubBlock;
    auto block_begin = [](index_t b) { return b * kSubBlock; };
    auto block_end = [L](index_t b) { return std::min(L, (b + 1) * kSubBlock); };

    // Prefix sums b_t (from the chunk start) and c_t (from the sub-block start).
    for (index_t t = 0; t < L; ++t) {
      const T* g = x.g.row(t);
      T* b = s.prefix + t * K;
      T* c = s.local + t * K;
      if (t == 0) {
        std::copy(g, g + K, b);
      } else {
        simd::plus(arch, s.prefix + (t - 1) * K, g, b, k_len);
      }
      if (t % kSubBlock == 0) {
        std::copy(g, g + K, c);
      } else {
        simd::plus(arch, s.local + (t - 1) * K, g, c, k_len);
      }
      simd::mul_exp(arch, x.q + t * K, b, s.q_prefix + t * K, k_len);
      simd::mul_exp(arch, x.q + t * K, c, s.q_local + t * K, k_len);
    }

    // Suffix sums, accumulated backwards from the end of each sub-block and of the chunk.
    std::fill(s.running, s.running + K, T(0));
    for (index_t j = L - 1; j >= 0; --j) {
      if (j < L - 1) simd::add(arch, x.g.row(j + 1), s.running, k_len);
      simd::mul_exp(arch, x.k + j * K, s.running, s.k_chunk_end + j * K, k_len);
    }
    for (index_t blk = 0; blk < blocks; ++blk) {
      std::fill(s.running, s.running + K, T(0));
      for (index_t j = block_end(blk) - 1; j >= block_begin(blk); --j) {
        if (j < block_end(blk) - 1) simd::add(arch, x.g.row(j + 1), s.running, k_len);
        simd::mul_exp(arch, x.k + j * K, s.running, s.k_block_end + j * K, k_len);
      }
    }

    // Scores A [L, L], lower triangle by sub-block pairs.
    MatrixMap<T> A(s.scores, L, L, Eigen::OuterStride<>(C));
    for (index_t I = 0; I < blocks; ++I) {
      const index_t i0 = block_begin(I);
      const index_t rows = block_end(I) - i0;
      // Diagonal block.
      ConstMatrixMap<T> q_rows(s.q_local + i0 * K, rows, K, Eigen::OuterStride<>(K));
      auto A_II = A.block(i0, i0, rows, rows);
      if (factorable_block(s.local + (i0 + rows - 1) * K, K)) {
        // A_II = (q * exp(c)) (k * exp(-c))^T, both factors within [e^-2, e^2].
        for (index_t i = 0; i < rows; ++i) {
          simd::scale(arch, T(-1), s.local + (i0 + i) * K, s.running, k_len);
          simd::mul_exp(arch, x.k + (i0 + i) * K, s.running, s.q_scaled + i * K, k_len);
        }
        ConstMatrixMap<T> k_inverse(s.q_scaled, rows, K, Eigen::OuterStride<>(K));
        A_II.noalias() = q_rows * k_inverse.transpose();
      } else {
        // Each entry's exponent is the sum of g over (j, t], accumulated as j descends.
        for (index_t t = i0; t < i0 + rows; ++t) {
          std::fill(s.running, s.running + K, T(0));
          for (index_t j = t; j >= i0; --j) {
            A(t, j) = simd::dot_exp(arch, x.q + t * K, x.k + j * K, s.running, k_len);
            if (j > i0) simd::add(arch, x.g.row(j), s.running, k_len);
          }
        }
      }
      A_II.template triangularView<Eigen::StrictlyUpper>().setZero();
      // Off-diagonal blocks J < I: A_IJ = (q_local_I * exp(gap)) k_block_end_J^T, where gap
      // sums the whole sub-blocks strictly between J and I.
      std::fill(s.gap, s.gap + K, T(0));
      for (index_t J = I - 1; J >= 0; --J) {
        const index_t j0 = block_begin(J);
        ConstMatrixMap<T> k_rows(s.k_block_end + j0 * K, kSubBlock, K, Eigen::OuterStride<>(K));
        auto A_IJ = A.block(i0, j0, rows, kSubBlock);
        if (J == I - 1) {
          A_IJ.noalias() = q_rows * k_rows.transpose();
          continue;
        }
        simd::add(arch, s.local + (block_end(J + 1) - 1) * K, s.gap, k_len);  // + total of J+1
        simd::exp(arch, s.gap, s.factor, k_len);
        for (index_t i = 0; i < rows; ++i) {
          simd::mul(arch, s.q_local + (i0 + i) * K, s.factor, s.q_scaled + i * K, k_len);
        }
        ConstMatrixMap<T> q_gap(s.q_scaled, rows, K, Eigen::OuterStride<>(K));
        A_IJ.noalias() = q_gap * k_rows.transpose();
      }
    }

    // Outputs: inter-chunk term from S_0, then the causal intra-chunk term, by block rows.
    ConstMatrixMap<T> v(x.v.data, L, V, Eigen::OuterStride<>(x.v.stride));
    MatrixMap<T> o(x.o.data, L, V, Eigen::OuterStride<>(x.o.stride));
    MatrixMap<T> state = S.matrix();
    ConstMatrixMap<T> q_prefix(s.q_prefix, L, K, Eigen::OuterStride<>(K));
    o.noalias() = q_prefix * state;
    for (index_t I = 0; I < blocks; ++I) {
      const index_t i0 = block_begin(I);
      const index_t i1 = block_end(I);
      o.middleRows(i0, i1 - i0).noalias() += A.block(i0, 0, i1 - i0, i1) * v.topRows(i1);
    }

    // State: S_L = diag(exp(b_{L-1})) S_0 + k_chunk_end^T v.
    simd::exp(arch, s.prefix + (L - 1) * K, s.factor, k_len);
    for (index_t d = 0; d < K; ++d) simd::scale_in_place(arch, s.factor[d], S.row(d), V);
    ConstMatrixMap<T> k_end(s.k_chunk_end, L, K, Eigen::OuterStride<>(K));
    state.noalias() += k_end.transpose() * v;
  }
};

}  // namespace sse
