#pragma once

/// \file
/// Building blocks of entry-point validation: each returns a `Status` whose message names the
/// tensor and says what is wrong, e.g.
///   "q: expected shape [B,T,H,K] = [2,64,4,32], got [2,64,4,16]"
///   "g: element [0,5,1,3] = 0.25 is positive; log decays must be finite and <= 0"

#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <type_traits>

#include "sse/core/bfloat16.hpp"
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
    return Status::error(name, std::string("missing (expected shape ") + labels + " = " +
                                   format_shape(expected) + ")");
  }
  if (view.extents() != expected) {
    return Status::error(name, std::string("expected shape ") + labels + " = " +
                                   format_shape(expected) + ", got " +
                                   format_shape(view.extents()));
  }
  return {};
}

/// Strides are non-negative and the innermost dimension is contiguous (kernels read rows).
template <class T, std::size_t Rank>
Status check_unit_inner_stride(const char* name, const TensorView<T, Rank>& view) {
  for (std::size_t i = 0; i < Rank; ++i) {
    if (view.stride(i) < 0) {
      return Status::error(name, std::string("negative strides are not supported, got ") +
                                     format_shape(view.strides()));
    }
  }
  if (view.extent(Rank - 1) > 1 && view.stride(Rank - 1) != 1) {
    return Status::error(name, "the last dimension must be contiguous (stride 1), got strides " +
                                   format_shape(view.strides()));
  }
  return {};
}

/// Outputs: no two indices may address the same element (tasks write in parallel).
template <class T, std::size_t Rank>
Status check_unique(const char* name, const TensorView<T, Rank>& view) {
  if (!view.is_unique()) {
    return Status::error(name, std::string("strides ") + format_shape(view.strides()) +
                                   " make elements of shape " + format_shape(view.extents()) +
                                   " overlap; an output needs one element per index");
  }
  return {};
}

/// States [..., K, V] ([S,H,K,V] or [S,1+N,H,K,V]): each K x V matrix is contiguous (kernels
/// work on it in place); the outer dimensions may be strided (a slice of a state pool).
template <class T, std::size_t Rank>
Status check_state_layout(const char* name, const TensorView<T, Rank>& view) {
  static_assert(Rank >= 2, "a state tensor ends in [K,V]");
  constexpr std::size_t k_dim = Rank - 2, v_dim = Rank - 1;
  if (view.stride(v_dim) != 1 ||
      (view.extent(k_dim) > 1 && view.stride(k_dim) != view.extent(v_dim))) {
    return Status::error(name, std::string("each [K,V] matrix must be contiguous, got ") +
                                   "strides " + format_shape(view.strides()) + " for shape " +
                                   format_shape(view.extents()));
  }
  return check_unique(name, view);
}

/// The index of the first element (in C order) for which `ok(x)` is false, as a flag and an
/// index. Rows of the last dimension are scanned without branches first.
template <class T, std::size_t Rank, class Predicate>
bool find_violation(const TensorView<T, Rank>& view, Predicate ok, std::array<index_t, Rank>& at) {
  if (view.size() == 0) return false;
  const index_t inner = view.extent(Rank - 1);
  const index_t inner_stride = view.stride(Rank - 1);
  const index_t rows = view.size() / inner;
  std::array<index_t, Rank> index{};
  for (index_t r = 0; r < rows; ++r) {
    index_t offset = 0;  // C-order row r -> outer indices
    index_t rest = r;
    for (std::size_t d = Rank - 1; d-- > 0;) {
      index[d] = rest % view.extent(d);
      rest /= view.extent(d);
      offset += index[d] * view.stride(d);
    }
    const T* row = view.data() + offset;
    // A branch-free pass first, which the compiler vectorizes for contiguous rows; the search
    // for the index only on failure.
    int failures = 0;  // an int sum vectorizes where a bool reduction does not
    if (inner_stride == 1) {
      for (index_t i = 0; i < inner; ++i) failures += ok(row[i]) ? 0 : 1;
    } else {
      for (index_t i = 0; i < inner; ++i) failures += ok(row[i * inner_stride]) ? 0 : 1;
    }
    if (failures == 0) continue;
    for (index_t i = 0; i < inner; ++i) {
      if (!ok(row[i * inner_stride])) {
        at = index;
        at[Rank - 1] = i;
        return true;
      }
    }
  }
  return false;
}

/// Every element x of `view` satisfies lo <= x <= hi (and is not NaN); `what` says why.
template <class T, std::size_t Rank>
Status check_range(const char* name, const TensorView<T, Rank>& view, double lo, double hi,
                   const char* what) {
  std::array<index_t, Rank> at{};
  if (!find_violation(
          view,
          [lo, hi](T x) {
            const double y = to_compute(x);
            return (y >= lo) & (y <= hi);
          },
          at)) {
    return {};
  }
  std::ostringstream message;
  message << "element " << format_shape(at) << " = " << double(to_compute(*view.at(at))) << " "
          << what;
  return Status::error(name, message.str());
}

/// Log decays: finite and <= 0.
template <class T, std::size_t Rank>
Status check_log_decays(const char* name, const TensorView<T, Rank>& view) {
  std::array<index_t, Rank> at{};
  // x <= 0 is false for NaN; -inf is the one non-finite value left to exclude.
  using C = compute_t<std::remove_const_t<T>>;
  const C lowest = std::numeric_limits<C>::lowest();
  if (!find_violation(
          view,
          [lowest](T x) {
            const C y = to_compute(x);
            return (y <= C(0)) & (y >= lowest);
          },
          at))
    return {};
  const C x = to_compute(*view.at(at));
  std::ostringstream message;
  message << "element " << format_shape(at) << " = " << double(x)
          << (std::isfinite(x) ? " is positive" : " is not finite")
          << "; log decays must be finite and <= 0";
  return Status::error(name, message.str());
}

}  // namespace sse::detail
