#pragma once

/// \file
/// `.safetensors` files (the format of Hugging Face model weights): an 8-byte little-endian
/// header length N, N bytes of JSON, then the data section. The JSON maps each tensor name to
/// {"dtype", "shape", "data_offsets": [begin, end]} (offsets into the data section); an optional
/// "__metadata__" maps strings to strings. The header is parsed with nlohmann-json; every field
/// is validated (types, known dtype, shape, offsets inside the data section, sizes matching the
/// shape, no two tensors sharing bytes). F32, BF16 and F16 tensors convert to float32.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "sse/core/bfloat16.hpp"
#include "sse/core/shape.hpp"
#include "sse/error.hpp"
#include "sse/io/json.hpp"

#include <nlohmann/json.hpp>

namespace sse::io {

enum class TensorDType { kF32, kBF16, kF16 };

inline std::size_t tensor_dtype_size(TensorDType dtype) noexcept {
  return dtype == TensorDType::kF32 ? 4 : 2;
}

/// One tensor of a safetensors file: its bytes are data[begin, end) of the data section.
struct SafetensorsEntry {
  TensorDType dtype = TensorDType::kF32;
  std::vector<index_t> shape;
  std::size_t begin = 0, end = 0;

  std::size_t count() const noexcept { return static_cast<std::size_t>(element_count(shape)); }
};

/// A parsed file: tensors by name (sorted), metadata, and the data section.
struct SafetensorsFile {
  std::map<std::string, SafetensorsEntry> tensors;
  std::map<std::string, std::string> metadata;
  std::vector<std::byte> data;

  /// The tensor `name` converted to float32, C order.
  std::vector<float> to_float32(const std::string& name) const;
};

namespace detail {

/// IEEE half -> float, exact (subnormals, infinities and NaN included).
inline float half_to_float(std::uint16_t h) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1Fu;
  std::uint32_t mantissa = h & 0x3FFu;
  std::uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);  // inf or NaN
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;  // +-0
  } else {        // subnormal: normalise
    std::uint32_t e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (e << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

/// float -> IEEE half, rounded to nearest even (overflow to infinity, NaN stays NaN).
inline std::uint16_t float_to_half(float f) noexcept {
  std::uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  const std::uint32_t magnitude = x & 0x7FFFFFFFu;
  if (magnitude >= 0x7F800000u) {  // inf or NaN
    return static_cast<std::uint16_t>(sign | (magnitude > 0x7F800000u ? 0x7E00u : 0x7C00u));
  }
  if (magnitude >= 0x477FF000u) return static_cast<std::uint16_t>(sign | 0x7C00u);  // >= 65520
  if (magnitude < 0x38800000u) {  // below 2^-14: a half subnormal, in units of 2^-24
    float a;
    std::memcpy(&a, &magnitude, sizeof a);
    return static_cast<std::uint16_t>(sign |
                                      static_cast<std::uint32_t>(std::nearbyint(a * 16777216.0f)));
  }
  std::uint32_t h = (((magnitude >> 23) - 112u) << 10) | ((magnitude & 0x7FFFFFu) >> 13);
  const std::uint32_t rest = magnitude & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) != 0)) ++h;  // a carry moves the exponent
  return static_cast<std::uint16_t>(sign | h);
}

