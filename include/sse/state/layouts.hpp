#pragma once

/// \file
/// Converters between sse's canonical expanded-state layout and upstream's two cache layouts
/// (DESIGN.md section 3). Index 0 of the 1+N states is the shared state, 1..N the partitions.
///
///   canonical  [S, 1+N, H, K, V]
///   masked     [S, (1+N)*H, K, V]   head block n*H + h holds state n of head h
///   varlen     [S + S*N, H, K, V]   rows 0..S-1: shared states; row S + s*N + (n-1): partition
///                                   n (1..N) of sequence s
///
/// The masked layout has the canonical one's memory order (a reshape); the varlen layout is a
/// permutation of whole [H, K, V] blocks. Each converter validates both views, then copies.

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

#include "sse/core/checks.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"

namespace sse {

namespace detail {

/// Calls fn(s, n, h) for every (sequence, state, head).
template <class F>
void for_each_state_block(index_t S, index_t N1, index_t H, F&& fn) {
  for (index_t s = 0; s < S; ++s) {
    for (index_t n = 0; n < N1; ++n) {
      for (index_t h = 0; h < H; ++h) fn(s, n, h);
    }
  }
}

/// The [K, V] block of (sequence s, state n, head h) in upstream's layouts.
template <class T>
T* masked_block(const TensorView<T, 4>& m, index_t H, index_t s, index_t n, index_t h) noexcept {
  return m.at(s, n * H + h);
}
template <class T>
T* varlen_block(const TensorView<T, 4>& v, index_t S, index_t N, index_t s, index_t n,
                index_t h) noexcept {
  return n == 0 ? v.at(s, h) : v.at(S + s * N + (n - 1), h);
}

/// The innermost two dimensions of `view` form contiguous [K, V] blocks.
template <class T, std::size_t Rank>
Status check_blocks_contiguous(const char* name, const TensorView<T, Rank>& view) {
  const bool contiguous =
      view.stride(Rank - 1) == 1 &&
      (view.extent(Rank - 2) <= 1 || view.stride(Rank - 2) == view.extent(Rank - 1));
  if (contiguous) return {};
  return Status::error(name, std::string("each [K,V] block must be contiguous, got strides ") +
                                 format_shape(view.strides()));
}

/// Both views present with the expected shapes, [K, V] blocks contiguous, no overlap.
template <class Src, class Dst, std::size_t R1, std::size_t R2>
Status check_state_copy(const char* src_name, const TensorView<Src, R1>& src,
                        const char* src_labels, const Extents<R1>& src_shape, const char* dst_name,
                        const TensorView<Dst, R2>& dst, const char* dst_labels,
                        const Extents<R2>& dst_shape) {
  for (const Status& s :
       {check_shape(src_name, src, src_labels, src_shape),
        check_shape(dst_name, dst, dst_labels, dst_shape), check_blocks_contiguous(src_name, src),
        check_blocks_contiguous(dst_name, dst), check_unique(dst_name, dst)}) {
    if (!s) return s;
  }
  if (views_overlap(src, dst)) return Status::error(dst_name, std::string("overlaps ") + src_name);
  return {};
}

template <class T>
void copy_block(const T* from, T* to, index_t K, index_t V) noexcept {
  std::copy(from, from + K * V, to);
}

/// Reports `status` if it is an error; else copies every (s, n, h) block from src(s, n, h) to
/// dst(s, n, h). The one body of the four converters below.
template <class SrcBlock, class DstBlock>
void copy_state_blocks(const Status& status, const Extents<5>& canonical_shape, SrcBlock src,
                       DstBlock dst) {
  throw_if_error(status);
  const index_t K = canonical_shape[3], V = canonical_shape[4];
  for_each_state_block(
      canonical_shape[0], canonical_shape[1], canonical_shape[2],
      [&](index_t s, index_t n, index_t h) { copy_block(src(s, n, h), dst(s, n, h), K, V); });
}

}  // namespace detail

/// canonical [S,1+N,H,K,V] -> masked [S,(1+N)*H,K,V]. Each converter throws
/// sse::invalid_argument on mismatched shapes, with nothing written.
template <class Src, class T>
void canonical_to_masked(TensorView<Src, 5> canonical, TensorView<T, 4> masked) {
  static_assert(std::is_same_v<std::remove_const_t<Src>, T>, "sse: one element type");
  const Extents<5> c = canonical.extents();  // [S, 1+N, H, K, V]
  const index_t H = c[2];
  detail::copy_state_blocks(
      detail::check_state_copy("canonical", canonical, "[S,1+N,H,K,V]", c, "masked", masked,
                               "[S,(1+N)*H,K,V]", {c[0], c[1] * H, c[3], c[4]}),
      c, [&](index_t s, index_t n, index_t h) { return canonical.at(s, n, h); },
      [&](index_t s, index_t n, index_t h) { return detail::masked_block(masked, H, s, n, h); });
}

/// masked [S,(1+N)*H,K,V] -> canonical [S,1+N,H,K,V] (the canonical view gives N and H).
template <class Src, class T>
void masked_to_canonical(TensorView<Src, 4> masked, TensorView<T, 5> canonical) {
  static_assert(std::is_same_v<std::remove_const_t<Src>, T>, "sse: one element type");
  const Extents<5> c = canonical.extents();
  const index_t H = c[2];
  detail::copy_state_blocks(
      detail::check_state_copy("masked", masked, "[S,(1+N)*H,K,V]", {c[0], c[1] * H, c[3], c[4]},
                               "canonical", canonical, "[S,1+N,H,K,V]", c),
      c, [&](index_t s, index_t n, index_t h) { return detail::masked_block(masked, H, s, n, h); },
      [&](index_t s, index_t n, index_t h) { return canonical.at(s, n, h); });
}

/// canonical [S,1+N,H,K,V] -> varlen [S+S*N,H,K,V].
template <class Src, class T>
void canonical_to_varlen(TensorView<Src, 5> canonical, TensorView<T, 4> varlen) {
  static_assert(std::is_same_v<std::remove_const_t<Src>, T>, "sse: one element type");
  const Extents<5> c = canonical.extents();
  const index_t S = c[0], N = c[1] - 1;
  detail::copy_state_blocks(
      detail::check_state_copy("canonical", canonical, "[S,1+N,H,K,V]", c, "varlen", varlen,
                               "[S+S*N,H,K,V]", {S + S * N, c[2], c[3], c[4]}),
      c, [&](index_t s, index_t n, index_t h) { return canonical.at(s, n, h); },
      [&](index_t s, index_t n, index_t h) { return detail::varlen_block(varlen, S, N, s, n, h); });
}

/// varlen [S+S*N,H,K,V] -> canonical [S,1+N,H,K,V] (the canonical view gives S and N).
template <class Src, class T>
void varlen_to_canonical(TensorView<Src, 4> varlen, TensorView<T, 5> canonical) {
  static_assert(std::is_same_v<std::remove_const_t<Src>, T>, "sse: one element type");
  const Extents<5> c = canonical.extents();
  const index_t S = c[0], N = c[1] - 1;
  detail::copy_state_blocks(
      detail::check_state_copy("varlen", varlen, "[S+S*N,H,K,V]", {S + S * N, c[2], c[3], c[4]},
                               "canonical", canonical, "[S,1+N,H,K,V]", c),
      c,
      [&](index_t s, index_t n, index_t h) { return detail::varlen_block(varlen, S, N, s, n, h); },
      [&](index_t s, index_t n, index_t h) { return canonical.at(s, n, h); });
}

}  // namespace sse
