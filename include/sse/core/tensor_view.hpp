#pragma once

/// \file
/// `TensorView<T, Rank>`: a non-owning strided view (pointer + extents + strides in elements),
/// row-major by default, in the spirit of std::mdspan with layout_stride. A view whose data is
/// null is *absent* (optional inputs such as h0 or cu_seqlens).

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "sse/core/shape.hpp"

namespace sse {

template <class T, std::size_t Rank>
class TensorView {
  static_assert(Rank >= 1, "sse::TensorView needs a rank of at least 1");

 public:
  using element_type = T;
  static constexpr std::size_t kRank = Rank;

  /// An absent view.
  constexpr TensorView() noexcept = default;

  /// A row-major (C order) view of `extents`.
  constexpr TensorView(T* data, const Extents<Rank>& extents) noexcept
      : data_(data), extents_(extents), strides_(row_major_strides(extents)) {}

  /// A view with explicit strides (in elements, not bytes).
  constexpr TensorView(T* data, const Extents<Rank>& extents, const Extents<Rank>& strides) noexcept
      : data_(data), extents_(extents), strides_(strides) {}

  /// A view of mutable data converts to a view of const data.
  template <class U, class = std::enable_if_t<std::is_same_v<const U, T> && !std::is_same_v<U, T>>>
  constexpr TensorView(const TensorView<U, Rank>& other) noexcept  // NOLINT: implicit on purpose
      : data_(other.data()), extents_(other.extents()), strides_(other.strides()) {}

  constexpr T* data() const noexcept { return data_; }
  constexpr const Extents<Rank>& extents() const noexcept { return extents_; }
  constexpr const Extents<Rank>& strides() const noexcept { return strides_; }
  constexpr index_t extent(std::size_t i) const noexcept { return extents_[i]; }
  constexpr index_t stride(std::size_t i) const noexcept { return strides_[i]; }

  /// Whether the view refers to data (optional inputs are absent when null).
  constexpr bool present() const noexcept { return data_ != nullptr; }
  /// Number of elements.
  constexpr index_t size() const noexcept { return element_count(extents_); }

  /// One past the largest offset the view can address (0 when it has no elements); the number
  /// of elements of the underlying buffer it needs (mdspan's required_span_size).
  constexpr index_t required_span_size() const noexcept {
    index_t span = 1;
    for (std::size_t i = 0; i < Rank; ++i) {
      if (extents_[i] == 0) return 0;
      span += (extents_[i] - 1) * strides_[i];
    }
    return span;
  }

  /// Whether the elements are laid out in C order with no gaps.
  constexpr bool is_row_major_contiguous() const noexcept {
    const Extents<Rank> packed = row_major_strides(extents_);
    for (std::size_t i = 0; i < Rank; ++i) {
      if (extents_[i] > 1 && strides_[i] != packed[i]) return false;
    }
    return true;
  }

  /// Whether distinct indices address distinct elements (mdspan's is_unique), checked for
  /// non-negative strides: ordered by stride, each dimension of extent > 1 steps over the
  /// whole extent of the dimensions below it.
  constexpr bool is_unique() const noexcept {
    if (size() == 0) return true;
    std::array<std::size_t, Rank> order{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < Rank; ++i) {
      if (extents_[i] > 1) order[n++] = i;
    }
    for (std::size_t i = 1; i < n; ++i) {  // insertion sort by stride: Rank is tiny
      for (std::size_t j = i; j > 0 && strides_[order[j]] < strides_[order[j - 1]]; --j) {
        const std::size_t tmp = order[j];
        order[j] = order[j - 1];
        order[j - 1] = tmp;
      }
    }
    index_t covered = 1;  // elements spanned by the dimensions already placed
    for (std::size_t i = 0; i < n; ++i) {
      if (strides_[order[i]] < covered) return false;
      covered = strides_[order[i]] * extents_[order[i]];
    }
    return true;
  }

  /// Pointer to the element at `indices` (fewer indices than the rank address a sub-block).
  template <class... Index>
  constexpr T* at(Index... indices) const noexcept {
    static_assert(sizeof...(Index) <= Rank, "sse::TensorView::at: too many indices");
    const std::array<index_t, sizeof...(Index)> idx{static_cast<index_t>(indices)...};
    index_t offset = 0;
    for (std::size_t i = 0; i < sizeof...(Index); ++i) offset += idx[i] * strides_[i];
    return data_ + offset;
  }

  /// Pointer to the element at a full index array.
  constexpr T* at(const std::array<index_t, Rank>& index) const noexcept {
    index_t offset = 0;
    for (std::size_t i = 0; i < Rank; ++i) offset += index[i] * strides_[i];
    return data_ + offset;
  }

  template <class... Index>
  constexpr T& operator()(Index... indices) const noexcept {
    static_assert(sizeof...(Index) == Rank, "sse::TensorView::operator(): one index per dimension");
    return *at(indices...);
  }

  static constexpr Extents<Rank> row_major_strides(const Extents<Rank>& extents) noexcept {
    Extents<Rank> strides{};
    index_t s = 1;
    for (std::size_t i = Rank; i-- > 0;) {
      strides[i] = s;
      s *= extents[i];
    }
    return strides;
  }

 private:
  T* data_ = nullptr;
  Extents<Rank> extents_{};
  Extents<Rank> strides_{};
};

/// Whether the element ranges addressed by two views overlap (by address interval; used to
/// reject outputs that overlap inputs, the one allowed aliasing being the exact same view).
template <class T, class U, std::size_t R1, std::size_t R2>
bool views_overlap(const TensorView<T, R1>& a, const TensorView<U, R2>& b) noexcept {
  if (!a.present() || !b.present()) return false;
  // Compared as integers: relational operators on pointers into different objects are
  // unspecified in C++.
  const auto a_begin = reinterpret_cast<std::uintptr_t>(a.data());
  const auto b_begin = reinterpret_cast<std::uintptr_t>(b.data());
  const auto a_end = a_begin + static_cast<std::uintptr_t>(a.required_span_size()) * sizeof(T);
  const auto b_end = b_begin + static_cast<std::uintptr_t>(b.required_span_size()) * sizeof(U);
  return a_begin < b_end && b_begin < a_end;
}

}  // namespace sse