inline Status parse_tensor_entry(const std::string& name, const nlohmann::json& value,
                                 std::size_t data_size, SafetensorsEntry& entry) {
  const std::string where = "tensor '" + sse::detail::quoted_text(name) + "': ";
  if (!value.is_object()) return Status::error(where + "expected an object");
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!value.contains(key)) return Status::error(where + "missing \"" + key + "\"");
  }
  const nlohmann::json& dtype = value["dtype"];
  if (!dtype.is_string()) return Status::error(where + "\"dtype\" must be a string");
  const std::string dtype_text = dtype.get<std::string>();
  if (dtype_text == "F32") {
    entry.dtype = TensorDType::kF32;
  } else if (dtype_text == "BF16") {
    entry.dtype = TensorDType::kBF16;
  } else if (dtype_text == "F16") {
    entry.dtype = TensorDType::kF16;
  } else {
    return Status::error(where + "dtype " + sse::detail::quoted_text(dtype_text) +
                         " is not supported (F32, BF16 or F16)");
  }
  const nlohmann::json& shape = value["shape"];
  if (!shape.is_array()) return Status::error(where + "\"shape\" must be an array");
  entry.shape.clear();
  std::vector<std::uint64_t> extents;
  for (const nlohmann::json& d : shape) {
    if (!d.is_number_unsigned()) {
      return Status::error(where + "\"shape\" must hold non-negative integers");
    }
    extents.push_back(d.get<std::uint64_t>());
  }
  constexpr std::uint64_t kMaxCount = std::uint64_t(1) << 40;  // elements
  const std::int64_t count_or_error = checked_element_count(extents, kMaxCount);
  if (count_or_error < 0) return Status::error(where + "shape too large");
  const auto count = static_cast<std::uint64_t>(count_or_error);
  entry.shape.assign(extents.begin(), extents.end());
  const nlohmann::json& offsets = value["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
      !offsets[1].is_number_unsigned()) {
    return Status::error(where + "\"data_offsets\" must be two non-negative integers");
  }
  const auto begin = offsets[0].get<std::uint64_t>(), end = offsets[1].get<std::uint64_t>();
  if (begin > end || end > data_size) {
    return Status::error(where + "data_offsets [" + std::to_string(begin) + ", " +
                         std::to_string(end) + "] outside the data section of " +
                         std::to_string(data_size) + " bytes");
  }
  entry.begin = static_cast<std::size_t>(begin);
  entry.end = static_cast<std::size_t>(end);
  if (entry.end - entry.begin != count * tensor_dtype_size(entry.dtype)) {
    return Status::error(where + "holds " + std::to_string(entry.end - entry.begin) +
                         " bytes, its shape and dtype need " +
                         std::to_string(count * tensor_dtype_size(entry.dtype)));
  }
  return {};
}

}  // namespace detail

namespace detail {

/// Parses the JSON header (`header_size` bytes at `header`) of a file whose data section holds
/// `data_size` bytes: tensors and metadata, every field checked against that size.
inline Status parse_safetensors_header(const char* header, std::size_t header_size,
                                       std::uint64_t data_size, SafetensorsFile& out) {
  nlohmann::json json;
  if (Status s = parse_json(header, header_size, json); !s) {
    return Status::error("the header is " + s.message());
  }
  if (!json.is_object()) return Status::error("the header is not a JSON object");
  out = {};
  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) return Status::error("\"__metadata__\" must be an object");
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) {
          return Status::error("\"__metadata__\": value of \"" + sse::detail::quoted_text(m.key()) +
                               "\" is not a string");
        }
        out.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    SafetensorsEntry entry;
    if (Status s =
            parse_tensor_entry(it.key(), it.value(), static_cast<std::size_t>(data_size), entry);
        !s) {
      return s;
    }
    out.tensors.emplace(it.key(), std::move(entry));
  }
  // No two tensors share bytes.
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  for (const auto& [name, entry] : out.tensors) {
    if (entry.end > entry.begin) ranges.emplace_back(entry.begin, entry.end);
  }
  std::sort(ranges.begin(), ranges.end());
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) {
      return Status::error("two tensors share bytes of the data section at offset " +
                           std::to_string(ranges[i].first));
    }
  }
  return {};
}

/// The header length stored in the first 8 bytes (little-endian).
inline std::uint64_t safetensors_header_size(const std::byte* bytes) noexcept {
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | std::to_integer<std::uint64_t>(bytes[i]);
  }
  return header_size;
}

}  // namespace detail

/// Parses a whole file image. On error, `out` is unspecified and the message says what is
/// wrong (without the file name).
inline Status parse_safetensors(const std::byte* bytes, std::size_t size, SafetensorsFile& out) {
  if (size < 8) return Status::error("not a safetensors file (shorter than 8 bytes)");
  const std::uint64_t header_size = detail::safetensors_header_size(bytes);
  if (header_size > size - 8) {
    return Status::error("header length " + std::to_string(header_size) +
                         " exceeds the file size " + std::to_string(size));
  }
  const std::size_t data_begin = 8 + static_cast<std::size_t>(header_size);
  if (Status s = detail::parse_safetensors_header(reinterpret_cast<const char*>(bytes + 8),
                                                  static_cast<std::size_t>(header_size),
                                                  size - data_begin, out);
      !s) {
    return s;
  }
  out.data.assign(bytes + data_begin, bytes + size);
  return {};
}

