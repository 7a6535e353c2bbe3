#pragma once

/// \file
/// `Weights`: float32 parameters addressed by upstream state_dict keys (`q_proj.weight`,
/// `lora_q_proj.0.weight`, `gk_proj.1.1.bias`, `A_log`, ...), loaded from a directory of
/// `<key>.npy` files or from a `.safetensors` file (optionally only the keys under a prefix such
/// as `model.layers.3.attn.`, with the prefix removed). A layer states the keys and shapes it
/// needs (`ParameterSpec`); `check_parameters` reports the first missing key, wrong shape or
/// extra key in one line naming the key and where it came from.

#include <cstddef>
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

#include "sse/core/shape.hpp"
#include "sse/error.hpp"
#include "sse/io/json.hpp"
#include "sse/io/npy.hpp"
#include "sse/io/safetensors.hpp"

#include <nlohmann/json.hpp>

namespace sse {

/// One parameter: shape and C-order float32 data.
struct Parameter {
  std::vector<index_t> shape;
  std::vector<float> data;
};

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

  /// The tensors of `file` whose key starts with `prefix`, prefix removed, as float32.
  static Weights from_safetensors(const io::SafetensorsFile& file, const std::string& prefix,
                                  const std::string& origin) {
    Weights weights(prefix.empty() ? origin : origin + " (keys under '" + prefix + "')");
    for (const auto& [key, entry] : file.tensors) {
      if (key.compare(0, prefix.size(), prefix) != 0) continue;
      weights.add(key.substr(prefix.size()), entry.shape, file.to_float32(key));
    }
    return weights;
  }

  static Weights from_safetensors(const std::string& path, const std::string& prefix = "") {
    return from_safetensors(io::read_safetensors(path), prefix, path);
  }

  /// A sharded checkpoint as transformers writes it: `model.safetensors.index.json` with a
  /// "weight_map" {key: shard file in the index's folder} (its "metadata" is not needed). Each
  /// shard is read once; every mapped key must be in its shard. Throws sse::invalid_argument
  /// naming the index (or the shard) and the key.
  static Weights from_safetensors_index(const std::string& index_path) {
    namespace fs = std::filesystem;
    std::ifstream file(index_path);
    if (!file) report_invalid_argument(index_path + ": cannot open file");
    const std::string text((std::istreambuf_iterator<char>(file)),
                           std::istreambuf_iterator<char>());
    nlohmann::json index;
    if (Status s = io::parse_json(text, index); !s) {
      report_invalid_argument(index_path + ": " + s.message());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      report_invalid_argument(index_path + ": expected an object with a \"weight_map\" object");
    }
    std::map<std::string, std::vector<std::string>> keys_by_shard;
    for (const auto& [key, shard] : index["weight_map"].items()) {
      if (!shard.is_string()) {
        report_invalid_argument(index_path + ": weight_map: " + detail::quoted_text(key) +
                                ": expected a shard file name");
      }
      keys_by_shard[shard.get<std::string>()].push_back(key);
    }
    Weights weights(index_path);
    const fs::path folder = fs::path(index_path).parent_path();
    for (const auto& [shard, keys] : keys_by_shard) {
      const std::string shard_path = (folder / shard).string();
      const io::SafetensorsFile tensors = io::read_safetensors(shard_path);
      for (const std::string& key : keys) {
        const auto it = tensors.tensors.find(key);
        if (it == tensors.tensors.end()) {
          report_invalid_argument(index_path + ": " + detail::quoted_text(key) + ": not in " +
                                  shard_path + ", the shard the index names");
        }
        weights.add(key, it->second.shape, tensors.to_float32(key));
      }
    }
    return weights;
  }

  void add(const std::string& key, std::vector<index_t> shape, std::vector<float> data) {
    params_[key] = Parameter{std::move(shape), std::move(data)};
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
