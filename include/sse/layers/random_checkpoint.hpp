#pragma once

/// \file
/// `write_random_checkpoint`: a model folder with random weights for a given config.json, as
/// upstream saves one (config.json, then model.safetensors or shards named by
/// model.safetensors.index.json), for benchmarks and examples at the released models' widths.
/// Tensors are generated and written piece by piece, shard by shard, so a 10 GB bf16 model is
/// written with a few megabytes of memory.
///
/// The values are scaled like a freshly initialised model's: matrices uniform with the
/// standard deviation 1 / sqrt(fan-in) (embeddings 0.02), norm weights 1, biases small, A_log
/// log(uniform(1, 16)) and dt_bias the inverse softplus of a log-uniform dt in [0.001, 0.1],
/// as upstream initialises them. Deterministic in the seed.

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "sse/core/bfloat16.hpp"
#include "sse/error.hpp"
#include "sse/io/safetensors.hpp"
#include "sse/layers/hybrid_config.hpp"
#include "sse/layers/hybrid_model.hpp"

#include <nlohmann/json.hpp>

namespace sse {

struct RandomCheckpointOptions {
  io::TensorDType dtype = io::TensorDType::kBF16;  // of every tensor
  /// Largest shard in bytes (a larger tensor gets a shard of its own); 0: one
  /// model.safetensors.
  std::uint64_t shard_bytes = 0;
  std::uint64_t seed = 1;
};

namespace detail {

/// splitmix64: the generator of random checkpoints (fast, and the same on every platform).
class SplitMix {
 public:
  explicit SplitMix(std::uint64_t seed) noexcept : state_(seed) {}
  /// Uniform in [0, 1).
  double uniform() noexcept {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return static_cast<double>((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t state_;
};

/// The random values of `spec` (see the file comment), handed to sink(const float*, count) a
/// piece at a time.
template <class Sink>
inline void generate_random_tensor(const ParameterSpec& spec, std::uint64_t seed, Sink&& sink) {
  auto ends_with = [&](const char* tail) {
    const std::string t(tail);
    return spec.key.size() >= t.size() &&
           spec.key.compare(spec.key.size() - t.size(), t.size(), t) == 0;
  };
  enum class Kind { kNorm, kALog, kDtBias, kBias, kMatrix };
  const Kind kind = ends_with("norm.weight") ? Kind::kNorm
                    : ends_with("A_log")     ? Kind::kALog
                    : ends_with("dt_bias")   ? Kind::kDtBias
                    : spec.shape.size() == 1 ? Kind::kBias
                                             : Kind::kMatrix;
  const auto n = static_cast<std::size_t>(element_count(spec.shape));
  const double fan_in = spec.shape.size() > 1 ? static_cast<double>(spec.shape[1]) : 1.0;
  const bool embedding = ends_with("embeddings.weight");
  const double half_width = std::sqrt(3.0) * (embedding ? 0.02 : 1.0 / std::sqrt(fan_in));
  SplitMix random(seed);
  std::vector<float> piece(std::min<std::size_t>(n, std::size_t{1} << 20));
  for (std::size_t done = 0; done < n; done += piece.size()) {
    const std::size_t count = std::min(piece.size(), n - done);
    for (std::size_t i = 0; i < count; ++i) {
      const double u = random.uniform();
      double value = half_width * (2 * u - 1);
      if (kind == Kind::kNorm) {
        value = 1.0;
      } else if (kind == Kind::kALog) {
        value = std::log(1.0 + 15.0 * u);
      } else if (kind == Kind::kDtBias) {
        const double dt = std::exp(std::log(0.001) + u * (std::log(0.1) - std::log(0.001)));
        value = dt + std::log(-std::expm1(-dt));  // softplus(value) = dt
      } else if (kind == Kind::kBias) {
        value = 0.02 * (2 * u - 1);
      }
      piece[i] = static_cast<float>(value);
    }
    sink(piece.data(), count);
  }
}

/// The seed of the i-th tensor of a checkpoint of seed `seed`.
inline std::uint64_t tensor_seed(std::uint64_t seed, std::size_t i) noexcept {
  return seed * 1000003u + i;
}

}  // namespace detail

/// Writes into `folder` (created if needed) the config text of `config_path`, unchanged, and
/// random weights for it under upstream's keys. The config must give intermediate_size. Throws
/// sse::invalid_argument naming the file or key; on an error the files written so far are
/// removed. Returns the bytes of weights written.
inline std::uint64_t write_random_checkpoint(const std::string& config_path,
                                             const std::string& folder,
                                             const RandomCheckpointOptions& options = {}) {
  namespace fs = std::filesystem;
  const HybridConfig config = read_hybrid_config(config_path);
  if (!config.intermediate_size) {
    report_invalid_argument(
        config_path + ": intermediate_size: missing (a random checkpoint needs the MLP width)");
  }
  const std::vector<ParameterSpec> specs =
      HybridModel::parameters(config, *config.intermediate_size);

  // Shards: tensors in order, a new shard when the next would pass shard_bytes.
  const std::size_t element = io::tensor_dtype_size(options.dtype);
  std::vector<std::vector<std::size_t>> shards(1);
  std::uint64_t shard_size = 0, total = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const std::uint64_t bytes = static_cast<std::uint64_t>(element_count(specs[i].shape)) * element;
    if (options.shard_bytes > 0 && !shards.back().empty() &&
        shard_size + bytes > options.shard_bytes) {
      shards.emplace_back(), shard_size = 0;
    }
    shards.back().push_back(i);
    shard_size += bytes, total += bytes;
  }
  const bool sharded = options.shard_bytes > 0;
  auto shard_name = [&](std::size_t s) {
    if (!sharded) return std::string("model.safetensors");
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", s + 1, shards.size());
    return std::string(name);
  };

  std::error_code error;
  fs::create_directories(folder, error);
  // The files written so far, removed again unless every one was written.
  struct Written {
    std::vector<fs::path> paths;
    bool complete = false;
    ~Written() {
      std::error_code ignored;
      if (!complete) {
        for (const fs::path& path : paths) fs::remove(path, ignored);
      }
    }
  } written;
  {
    const fs::path config_copy = fs::path(folder) / "config.json";
    if (fs::absolute(config_copy, error) != fs::absolute(config_path, error)) {
      written.paths.push_back(config_copy);
      fs::copy_file(config_path, config_copy, fs::copy_options::overwrite_existing, error);
      if (error) report_invalid_argument(config_copy.string() + ": cannot write file");
    }
    nlohmann::json weight_map = nlohmann::json::object();
    for (std::size_t s = 0; s < shards.size(); ++s) {
      std::vector<io::TensorHeader> headers;
      for (std::size_t i : shards[s]) {
        headers.push_back({specs[i].key, specs[i].shape, options.dtype});
        weight_map[specs[i].key] = shard_name(s);
      }
      const fs::path path = fs::path(folder) / shard_name(s);
      written.paths.push_back(path);
      io::SafetensorsWriter out(path.string(), headers, {{"format", "pt"}});
      for (std::size_t i : shards[s]) {
        detail::generate_random_tensor(
            specs[i], detail::tensor_seed(options.seed, i),
            [&](const float* piece, std::size_t count) { out.write(piece, count); });
      }
      out.finish();
    }
    if (sharded) {
      const fs::path index = fs::path(folder) / "model.safetensors.index.json";
      written.paths.push_back(index);
      std::ofstream file(index);
      file << nlohmann::json{{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}}
                  .dump(2)
           << "\n";
      if (!file) report_invalid_argument(index.string() + ": cannot write file");
    }
  }
  written.complete = true;
  return total;
}

/// The weights `write_random_checkpoint` writes for `config` (MLPs of `intermediate` channels),
/// made in memory instead, as loading that folder gives them: matrices stored in
/// options.dtype, every other parameter rounded to it and widened to float32
/// (options.shard_bytes does not apply). For benchmarks at the released widths without a
/// detour through the disk.
inline Weights random_weights(const HybridConfig& config, index_t intermediate,
                              const RandomCheckpointOptions& options = {}) {
  const std::vector<ParameterSpec> specs = HybridModel::parameters(config, intermediate);
  Weights weights;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Parameter p;
    p.shape = specs[i].shape;
    const bool keep_bits = options.dtype != io::TensorDType::kF32 && p.shape.size() == 2;
    p.dtype = keep_bits ? options.dtype : io::TensorDType::kF32;
    auto append = [&](const float* piece, std::size_t n) {
      for (std::size_t j = 0; j < n; ++j) {
        if (options.dtype == io::TensorDType::kF32) {
          p.data.push_back(piece[j]);
          continue;
        }
        const bool bf16 = options.dtype == io::TensorDType::kBF16;
        const std::uint16_t bits =
            bf16 ? bfloat16::from_float(piece[j]).bits : io::detail::float_to_half(piece[j]);
        if (keep_bits) {
          p.bits.push_back(bits);
        } else {
          p.data.push_back(bf16 ? bfloat16{bits}.to_float() : io::detail::half_to_float(bits));
        }
      }
    };
    detail::generate_random_tensor(specs[i], detail::tensor_seed(options.seed, i), append);
    weights.add(specs[i].key, std::move(p));
  }
  return weights;
}

}  // namespace sse