/// A safetensors file read tensor by tensor: the constructor reads and checks the header
/// against the file's size (a truncated file is an error there), and `read` fetches one
/// tensor's bytes, so a multi-gigabyte shard never sits in memory whole.
class SafetensorsReader {
 public:
  /// Throws sse::invalid_argument "<path>: <problem>".
  explicit SafetensorsReader(const std::string& path)
      : path_(path), file_(path, std::ios::binary | std::ios::ate) {
    if (!file_) report_invalid_argument(path + ": cannot open file");
    const auto size = static_cast<std::uint64_t>(file_.tellg());
    if (size < 8) report_invalid_argument(path + ": not a safetensors file (shorter than 8 bytes)");
    std::byte prefix[8];
    file_.seekg(0);
    file_.read(reinterpret_cast<char*>(prefix), 8);
    const std::uint64_t header_size = detail::safetensors_header_size(prefix);
    if (!file_ || header_size > size - 8) {
      report_invalid_argument(path + ": header length " + std::to_string(header_size) +
                              " exceeds the file size " + std::to_string(size));
    }
    std::string header(static_cast<std::size_t>(header_size), '\0');
    file_.read(header.data(), static_cast<std::streamsize>(header_size));
    if (!file_) report_invalid_argument(path + ": read error");
    data_begin_ = 8 + header_size;
    const Status status =
        detail::parse_safetensors_header(header.data(), header.size(), size - data_begin_, header_);
    if (!status) report_invalid_argument(path + ": " + status.message());
  }

  const std::string& path() const noexcept { return path_; }
  const std::map<std::string, SafetensorsEntry>& tensors() const noexcept {
    return header_.tensors;
  }
  const std::map<std::string, std::string>& metadata() const noexcept { return header_.metadata; }

  /// Reads the bytes of `entry` (one of tensors()) into `out`, which holds
  /// entry.end - entry.begin bytes.
  void read(const SafetensorsEntry& entry, void* out) {
    file_.seekg(static_cast<std::streamoff>(data_begin_ + entry.begin));
    file_.read(static_cast<char*>(out), static_cast<std::streamsize>(entry.end - entry.begin));
    if (!file_) report_invalid_argument(path_ + ": read error");
  }

 private:
  std::string path_;
  std::ifstream file_;
  std::uint64_t data_begin_ = 0;
  SafetensorsFile header_;
};

/// Reads `path`; throws sse::invalid_argument "<path>: <problem>" on any error.
inline SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) report_invalid_argument(path + ": cannot open file");
  std::vector<char> image((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) report_invalid_argument(path + ": read error");
  SafetensorsFile result;
  const Status status =
      parse_safetensors(reinterpret_cast<const std::byte*>(image.data()), image.size(), result);
  if (!status) report_invalid_argument(path + ": " + status.message());
  return result;
}

inline std::vector<float> SafetensorsFile::to_float32(const std::string& name) const {
  const SafetensorsEntry& entry = tensors.at(name);
  std::vector<float> out(entry.count());
  const std::byte* src = data.data() + entry.begin;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (entry.dtype == TensorDType::kF32) {
      std::memcpy(&out[i], src + 4 * i, 4);
    } else {
      std::uint16_t half;
      std::memcpy(&half, src + 2 * i, 2);
      out[i] = entry.dtype == TensorDType::kBF16 ? bfloat16{half}.to_float()
                                                 : detail::half_to_float(half);
    }
  }
  return out;
}

/// A tensor SafetensorsWriter writes: its name, shape and the dtype it is stored in.
struct TensorHeader {
  std::string name;
  std::vector<index_t> shape;
  TensorDType dtype = TensorDType::kF32;
};

