#pragma once

/// \file
/// `Weights`: parameters addressed by upstream state_dict keys (`q_proj.weight`,
/// `lora_q_proj.0.weight`, `gk_proj.1.1.bias`, `A_log`, ...), loaded from a directory of
/// `<key>.npy` files, from a `.safetensors` file (optionally only the keys under a prefix such
/// as `model.layers.3.attn.`, with the prefix removed) or from a sharded checkpoint's index. A
/// layer states the keys and shapes it needs (`ParameterSpec`); `check_parameters` reports the
/// first missing key, wrong shape or extra key in one line naming the key and where it came
/// from.
///
/// Matrices (rank-2 tensors: projections, embeddings, heads) stay in the precision the file
/// stores them in (F32, BF16 or F16), so a 10 GB bf16 model takes 10 GB of memory; the kernels
/// widen their rows to float32 as they read them (layers/linear.hpp). Every other parameter
/// (norm weights, biases, A_log, dt_bias, convolution taps: a few kilobytes) is widened to
/// float32 when loaded.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sse/core/bfloat16.hpp"
#include "sse/core/shape.hpp"
#include "sse/error.hpp"
#include "sse/io/json.hpp"
#include "sse/io/npy.hpp"
#include "sse/io/safetensors.hpp"

#include <nlohmann/json.hpp>

namespace sse {

/// One parameter: shape and C-order values, float32 in `data` or, for a matrix stored in 16
/// bits, the raw BF16/F16 words in `bits` (`data` then empty).
struct Parameter {
  std::vector<index_t> shape;
  std::vector<float> data;
  io::TensorDType dtype = io::TensorDType::kF32;
  std::vector<std::uint16_t> bits;

  std::size_t size() const noexcept { return static_cast<std::size_t>(element_count(shape)); }
  bool is_float32() const noexcept { return dtype == io::TensorDType::kF32; }

  /// Widens elements [first, first + n) to float32 into `out` (exact).
  void widen(std::size_t first, std::size_t n, float* out) const noexcept {
    if (dtype == io::TensorDType::kF32) {
      std::copy_n(data.data() + first, n, out);
    } else if (dtype == io::TensorDType::kBF16) {
      for (std::size_t i = 0; i < n; ++i) out[i] = bfloat16{bits[first + i]}.to_float();
    } else {
      for (std::size_t i = 0; i < n; ++i) out[i] = io::detail::half_to_float(bits[first + i]);
    }
  }

  /// Every value as float32 (exact).
  std::vector<float> to_float32() const {
    std::vector<float> out(size());
    widen(0, out.size(), out.data());
    return out;
  }

  /// Bytes the values take in memory.
  std::size_t bytes() const noexcept { return data.size() * 4 + bits.size() * 2; }
};

/// The parameter `key` of `entry` read from `file`: matrices keep their stored precision,
/// everything else becomes float32.
inline Parameter read_parameter(io::SafetensorsReader& file, const io::SafetensorsEntry& entry) {
  Parameter p;
  p.shape = entry.shape;
  const std::size_t n = entry.count();
  if (entry.dtype == io::TensorDType::kF32) {
    p.data.resize(n);
    file.read(entry, p.data.data());
    return p;
  }
  p.dtype = entry.dtype;
  p.bits.resize(n);
  file.read(entry, p.bits.data());
  if (p.shape.size() != 2) {  // small: widen now
    p.data = p.to_float32();
    p.bits = {};
    p.dtype = io::TensorDType::kF32;
  }
  return p;
}

/// A key a layer needs and the shape it must have.
struct ParameterSpec {
  std::string key;
  std::vector<index_t> shape;
};

class Weights {
 public:
  Weights() = default;
  explicit Weights(std::string origin) : origin_(std::move(origin)) {}

