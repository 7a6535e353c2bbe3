#pragma once

/// \file
/// One pass over a K x V state for one token (the decode path), by strips of columns: a strip
/// of W batches of u and of the output stays in registers while the pass walks down the K
/// rows, so each state element is loaded once and (when updated) stored once. Row-by-row
/// passes load every row twice and the output once per row; at decode the state is the only
/// large operand, so this is what brings a step near the cache bandwidth.

#include <cstddef>
#include <type_traits>

#include "sse/config.hpp"
#include "sse/simd/row_ops.hpp"
#include "sse/state/state.hpp"

namespace sse::simd {
namespace detail {

/// Batches per strip of `update_read`: W accumulators, W loads of u and the broadcasts fit the
/// 16 registers of SSE2/AVX2 (AVX-512 has 32). Fewer would leave the pass waiting on the FMA
/// latency of each accumulator's chain; the pass is bound by its one store per batch anyway.
inline constexpr std::size_t kUpdateStripBatches = 4;
/// Batches per strip of `vector_matrix`, which only loads: twice the chains to hide the FMA
/// latency, 8 accumulators and a broadcast.
inline constexpr std::size_t kReadStripBatches = 8;
/// Rows per block: the strips of one block cover 16 whole rows (8 KiB at V = 128) before the
/// next block, so the pass streams through the state nearly in order; the partial outputs
/// wait in the output row between blocks (in L1).
inline constexpr index_t kRowBlock = 16;

/// Rows [d0, d1) by columns [j, j + W B::size) of `update_read`.
template <std::size_t W, class Arch, class T>
inline void update_read_strip(index_t d0, index_t d1, std::size_t j, const T* decay,
                              std::size_t decay_stride, const T* k, const T* u, const T* q,
                              StateView<T> S, T* o) noexcept {
  using B = Batch<T, Arch>;
  B out[W];
  for (std::size_t w = 0; w < W; ++w) {
    out[w] = d0 == 0 ? B(T(0)) : B::load_unaligned(o + j + w * B::size);
  }
  for (index_t d = d0; d < d1; ++d) {
    T* row = S.row(d) + j;
    const B a(decay[static_cast<std::size_t>(d) * decay_stride]);
    const B kd(k[d]);
    const B qd(q[d]);
    for (std::size_t w = 0; w < W; ++w) {
      const B r = xsimd::fma(kd, B::load_unaligned(u + j + w * B::size),
                             a * B::load_unaligned(row + w * B::size));
      r.store_unaligned(row + w * B::size);
      out[w] = xsimd::fma(qd, r, out[w]);
    }
  }
  for (std::size_t w = 0; w < W; ++w) out[w].store_unaligned(o + j + w * B::size);
}

/// Columns [j, j + W B::size) of `delta_update_read`: the strip's k S, then its update and
/// readout while the strip (K rows of W batches, 16 KiB at K = 128 on AVX2) is still in L1.
template <std::size_t W, class Arch, class T>
inline void delta_update_read_strip(std::size_t j, T decay, T beta, const T* k, const T* v,
                                    const T* q, StateView<T> S, T* o) noexcept {
  using B = Batch<T, Arch>;
  B u[W];
  for (std::size_t w = 0; w < W; ++w) u[w] = B(T(0));
  for (index_t d = 0; d < S.K; ++d) {  // u = k S (this strip)
    const T* row = S.row(d) + j;
    const B kd(k[d]);
    for (std::size_t w = 0; w < W; ++w)
      u[w] = xsimd::fma(kd, B::load_unaligned(row + w * B::size), u[w]);
  }
  const B a(decay), b(beta);
  for (std::size_t w = 0; w < W; ++w) {  // u = beta (v - decay k S)
    u[w] = b * (B::load_unaligned(v + j + w * B::size) - a * u[w]);
  }
  B out[W];
  for (std::size_t w = 0; w < W; ++w) out[w] = B(T(0));
  for (index_t d = 0; d < S.K; ++d) {
    T* row = S.row(d) + j;
    const B kd(k[d]);
    const B qd(q[d]);
    for (std::size_t w = 0; w < W; ++w) {
      const B r = xsimd::fma(kd, u[w], a * B::load_unaligned(row + w * B::size));
      r.store_unaligned(row + w * B::size);
      out[w] = xsimd::fma(qd, r, out[w]);
    }
  }
  for (std::size_t w = 0; w < W; ++w) out[w].store_unaligned(o + j + w * B::size);
}

/// Rows [d0, d1) by columns [j, j + W B::size) of `vector_matrix`.
template <std::size_t W, class Arch, class T>
inline void vector_matrix_strip(index_t d0, index_t d1, std::size_t j, const T* x, const T* S,
                                index_t V, T* out) noexcept {
  using B = Batch<T, Arch>;
  B acc[W];
  for (std::size_t w = 0; w < W; ++w) {
    acc[w] = d0 == 0 ? B(T(0)) : B::load_unaligned(out + j + w * B::size);
  }
  for (index_t d = d0; d < d1; ++d) {
    const T* row = S + d * V + static_cast<index_t>(j);
    const B xd(x[d]);
    for (std::size_t w = 0; w < W; ++w) {
      acc[w] = xsimd::fma(xd, B::load_unaligned(row + w * B::size), acc[w]);
    }
  }
  for (std::size_t w = 0; w < W; ++w) acc[w].store_unaligned(out + j + w * B::size);
}

/// Calls strip(W, d0, d1, j) for every block of rows [d0, d1) of K and every strip of columns
/// of n: whole strips of kStripBatches batches, then single batches. Returns the first column
/// of the scalar tail, which the caller handles.
template <class T, class Arch, std::size_t kStripBatches, class Strip>
inline std::size_t for_each_block(index_t K, std::size_t n, Strip&& strip) noexcept {
  constexpr std::size_t lanes = Batch<T, Arch>::size;
  constexpr std::size_t wide = kStripBatches * lanes;
  std::size_t j = 0;
  for (index_t d0 = 0; d0 < K; d0 += kRowBlock) {
    const index_t d1 = d0 + kRowBlock < K ? d0 + kRowBlock : K;
    for (j = 0; j + wide <= n; j += wide) {
      strip(std::integral_constant<std::size_t, kStripBatches>{}, d0, d1, j);
    }
    for (; j + lanes <= n; j += lanes) strip(std::integral_constant<std::size_t, 1>{}, d0, d1, j);
  }
  return n - n % lanes;
}

}  // namespace detail

/// One token of a multi-token pass (`update_read`, `delta_update_read`): its decay (per row
/// with stride 1, a scalar with stride 0), beta (delta rule only), key k [K], the row u [V]
/// added (GLA: v; the delta rule: v, from which it forms its own u), query q [K], and the
/// output row o [V] it writes.
template <class T>
struct PassToken {
  const T* decay;
  T beta;
  const T* k;
  const T* u;
  const T* q;
  T* o;
};

/// For each token in order: S[d] <- decay_d S[d] + k_d u for every row d, then o = q S. One
/// pass over S for all `count` tokens: each block of 16 rows by one strip of columns takes
/// every token while it is in L1. decay_d = decay[d * decay_stride]: stride 1 for a per-row
/// decay (GLA), 0 for a scalar. Each element of S and o sees the same operations in the same
/// order as `count` one-token passes (o[j] summed over d in order), so grouping tokens does not
/// change a bit.
template <class Arch, class T>
inline void update_read(Arch, const PassToken<T>* tokens, std::size_t count,
                        std::size_t decay_stride, StateView<T> S) noexcept {
  const auto V = static_cast<std::size_t>(S.V);
  const std::size_t tail = detail::for_each_block<T, Arch, detail::kUpdateStripBatches>(
      S.K, V, [&](auto W, index_t d0, index_t d1, std::size_t j) {
        for (std::size_t i = 0; i < count; ++i) {
          const PassToken<T>& x = tokens[i];
          detail::update_read_strip<decltype(W)::value, Arch>(d0, d1, j, x.decay, decay_stride, x.k,
                                                              x.u, x.q, S, x.o);
        }
      });
  for (std::size_t j = tail; j < V; ++j) {
    for (std::size_t i = 0; i < count; ++i) {
      const PassToken<T>& x = tokens[i];
      T acc = T(0);
      for (index_t d = 0; d < S.K; ++d) {
        T& s = S.row(d)[j];
        s = x.k[d] * x.u[j] + x.decay[static_cast<std::size_t>(d) * decay_stride] * s;
        acc += x.q[d] * s;
      }
      x.o[j] = acc;
    }
  }
}

/// One token of `update_read`.
template <class Arch, class T>
inline void update_read(Arch arch, const T* decay, std::size_t decay_stride, const T* k, const T* u,
                        const T* q, StateView<T> S, T* SSE_RESTRICT o) noexcept {
  const PassToken<T> token{decay, T(0), k, u, q, o};
  update_read(arch, &token, 1, decay_stride, S);
}

/// The delta rule's step with a scalar decay (Gated DeltaNet, DESIGN.md section 1), for each
/// token in order (decay = *token.decay, v = token.u):
///   u = beta (v - decay k S),  S <- decay S + k^T u,  o = q S.
/// Column j of u needs only column j of S, so the state is walked by strips of columns, and a
/// strip takes every token while it is in L1 (two reads per token: k S, then the update):
/// S comes from memory once for all `count` tokens. Each column sees the same operations in
/// the same order as in `count` one-token passes.
template <class Arch, class T>
inline void delta_update_read(Arch, const PassToken<T>* tokens, std::size_t count,
                              StateView<T> S) noexcept {
  using B = Batch<T, Arch>;
  const auto V = static_cast<std::size_t>(S.V);
  constexpr std::size_t wide = detail::kUpdateStripBatches * B::size;
  auto strip = [&](auto W, std::size_t j) {
    for (std::size_t i = 0; i < count; ++i) {
      const PassToken<T>& x = tokens[i];
      detail::delta_update_read_strip<decltype(W)::value, Arch>(j, *x.decay, x.beta, x.k, x.u, x.q,
                                                                S, x.o);
    }
  };
  std::size_t j = 0;
  for (; j + wide <= V; j += wide) {
    strip(std::integral_constant<std::size_t, detail::kUpdateStripBatches>{}, j);
  }
  for (; j + B::size <= V; j += B::size) strip(std::integral_constant<std::size_t, 1>{}, j);
  for (; j < V; ++j) {
    for (std::size_t i = 0; i < count; ++i) {
      const PassToken<T>& x = tokens[i];
      const T decay = *x.decay;
      T u = T(0);
      for (index_t d = 0; d < S.K; ++d) u += x.k[d] * S.row(d)[j];
      u = x.beta * (x.u[j] - decay * u);
      T acc = T(0);
      for (index_t d = 0; d < S.K; ++d) {
        T& s = S.row(d)[j];
        s = x.k[d] * u + decay * s;
        acc += x.q[d] * s;
      }
      x.o[j] = acc;
    }
  }
}

/// One token of `delta_update_read`.
template <class Arch, class T>
inline void delta_update_read(Arch arch, T decay, T beta, const T* k, const T* v, const T* q,
                              StateView<T> S, T* SSE_RESTRICT o) noexcept {
  const PassToken<T> token{&decay, beta, k, v, q, o};
  delta_update_read(arch, &token, 1, S);
}

/// out = x S for a K x V state S (row-major), in one pass over S; each out[j] summed over d in
/// order.
template <class Arch, class T>
inline void vector_matrix(Arch, const T* x, const T* S, index_t K, index_t V,
                          T* SSE_RESTRICT out) noexcept {
  const std::size_t tail = detail::for_each_block<T, Arch, detail::kReadStripBatches>(
      K, static_cast<std::size_t>(V), [&](auto W, index_t d0, index_t d1, std::size_t j) {
        detail::vector_matrix_strip<decltype(W)::value, Arch>(d0, d1, j, x, S, V, out);
      });
  for (auto j = static_cast<index_t>(tail); j < V; ++j) {
    T acc = T(0);
    for (index_t d = 0; d < K; ++d) acc += x[d] * S[d * V + j];
    out[j] = acc;
  }
}

}  // namespace sse::simd
