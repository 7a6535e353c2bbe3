#pragma once

/// \file
/// NumPy .npy files: read (format versions 1.0, 2.0 and 3.0) and write (1.0). Supported dtypes
/// are little-endian float32, float64, int32 and int64 in C order. Every header field and the
/// file size are validated: a malformed, truncated, over-long, big-endian or Fortran-order file
/// is an error naming the file and the problem. The host is assumed little-endian (x86-64,
/// AArch64).

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "sse/core/shape.hpp"
#include "sse/core/tensor_view.hpp"
#include "sse/error.hpp"

namespace sse::io {

enum class DType { kFloat32, kFloat64, kInt32, kInt64 };

/// "float32", ...
inline const char* dtype_name(DType dtype) noexcept {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
  }
  return "?";
}

inline std::size_t dtype_size(DType dtype) noexcept {
  return dtype == DType::kFloat32 || dtype == DType::kInt32 ? 4 : 8;
}

template <class T>
constexpr DType dtype_of() noexcept {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double> ||
                    std::is_same_v<T, std::int32_t> || std::is_same_v<T, std::int64_t>,
                "sse::io: .npy arrays hold float, double, std::int32_t or std::int64_t");
  if constexpr (std::is_same_v<T, float>) return DType::kFloat32;
  if constexpr (std::is_same_v<T, double>) return DType::kFloat64;
  if constexpr (std::is_same_v<T, std::int32_t>) return DType::kInt32;
  return DType::kInt64;
}

/// An array read from a .npy file: dtype, shape (rank 0 allowed) and the raw C-order data.
struct NpyArray {
  DType dtype = DType::kFloat32;
  std::vector<index_t> shape;
  std::vector<std::byte> bytes;

  index_t size() const noexcept { return element_count(shape); }
  std::size_t rank() const noexcept { return shape.size(); }

