#pragma once

/// \file
/// `GdnRule`: Gated DeltaNet, a scalar decay per token and head plus the delta rule
/// (DESIGN.md section 1).
///
///   S' = exp(g_t) S_{t-1},   u_t = beta_t (v_t - k_t S'),   S_t = S' + k_t^T u_t,
///   o_t = (scale q_t) S_t
///
/// Chunked form: the WY/UT representation, solved by forward substitution (Eigen's unit-lower
/// triangular solve) within the chunk.

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "sse/core/matrix.hpp"
#include "sse/core/workspace.hpp"
#include "sse/rules/rule_traits.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/simd/state_pass.hpp"
#include "sse/state/state.hpp"

namespace sse {

struct GdnRule {
  static constexpr const char* kName = "gdn";
  static constexpr bool kPerKeyDecay = false;
  static constexpr bool kHasBeta = true;
  static constexpr bool kDefaultQkL2norm = true;
  /// Which router set gates a partition's decay in SSE (DESIGN.md section 3). GDN: g2 and beta2
  /// follow the readers (upstream's masks).
  static constexpr bool kDecayFollowsReaders = true;
  /// The row-level sparse update (DESIGN.md section 2b) is defined for GLA's per-row decay only.
  static constexpr bool kRowSparseKeys = false;

  template <class T>
  struct StepScratch {
    T* decay;  // [kStepTokens] exp(g_t)
    StepScratch(ScratchArena& arena, index_t /*K*/, index_t /*V*/)
        : decay(arena.take<T>(kStepTokens)) {}
  };

  /// Up to kStepTokens tokens, each the delta-rule update of S then o = q S (q already
  /// scaled), by strips of columns that take every token while in L1 (each token reads a strip
  /// twice: k S, then the update), so S comes from memory once.
  template <class Arch, class T>
  static void steps(Arch arch, const StepToken<T>* x, index_t count, StateView<T> S,
                    StepScratch<T>& scratch) noexcept {
    simd::PassToken<T> tokens[kStepTokens];
    for (index_t i = 0; i < count; ++i) {
      scratch.decay[i] = std::exp(x[i].g[0]);
      tokens[i] = {scratch.decay + i, x[i].beta[0], x[i].k, x[i].v, x[i].q, x[i].o};
    }
    simd::delta_update_read(arch, tokens, static_cast<std::size_t>(count), S);
  }

  template <class T>
  struct ChunkScratch {
    T* prefix;    // [C]    b_t: log decay summed from the chunk start through t
    T* gamma;     // [C, C] Gamma[i, j] = exp(sum of g over (j, i]), j <= i
    T* lower;     // [C, C] strictly lower diag(beta) (K K^T * Gamma) (the A of (I + A))
    T* scores;    // [C, C] tril(Q K^T * Gamma), diagonal included
    T* w;         // [C, K] W = (I + A)^-1 diag(beta) (K * exp(b))
    T* u;         // [C, V] U = (I + A)^-1 diag(beta) V, then v_new = U - W S_0
    T* q_prefix;  // [C, K] Q * exp(b)
    T* k_end;     // [C, K] K * exp(b_L - b)
    ChunkScratch(ScratchArena& arena, index_t C, index_t K, index_t V)
        : prefix(arena.take<T>(C)),
          gamma(arena.take<T>(C * C)),
          lower(arena.take<T>(C * C)),
          scores(arena.take<T>(C * C)),
          w(arena.take<T>(C * K)),
          u(arena.take<T>(C * V)),
          q_prefix(arena.take<T>(C * K)),
          k_end(arena.take<T>(C * K)) {}
  };

  /// Up to C tokens (DESIGN.md section 1, WY/UT form):
  ///   (I + A) W = diag(beta) (K * exp(b)),  (I + A) U = diag(beta) V,  v_new = U - W S_0,
  ///   o = (Q * exp(b)) S_0 + tril(Q K^T * Gamma) v_new,
  ///   S_L = exp(b_L) S_0 + (K * exp(b_L - b))^T v_new.
  /// Gamma's exponents are running sums of g over (j, i], formed only for j <= i.
  template <index_t C, class Arch, class T>
  static void chunk(Arch arch, const ChunkInputs<T>& x, StateView<T> S,
                    ChunkScratch<T>& s) noexcept {
    const index_t L = x.L;
    const index_t K = S.K;
    const auto k_len = static_cast<std::size_t>(K);

    for (index_t t = 0; t < L; ++t) s.prefix[t] = x.g.row(t)[0] + (t > 0 ? s.prefix[t - 1] : T(0));
    MatrixMap<T> gamma(s.gamma, L, L, Eigen::OuterStride<>(C));
    for (index_t i = 0; i < L; ++i) {
      T exponent = T(0);
      for (index_t j = i; j >= 0; --j) {
        gamma(i, j) = std::exp(exponent);
        exponent += x.g.row(j)[0];
      }
      for (index_t j = i + 1; j < L; ++j) gamma(i, j) = T(0);
    }

    ConstMatrixMap<T> q(x.q, L, K, Eigen::OuterStride<>(K));
    ConstMatrixMap<T> k(x.k, L, K, Eigen::OuterStride<>(K));
    ConstMatrixMap<T> v(x.v.data, L, S.V, Eigen::OuterStride<>(x.v.stride));
    MatrixMap<T> lower(s.lower, L, L, Eigen::OuterStride<>(C));
    MatrixMap<T> scores(s.scores, L, L, Eigen::OuterStride<>(C));
    MatrixMap<T> w(s.w, L, K, Eigen::OuterStride<>(K));
    MatrixMap<T> u(s.u, L, S.V, Eigen::OuterStride<>(S.V));
    MatrixMap<T> q_prefix(s.q_prefix, L, K, Eigen::OuterStride<>(K));
    MatrixMap<T> k_end(s.k_end, L, K, Eigen::OuterStride<>(K));

    // A = strictly-lower(diag(beta) K K^T * Gamma); the unit diagonal is implied by the solve.
    lower.noalias() = k * k.transpose();
    lower.array() *= gamma.array();
    scores.noalias() = q * k.transpose();
    scores.array() *= gamma.array();
    for (index_t i = 0; i < L; ++i) {
      const T beta = x.beta.row(i)[0];
      const T decay = std::exp(s.prefix[i]);
      lower.row(i) *= beta;
      simd::scale(arch, beta * decay, x.k + i * K, s.w + i * K, k_len);
      simd::scale(arch, decay, x.q + i * K, s.q_prefix + i * K, k_len);
      simd::scale(arch, beta, v.row(i).data(), s.u + i * S.V, static_cast<std::size_t>(S.V));
      simd::scale(arch, gamma(L - 1, i), x.k + i * K, s.k_end + i * K, k_len);
    }
    const auto unit_lower = lower.template triangularView<Eigen::UnitLower>();
    unit_lower.solveInPlace(w);
    unit_lower.solveInPlace(u);

    MatrixMap<T> state = S.matrix();
    u.noalias() -= w * state;  // v_new
    MatrixMap<T> o(x.o.data, L, S.V, Eigen::OuterStride<>(x.o.stride));
    o.noalias() = q_prefix * state;
    o.noalias() += scores * u;
    state *= std::exp(s.prefix[L - 1]);
    state.noalias() += k_end.transpose() * u;
  }
};

}  // namespace sse
