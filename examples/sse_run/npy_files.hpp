#pragma once

// .npy inputs and outputs of sse-run: arrays read from DIR/<name>.npy with every problem named
// by file, and outputs written all-or-nothing (temporaries, then renames).

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cli.hpp"
#include <sse/core/tensor_view.hpp>
#include <sse/io/npy.hpp>

namespace sse_run {

namespace fs = std::filesystem;

/// A float32 array of a fixed rank, loaded from DIR/<name>.npy.
struct FloatArray {
  std::string path;
  std::vector<sse::index_t> shape;
  std::vector<float> data;
  bool present() const { return !path.empty(); }
};

inline std::string npy_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / (name + ".npy")).string();
}

/// Reads the .npy file `path`, which must be float32 of rank `rank` (`layout` names the dimensions
/// for messages). Absent and optional: an empty FloatArray.
inline FloatArray load_float_file(const std::string& path, std::size_t rank,
                                  const std::string& layout, bool optional = false) {
  if (!fs::exists(path)) {
    if (optional) return {};
    throw UsageError(path + ": missing file (expected float32 " + layout + ")");
  }
  sse::io::NpyArray array;
  try {
    array = sse::io::read_npy(path);
  } catch (const sse::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (array.dtype != sse::io::DType::kFloat32) {
    throw UsageError(path + ": expected dtype float32, got " + sse::io::dtype_name(array.dtype));
  }
  if (array.rank() != rank) {
    throw UsageError(path + ": expected " + std::to_string(rank) + " dimensions " + layout +
                     ", got shape " + sse::format_shape(array.shape));
  }
  return {path, array.shape, array.to_vector<float>()};
}

/// DIR/<name>.npy through load_float_file.
inline FloatArray load_float(const std::string& dir, const std::string& name, std::size_t rank,
                             const std::string& layout, bool optional = false) {
  return load_float_file(npy_path(dir, name), rank, layout, optional);
}

/// Reads DIR/cu_seqlens.npy if present (else returns an empty vector): int32 or int64, rank 1,
/// at least one offset.
inline std::vector<std::int64_t> load_cu_seqlens(const std::string& dir) {
  const std::string path = npy_path(dir, "cu_seqlens");
  if (!fs::exists(path)) return {};
  sse::io::NpyArray array;
  try {
    array = sse::io::read_npy(path);
  } catch (const sse::invalid_argument& e) {
    throw UsageError(e.what());
  }
  if (array.dtype != sse::io::DType::kInt32 && array.dtype != sse::io::DType::kInt64) {
    throw UsageError(path + ": expected dtype int32 or int64, got " +
                     sse::io::dtype_name(array.dtype));
  }
  if (array.rank() != 1) {
    throw UsageError(path + ": expected 1 dimension [S+1], got shape " +
                     sse::format_shape(array.shape));
  }
  if (array.size() < 2) {
    throw UsageError(path + ": expected shape [S+1] with S >= 1, got " +
                     sse::format_shape(array.shape));
  }
  return array.to_vector<std::int64_t>();
}

/// A loaded array as a library view (absent stays absent).
template <std::size_t Rank>
sse::TensorView<const float, Rank> view_of(const FloatArray& a) {
  if (!a.present()) return {};
  sse::Extents<Rank> extents{};
  for (std::size_t i = 0; i < Rank; ++i) extents[i] = a.shape[i];
  return {a.data.data(), extents};
}

/// Outputs written together: each goes to a temporary in DIR first; `commit` renames them all
/// into place, so DIR holds either every output or none of them.
class OutputSet {
 public:
  explicit OutputSet(std::string dir) : dir_(std::move(dir)) {}
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet() {
    for (const auto& [tmp, final_path] : pending_) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
    }
  }

  void add(const std::string& name, const std::vector<float>& data,
           const std::vector<sse::index_t>& shape) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw std::runtime_error(dir_ + ": cannot create directory: " + ec.message());
    const std::string final_path = npy_path(dir_, name);
    const std::string tmp = final_path + ".tmp";
    pending_.emplace_back(tmp, final_path);
    sse::io::write_npy(tmp, data.data(), shape);
  }

  void commit() {
    for (const auto& [tmp, final_path] : pending_) fs::rename(tmp, final_path);
    pending_.clear();
  }

 private:
  std::string dir_;
  std::vector<std::pair<std::string, std::string>> pending_;
};

}  // namespace sse_run