  /// The elements, converted to T (any of the four dtypes converts to any T).
  template <class T>
  std::vector<T> to_vector() const {
    std::vector<T> out(static_cast<std::size_t>(size()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = element<T>(i);
    return out;
  }

  template <class T>
  T element(std::size_t i) const noexcept {
    switch (dtype) {
      case DType::kFloat32:
        return static_cast<T>(load<float>(i));
      case DType::kFloat64:
        return static_cast<T>(load<double>(i));
      case DType::kInt32:
        return static_cast<T>(load<std::int32_t>(i));
      case DType::kInt64:
        return static_cast<T>(load<std::int64_t>(i));
    }
    return T{};
  }

 private:
  template <class U>
  U load(std::size_t i) const noexcept {
    U value;
    std::memcpy(&value, bytes.data() + i * sizeof(U), sizeof(U));
    return value;
  }
};

namespace detail {

/// A cursor over the header's Python dict literal.
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : text_(text) {}

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  bool read_string(std::string& out) {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return false;
    const char quote = text_[pos_++];
    const std::size_t end = text_.find(quote, pos_);
    if (end == std::string::npos) return false;
    out = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool read_word(std::string& out) {
    skip_space();
    const std::size_t begin = pos_;
    while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    out = text_.substr(begin, pos_ - begin);
    return !out.empty();
  }
  bool read_extent(index_t& out) {
    skip_space();
    const std::size_t begin = pos_;
    index_t value = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      const int digit = text_[pos_++] - '0';
      if (value > (std::numeric_limits<index_t>::max() - digit) / 10) return false;
      value = value * 10 + digit;
    }
    out = value;
    return pos_ > begin;
  }
  bool at_end() {
    skip_space();
    return pos_ == text_.size();
  }

 private:
  const std::string& text_;
  std::size_t pos_ = 0;
};

inline Status parse_descr(const std::string& descr, DType& dtype) {
  if (descr.size() == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=')) {
    const std::string code = descr.substr(1);
    if (code == "f4")
      dtype = DType::kFloat32;
    else if (code == "f8")
      dtype = DType::kFloat64;
    else if (code == "i4")
      dtype = DType::kInt32;
    else if (code == "i8")
      dtype = DType::kInt64;
    else
      return Status::error("unsupported dtype '" + sse::detail::quoted_text(descr) +
                           "' (expected float32, float64, int32 or int64)");
    if (descr[0] == '|')
      return Status::error("invalid dtype '" + sse::detail::quoted_text(descr) +
                           "' ('|' is for one-byte types)");
    return {};
  }
  if (!descr.empty() && descr[0] == '>') {
    return Status::error("big-endian dtype '" + sse::detail::quoted_text(descr) +
                         "' is not supported (expected little-endian)");
  }
  return Status::error("unsupported dtype '" + sse::detail::quoted_text(descr) +
                       "' (expected float32, float64, int32 or int64)");
}

/// Parses the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
inline Status parse_header_dict(const std::string& text, NpyArray& out) {
  HeaderParser p(text);
  if (!p.consume('{')) return Status::error("malformed header: expected a '{' dict");
  bool have_descr = false, have_order = false, have_shape = false;
  while (!p.consume('}')) {
    std::string key;
    if (!p.read_string(key)) return Status::error("malformed header: expected a quoted key");
    if (!p.consume(':'))
      return Status::error("malformed header: expected ':' after '" +
                           sse::detail::quoted_text(key) + "'");
    if (key == "descr") {
      std::string descr;
      if (have_descr || !p.read_string(descr))
        return Status::error("malformed header: bad 'descr'");
      if (Status s = parse_descr(descr, out.dtype); !s) return s;
      have_descr = true;
    } else if (key == "fortran_order") {
      std::string word;
      if (have_order || !p.read_word(word) || (word != "True" && word != "False")) {
        return Status::error("malformed header: 'fortran_order' must be True or False");
      }
      if (word == "True")
        return Status::error("Fortran-order arrays are not supported (expected C order)");
      have_order = true;
    } else if (key == "shape") {
      if (have_shape || !p.consume('('))
        return Status::error("malformed header: 'shape' must be a tuple");
      out.shape.clear();
      while (!p.consume(')')) {
        index_t extent = 0;
        if (!p.read_extent(extent)) return Status::error("malformed header: bad extent in 'shape'");
        out.shape.push_back(extent);
        if (!p.consume(',') && !p.peek(')'))
          return Status::error("malformed header: bad 'shape' tuple");
      }
      have_shape = true;
    } else {
      return Status::error("malformed header: unexpected key '" + sse::detail::quoted_text(key) +
                           "'");
    }
    if (!p.consume(',') && !p.peek('}'))
      return Status::error("malformed header: expected ',' or '}'");
  }
  if (!p.at_end()) return Status::error("malformed header: text after the dict");
  if (!have_descr || !have_order || !have_shape) {
    return Status::error("malformed header: needs 'descr', 'fortran_order' and 'shape'");
  }
  return {};
}

}  // namespace detail

/// Parses a whole .npy file image. On error `out` is unspecified and the message says what is
/// wrong (without the file name).
inline Status parse_npy(const std::byte* data, std::size_t size, NpyArray& out) {
  static constexpr unsigned char kMagic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (size < 10 || std::memcmp(data, kMagic, 6) != 0) {
    return Status::error("not a .npy file (bad magic string)");
  }
  const auto major = static_cast<unsigned>(data[6]);
  std::size_t header_len = 0;
  std::size_t prefix = 0;
  if (major == 1) {
    header_len = static_cast<std::size_t>(data[8]) | static_cast<std::size_t>(data[9]) << 8;
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) return Status::error("truncated header");
    for (int i = 3; i >= 0; --i)
      header_len = header_len << 8 | static_cast<std::size_t>(data[8 + i]);
    prefix = 12;
  } else {
    return Status::error("unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > size - prefix) return Status::error("truncated header");
  std::string header(reinterpret_cast<const char*>(data + prefix), header_len);
  if (header.empty() || header.back() != '\n') {
    return Status::error("malformed header: must end with a newline");
  }
  header.pop_back();
  if (Status s = detail::parse_header_dict(header, out); !s) return s;

  const std::size_t item = dtype_size(out.dtype);
  const std::int64_t count =
      checked_element_count(out.shape, std::numeric_limits<std::size_t>::max() / item);
  if (count < 0) return Status::error("shape " + format_shape(out.shape) + " is too large");
  const std::size_t expected = static_cast<std::size_t>(count) * item;
  const std::size_t actual = size - prefix - header_len;
  if (actual != expected) {
    return Status::error("data size " + std::to_string(actual) + " bytes does not match shape " +
                         format_shape(out.shape) + " of " + dtype_name(out.dtype) + " (" +
                         std::to_string(expected) + " bytes)" +
                         (actual < expected ? ": truncated file" : ": trailing bytes"));
  }
  out.bytes.assign(data + prefix + header_len, data + size);
  return {};
}

/// Reads `path`; throws sse::invalid_argument "<path>: <problem>" on any error.
inline NpyArray read_npy(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) report_invalid_argument(path + ": cannot open file");
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) report_invalid_argument(path + ": read error");
  NpyArray array;
  const Status status =
      parse_npy(reinterpret_cast<const std::byte*>(image.data()), image.size(), array);
  if (!status) report_invalid_argument(path + ": " + status.message());
  return array;
}

/// The bytes of a version 1.0 .npy file holding `data` with shape `shape` (C order).
template <class T>
std::vector<char> npy_image(const T* data, const std::vector<index_t>& shape) {
  std::string dict = std::string("{'descr': '<") + (std::is_floating_point_v<T> ? 'f' : 'i') +
                     std::to_string(sizeof(T)) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    dict +=
        std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  }
  const auto count = static_cast<std::size_t>(element_count(shape));
  dict += "), }";
  static_cast<void>(dtype_of<T>());
  // NumPy pads the header with spaces so that the data starts on a 64-byte boundary.
  std::size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  std::vector<char> image = {'\x93', 'N', 'U', 'M', 'P', 'Y', '\x01', '\x00'};
  image.push_back(static_cast<char>(dict.size() & 0xff));
  image.push_back(static_cast<char>(dict.size() >> 8));
  image.insert(image.end(), dict.begin(), dict.end());
  const auto* raw = reinterpret_cast<const char*>(data);
  image.insert(image.end(), raw, raw + count * sizeof(T));
  return image;
}

/// Writes `data` with shape `shape` to `path`; throws sse::invalid_argument on an I/O error.
template <class T>
void write_npy(const std::string& path, const T* data, const std::vector<index_t>& shape) {
  const std::vector<char> image = npy_image(data, shape);
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) report_invalid_argument(path + ": cannot create file");
  file.write(image.data(), static_cast<std::streamsize>(image.size()));
  file.close();
  if (!file) report_invalid_argument(path + ": write error");
}

}  // namespace sse::io
