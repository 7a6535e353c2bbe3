#pragma once

/// \file
/// Building blocks of entry-point validation: each returns a `Status` whose message names the
/// tensor and says what is wrong, e.g.
///   "q: expected shape [B,T,H,K] = [2,64,4,32], got [2,64,4,16]"
///   "g: element [0,5,1,3] = 0.25 is positive; log decays must be finite and <= 0"

#include <array>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>

#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"

namespace sse::detail {

/// A required tensor is missing when it has no data, unless it has no elements either and a
/// shape was given (an empty std::vector's data() is null).
template <class T, std::size_t Rank>
bool is_missing(const TensorView<T, Rank>& view) noexcept {
  return !view.present() && (view.size() != 0 || view.extents() == Extents<Rank>{});
}

/// `view` (named `name`) is present and has extents `expected`; `labels` names each dimension.
template <class T, std::size_t Rank>
Status check_shape(const char* name, const TensorView<T, Rank>& view, const char* labels,
                   const Extents<Rank>& expected) {
  // A tensor with no elements may have a null pointer (an empty std::vector's data()).
  if (!view.present() && !(element_count(expected) == 0 && view.extents() == expected)) {
    return Status::error(std::string(name) + ": missing (expected shape " + labels + " = " +
                         format_shape(expected) + ")");
  }
  if (view.extents() != expected) {
    return Status::error(std::string(name) + ": expected shape " + labels + " = " +
                         format_shape(expected) + ", got " + format_shape(view.extents()));
  }
  return {};
}

/// Strides are non-negative and the innermost dimension is contiguous (kernels read rows).
template <class T, std::size_t Rank>
Status check_unit_inner_stride(const char* name, const TensorView<T, Rank>& view) {
  for (std::size_t i = 0; i < Rank; ++i) {
    if (view.stride(i) < 0) {
      return Status::error(std::string(name) + ": negative strides are not supported, got " +
                           format_shape(view.strides()));
    }
  }
  if (view.extent(Rank - 1) > 1 && view.stride(Rank - 1) != 1) {
    return Status::error(std::string(name) + ": the last dimension must be contiguous (stride 1), " +
                         "got strides " + format_shape(view.strides()));
  }
  return {};
}

/// Outputs: no two indices may address the same element (tasks write in parallel).
template <class T, std::size_t Rank>
Status check_unique(const char* name, const TensorView<T, Rank>& view) {
  if (!view.is_unique()) {
    return Status::error(std::string(name) + ": strides " + format_shape(view.strides()) +
                         " make elements of shape " + format_shape(view.extents()) +
                         " overlap; an output needs one element per index");
  }
  return {};
}

/// States [S, H, K, V]: each K x V matrix is contiguous (kernels work on it in place); the
/// outer dimensions may be strided (a slice of a state pool).
template <class T>
Status check_state_layout(const char* name, const TensorView<T, 4>& view) {
  if (view.stride(3) != 1 || (view.extent(2) > 1 && view.stride(2) != view.extent(3))) {
    return Status::error(std::string(name) + ": each [K,V] matrix must be contiguous, got " +
                         "strides " + format_shape(view.strides()) + " for shape " +
                         format_shape(view.extents()));
  }
  return check_unique(name, view);
}

/// Calls fn(value, index) for every element until fn returns false; returns whether it ran
/// to the end.
template <class T, std::size_t Rank, class F>
bool for_each_element(const TensorView<T, Rank>& view, F&& fn) {
  if (view.size() == 0) return true;
  std::array<index_t, Rank> index{};
  for (;;) {
    index_t offset = 0;
    for (std::size_t i = 0; i < Rank; ++i) offset += index[i] * view.stride(i);
    if (!fn(view.data()[offset], index)) return false;
    std::size_t d = Rank;
    while (d-- > 0) {
      if (++index[d] < view.extent(d)) break;
      index[d] = 0;
      if (d == 0) return true;
    }
  }
}

/// Every element x of `view` satisfies lo <= x <= hi (and is not NaN); `what` says why.
template <class T, std::size_t Rank>
Status check_range(const char* name, const TensorView<T, Rank>& view, double lo, double hi,
                   const char* what) {
  Status status;
  for_each_element(view, [&](T x, const std::array<index_t, Rank>& index) {
    const auto value = static_cast<double>(x);
    if (value >= lo && value <= hi) return true;
    std::ostringstream message;
    message << name << ": element " << format_shape(index) << " = " << value << " " << what;
    status = Status::error(message.str());
    return false;
  });
  return status;
}

/// Log decays: finite and <= 0.
template <class T, std::size_t Rank>
Status check_log_decays(const char* name, const TensorView<T, Rank>& view) {
  Status status;
  for_each_element(view, [&](T x, const std::array<index_t, Rank>& index) {
    if (std::isfinite(x) && x <= T(0)) return true;
    std::ostringstream message;
    message << name << ": element " << format_shape(index) << " = " << static_cast<double>(x)
            << (std::isfinite(x) ? " is positive" : " is not finite")
            << "; log decays must be finite and <= 0";
    status = Status::error(message.str());
    return false;
  });
  return status;
}

}  // namespace sse::detail
