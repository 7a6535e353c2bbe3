#pragma once

// NumPy arguments of the Python module as the library's views, and the module's errors.
//
//   float tensors   float32, C-contiguous ndarrays, viewed in place (never converted: a
//                   float64 or strided array raises TypeError naming the argument)
//   integer arrays  cu_seqlens, state_slots, token ids: int32 or int64 ndarrays of any
//                   layout, or (token ids) lists; copied to int64, as they are small
//   bad values      ValueError with the library's one-line message

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <sse/sse.hpp>

namespace sse_python {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style>;

/// What a float tensor argument is, for the messages: "q1: expected ... [B,T,H,K]".
[[noreturn]] inline void raise_type(const std::string& name, const std::string& what) {
  throw py::type_error(name + ": " + what);
}
[[noreturn]] inline void raise_value(const std::string& message) { throw py::value_error(message); }
inline void raise_if_error(const sse::Status& status) {
  if (!status) raise_value(status.message());
}
/// raise_if_error for a validation with the outputs: the library's o and ht are named as the
/// arguments that give them, out_o and out_ht (a fresh output cannot be at fault).
inline void raise_if_output_error(const sse::Status& status) {
  if (status) return;
  if (status.subject() == "o") raise_value("out_o: " + status.detail());
  if (status.subject() == "ht") raise_value("out_ht: " + status.detail());
  raise_value(status.message());
}

/// How `obj` falls short of a C-contiguous float32 ndarray, for TypeError.
inline std::string describe(const py::handle& obj) {
  if (!py::isinstance<py::array>(obj)) {
    return "a " + std::string(py::str(py::type::of(obj).attr("__name__")));
  }
  const auto array = py::reinterpret_borrow<py::array>(obj);
  const std::string dtype = py::str(array.dtype());
  if (dtype != "float32") return "a " + dtype + " array";
  if (!(array.flags() & py::array::c_style)) return "a float32 array that is not C-contiguous";
  return "a float32 array in non-native byte order";
}

/// The C-contiguous float32 ndarray `obj` (a reference, no copy), or TypeError.
inline FloatArray float_array(const py::handle& obj, const std::string& name) {
  if (!py::isinstance<FloatArray>(obj)) {
    raise_type(name, "expected a C-contiguous float32 numpy array (no conversion is made), got " +
                         describe(obj));
  }
  return py::reinterpret_borrow<FloatArray>(obj);
}

inline std::string shape_text(const py::array& array) {
  std::vector<sse::index_t> shape(array.shape(), array.shape() + array.ndim());
  return sse::format_shape(shape);
}

/// A float32 tensor argument of rank R as a view; `shape` names its dimensions for the message.
template <std::size_t R>
sse::TensorView<const float, R> float_view(const FloatArray& array, const std::string& name,
                                           const char* shape) {
  if (array.ndim() != static_cast<py::ssize_t>(R)) {
    raise_value(name + ": expected " + std::to_string(R) + " dimensions " + shape + ", got shape " +
                shape_text(array));
  }
  std::array<sse::index_t, R> extents{};
  for (std::size_t d = 0; d < R; ++d) extents[d] = array.shape(static_cast<py::ssize_t>(d));
  return {array.data(), extents};
}

/// A float32 output argument (ht given by the caller): writable as well.
template <std::size_t R>
sse::TensorView<float, R> writable_view(const FloatArray& array, const std::string& name,
                                        const char* shape) {
  if (!array.writeable()) raise_type(name, "expected a writable array");
  const auto view = float_view<R>(array, name, shape);
  return {const_cast<float*>(view.data()), view.extents()};
}

/// An output view with extents only, for validating the inputs before the outputs exist:
/// validation reads the extents, never an element.
template <std::size_t R>
sse::TensorView<float, R> shape_only(const std::array<sse::index_t, R>& extents) {
  static float placeholder = 0;
  return {&placeholder, extents};
}

/// A fresh float32 ndarray of `shape` (for outputs).
template <std::size_t R>
FloatArray new_float_array(const std::array<sse::index_t, R>& shape) {
  std::vector<py::ssize_t> dims(shape.begin(), shape.end());
  return FloatArray(dims);
}

/// An output: the caller's array `given` (an `out_*` argument; its shape is checked with the
/// call's validation, it must be writable) or, when None, a fresh one of `extents`.
template <std::size_t R>
FloatArray output_array(const py::object& given, const std::string& name,
                        const std::array<sse::index_t, R>& extents) {
  return given.is_none() ? new_float_array<R>(extents) : float_array(given, name);
}

/// An integer array argument (int32 or int64 ndarray, or with `lists` a list of ints),
/// flattened to int64; `rank` checks its dimensions (0: 1 or 2).
inline std::vector<std::int64_t> int_values(const py::handle& obj, const std::string& name,
                                            int rank, std::vector<py::ssize_t>* shape = nullptr,
                                            bool lists = false) {
  py::array array;
  if (py::isinstance<py::array>(obj)) {
    array = py::reinterpret_borrow<py::array>(obj);
    const char kind = array.dtype().kind();
    if (kind != 'i' || (array.dtype().itemsize() != 4 && array.dtype().itemsize() != 8)) {
      raise_type(name, "expected an int32 or int64 array, got " + describe(obj));
    }
  } else if (lists && (py::isinstance<py::list>(obj) || py::isinstance<py::tuple>(obj))) {
    // As NumPy reads the list, without a cast: 1.5 or "7" is an error, not a token id.
    array = py::array::ensure(obj);
    const bool empty = array && array.size() == 0;
    if (!array || (!empty && array.dtype().kind() != 'i' && array.dtype().kind() != 'u')) {
      raise_type(name, "expected a list of ints (or of equally long lists of ints)");
    }
  } else {
    raise_type(name, std::string("expected an int32 or int64 numpy array") +
                         (lists ? " or a list of ints" : "") + ", got " + describe(obj));
  }
  if (rank > 0 ? array.ndim() != rank : (array.ndim() < 1 || array.ndim() > 2)) {
    raise_value(name + ": expected " + (rank > 0 ? std::to_string(rank) : "1 or 2") +
                " dimensions, got shape " + shape_text(array));
  }
  if (shape != nullptr) shape->assign(array.shape(), array.shape() + array.ndim());
  const auto as_int64 =
      py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(array);
  return {as_int64.data(), as_int64.data() + as_int64.size()};
}

/// A view of an int64 vector as a rank-1 tensor (absent when the vector is).
inline sse::TensorView<const std::int64_t, 1> int_view(const std::vector<std::int64_t>& values,
                                                       bool present) {
  if (!present) return {};
  return {values.data(), {static_cast<sse::index_t>(values.size())}};
}

/// "auto" | "masked" | "sparse".
inline sse::Path path_of(const std::string& path) {
  if (path == "auto") return sse::Path::kAuto;
  if (path == "masked") return sse::Path::kMasked;
  if (path == "sparse") return sse::Path::kSparse;
  raise_value("path: expected 'auto', 'masked' or 'sparse', got '" + path + "'");
}

/// "auto" | "chunk" | "recurrent".
inline sse::Mode mode_of(const std::string& mode) {
  if (mode == "auto") return sse::Mode::kAuto;
  if (mode == "chunk") return sse::Mode::kChunk;
  if (mode == "recurrent") return sse::Mode::kRecurrent;
  raise_value("mode: expected 'auto', 'chunk' or 'recurrent', got '" + mode + "'");
}

/// Calls f(sse::GlaRule{}) or f(sse::GdnRule{}) for base "gla" or "gdn".
template <class F>
decltype(auto) with_rule(const std::string& base, F&& f) {
  if (base == "gla") return f(sse::GlaRule{});
  if (base == "gdn") return f(sse::GdnRule{});
  raise_value("base: expected 'gla' or 'gdn', got '" + base + "'");
}

}  // namespace sse_python