  /// Every `<key>.npy` file of `dir` (float32; other files are ignored). Throws
  /// sse::invalid_argument naming the file on a malformed or non-float32 array.
  static Weights from_npy_directory(const std::string& dir) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(dir)) report_invalid_argument(dir + ": not a directory");
    Weights weights(dir);
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      const fs::path path = entry.path();
      if (!entry.is_regular_file() || path.extension() != ".npy") continue;
      io::NpyArray array = io::read_npy(path.string());
      if (array.dtype != io::DType::kFloat32) {
        report_invalid_argument(path.string() + ": expected dtype float32, got " +
                                io::dtype_name(array.dtype));
      }
      weights.add(path.stem().string(), array.shape, array.to_vector<float>());
    }
    return weights;
  }

  /// The tensors of the file at `path` whose key starts with `prefix`, prefix removed, read
  /// one at a time (matrices in their stored precision).
  static Weights from_safetensors(const std::string& path, const std::string& prefix = "") {
    io::SafetensorsReader file(path);
    Weights weights(prefix.empty() ? path : path + " (keys under '" + prefix + "')");
    for (const auto& [key, entry] : file.tensors()) {
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      weights.params_[key.substr(prefix.size())] = read_parameter(file, entry);
    }
    return weights;
  }

  /// A sharded checkpoint as transformers writes it: `model.safetensors.index.json` with a
  /// "weight_map" {key: shard file in the index's folder} (its "metadata" is not needed). Each
  /// shard is read once, tensor by tensor. Every mapped key must be in its shard, and every
  /// tensor of a shard must be mapped to that shard (a key in two shards is an error). Throws
  /// sse::invalid_argument naming the index (or the shard) and the key.
  static Weights from_safetensors_index(const std::string& index_path) {
    namespace fs = std::filesystem;
    std::ifstream file(index_path);
    if (!file) report_invalid_argument(index_path + ": cannot open file");
    const std::string text((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    std::map<std::string, std::string> shard_of;
    if (Status s = parse_safetensors_index(text, shard_of); !s) {
      report_invalid_argument(index_path + ": " + s.message());
    }
    std::map<std::string, std::vector<std::string>> keys_by_shard;
    for (const auto& [key, shard] : shard_of) keys_by_shard[shard].push_back(key);
    Weights weights(index_path);
    const fs::path folder = fs::path(index_path).parent_path();
    for (const auto& [shard, keys] : keys_by_shard) {
      const std::string shard_path = (folder / shard).string();
      if (!fs::is_regular_file(shard_path)) {
        report_invalid_argument(shard_path + ": cannot open file (a shard " + index_path +
                                " names for " + detail::quoted_text(keys.front()) + ")");
      }
      io::SafetensorsReader tensors(shard_path);
      for (const auto& [key, entry] : tensors.tensors()) {
        const auto mapped = shard_of.find(key);
        if (mapped == shard_of.end()) {
          report_invalid_argument(shard_path + ": " + detail::quoted_text(key) +
                                  ": not in the weight_map of " + index_path);
        }
        if (mapped->second != shard) {
          report_invalid_argument(shard_path + ": " + detail::quoted_text(key) +
                                  ": the index maps it to " + detail::quoted_text(mapped->second) +
                                  ", not to this shard (a key must be in exactly one shard)");
        }
      }
      for (const std::string& key : keys) {
        const auto it = tensors.tensors().find(key);
        if (it == tensors.tensors().end()) {
          report_invalid_argument(index_path + ": " + detail::quoted_text(key) + ": not in " +
                                  shard_path + ", the shard the index names");
        }
        weights.params_[key] = read_parameter(tensors, it->second);
      }
    }
    return weights;
  }

  /// Parses the text of a `model.safetensors.index.json` into `shard_of` {key: shard file};
  /// the message says what is wrong (a shard name must be a plain file name in the index's
  /// folder).
  static Status parse_safetensors_index(const std::string& text,
                                        std::map<std::string, std::string>& shard_of) {
    nlohmann::json index;
    if (Status s = io::parse_json(text, index); !s) return s;
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return Status::error("expected an object with a \"weight_map\" object");
    }
    shard_of.clear();
    for (const auto& [key, shard] : index["weight_map"].items()) {
      if (!shard.is_string() || shard.get<std::string>().empty()) {
        return Status::error("weight_map: " + detail::quoted_text(key) +
                             ": expected a shard file name");
      }
      const std::string name = shard.get<std::string>();
      if (name.find('/') != std::string::npos || name.find('\\') != std::string::npos ||
          name == "." || name == "..") {
        return Status::error("weight_map: " + detail::quoted_text(key) + ": shard " +
                             detail::quoted_text(name) +
                             " is not a file name in the index's folder");
      }
      shard_of[key] = name;
    }
    return {};
  }

  void add(const std::string& key, std::vector<index_t> shape, std::vector<float> data) {
    Parameter p;
    p.shape = std::move(shape);
    p.data = std::move(data);
    params_[key] = std::move(p);
  }
  void add(const std::string& key, Parameter p) { params_[key] = std::move(p); }

  /// The same parameters with every one widened to float32 (what a 16-bit checkpoint's
  /// values are exactly).
  Weights to_float32() const {
    Weights out(origin_);
    for (const auto& [key, p] : params_) out.add(key, p.shape, p.to_float32());
    return out;
  }

  /// Bytes the values take in memory.
  std::size_t bytes() const noexcept {
    std::size_t total = 0;
    for (const auto& entry : params_) total += entry.second.bytes();
    return total;
  }
  bool contains(const std::string& key) const { return params_.count(key) != 0; }
  std::size_t size() const noexcept { return params_.size(); }
  const std::string& origin() const noexcept { return origin_; }
  /// Where the weights came from, as messages name it (empty: not named).
  void set_origin(std::string origin) { origin_ = std::move(origin); }

  /// The parameter `key`; precondition: present (see check_parameters). Looks up without
  /// allocating (a layer's forward calls it for each weight).
  const Parameter& at(std::string_view key) const {
    const auto it = params_.find(key);
    if (it == params_.end()) report_invalid_argument(std::string(key) + ": no such parameter");
    return it->second;
  }

  /// Moves the parameter `key` out (empty when absent).
  std::optional<Parameter> take(const std::string& key) {
    const auto it = params_.find(key);
    if (it == params_.end()) return std::nullopt;
    Parameter p = std::move(it->second);
    params_.erase(it);
    return p;
  }

  /// Moves the parameters whose key starts with `prefix` into a new set, prefix removed (its
  /// origin names the prefix).
  Weights take_prefix(const std::string& prefix) {
    Weights part(origin_.empty() ? "'" + prefix + "'" : origin_ + " under '" + prefix + "'");
    for (auto it = params_.lower_bound(prefix);
         it != params_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
      part.params_.emplace(it->first.substr(prefix.size()), std::move(it->second));
      it = params_.erase(it);
    }
    return part;
  }

  /// Keys in sorted order.
  /// Calls f(key, parameter) for every parameter, in key order.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [key, p] : params_) f(key, p);
  }

  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& entry : params_) out.push_back(entry.first);
    return out;
  }

 private:
  std::string origin_;
  std::map<std::string, Parameter, std::less<>> params_;  // std::less<>: string_view lookups
};

/// Every spec is present with its shape, and no other key is: the first problem, in one line
/// naming the key and the weights' origin.
inline Status check_parameters(const Weights& weights, const std::vector<ParameterSpec>& specs) {
  const std::string from = weights.origin().empty() ? "" : " in " + weights.origin();
  for (const ParameterSpec& spec : specs) {
    if (!weights.contains(spec.key)) {
      return Status::error(spec.key, std::string("missing") + from + " (expected float32 " +
                                         format_shape(spec.shape) + ")");
    }
    const std::vector<index_t>& shape = weights.at(spec.key).shape;
    if (shape != spec.shape) {
      return Status::error(spec.key, std::string("expected shape ") + format_shape(spec.shape) +
                                         ", got " + format_shape(shape) + from);
    }
  }
  for (const std::string& key : weights.keys()) {
    bool expected = false;
    for (const ParameterSpec& spec : specs) expected = expected || spec.key == key;
    if (!expected) return Status::error(key, "unexpected key" + from + " (not a parameter)");
  }
  return {};
}

}  // namespace sse