/// Writes a safetensors file tensor by tensor: the header (every tensor's name, dtype, shape
/// and offsets, in the given order) first, then the values of each tensor in that order,
/// converted from float32 (BF16 and F16 round to nearest even) and written in as many pieces
/// as the caller likes, so a multi-gigabyte shard is never in memory. `finish` checks that
/// every value was written; a writer destroyed before that leaves a file `finish` would
/// have refused (the caller removes it).
class SafetensorsWriter {
 public:
  /// Throws sse::invalid_argument "<path>: cannot write file".
  SafetensorsWriter(const std::string& path, std::vector<TensorHeader> tensors,
                    const std::map<std::string, std::string>& metadata = {})
      : path_(path), tensors_(std::move(tensors)), file_(path, std::ios::binary | std::ios::trunc) {
    nlohmann::json header = nlohmann::json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::size_t offset = 0;
    for (const TensorHeader& t : tensors_) {
      const std::size_t bytes =
          static_cast<std::size_t>(element_count(t.shape)) * tensor_dtype_size(t.dtype);
      const char* dtype = t.dtype == TensorDType::kF32    ? "F32"
                          : t.dtype == TensorDType::kBF16 ? "BF16"
                                                          : "F16";
      header[t.name] = {
          {"dtype", dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
      offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned
    char length[8];
    std::uint64_t n = text.size();
    for (char& byte : length) byte = static_cast<char>(n & 0xFF), n >>= 8;
    file_.write(length, 8);
    file_.write(text.data(), static_cast<std::streamsize>(text.size()));
    if (!file_) report_invalid_argument(path_ + ": cannot write file");
    remaining_ = tensors_.empty() ? 0 : static_cast<std::size_t>(element_count(tensors_[0].shape));
  }

  /// Appends `n` values to the tensors, in order (a call may end one tensor and start the
  /// next). Throws past the last value or on a write error.
  void write(const float* values, std::size_t n) {
    while (n > 0) {
      while (remaining_ == 0) {
        if (++current_ >= tensors_.size())
          report_invalid_argument(path_ + ": more values than tensors");
        remaining_ = static_cast<std::size_t>(element_count(tensors_[current_].shape));
      }
      const std::size_t take = std::min(n, remaining_);
      const TensorDType dtype = tensors_[current_].dtype;
      if (dtype == TensorDType::kF32) {
        file_.write(reinterpret_cast<const char*>(values), static_cast<std::streamsize>(4 * take));
      } else {
        words_.resize(take);
        for (std::size_t i = 0; i < take; ++i) {
          words_[i] = dtype == TensorDType::kBF16 ? bfloat16::from_float(values[i]).bits
                                                  : detail::float_to_half(values[i]);
        }
        file_.write(reinterpret_cast<const char*>(words_.data()),
                    static_cast<std::streamsize>(2 * take));
      }
      if (!file_) report_invalid_argument(path_ + ": cannot write file");
      values += take, n -= take, remaining_ -= take;
    }
  }

  /// Checks that every value was written and closes the file.
  void finish() {
    while (remaining_ == 0 && current_ + 1 < tensors_.size()) {
      remaining_ = static_cast<std::size_t>(element_count(tensors_[++current_].shape));
    }
    if (remaining_ != 0) report_invalid_argument(path_ + ": not every tensor was written");
    file_.close();
    if (!file_) report_invalid_argument(path_ + ": cannot write file");
  }

 private:
  std::string path_;
  std::vector<TensorHeader> tensors_;
  std::ofstream file_;
  std::size_t current_ = 0, remaining_ = 0;
  std::vector<std::uint16_t> words_;
};

/// A float32 tensor to write.
struct NamedTensor {
  std::string name;
  std::vector<index_t> shape;
  const float* data;
};

/// Writes `tensors` as F32 to `path` (in the given order); throws sse::invalid_argument on an
/// I/O error.
inline void write_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors) {
  std::vector<TensorHeader> headers;
  for (const NamedTensor& t : tensors) headers.push_back({t.name, t.shape, TensorDType::kF32});
  SafetensorsWriter out(path, std::move(headers));
  for (const NamedTensor& t : tensors) {
    out.write(t.data, static_cast<std::size_t>(element_count(t.shape)));
  }
  out.finish();
}

}  // namespace sse::io
