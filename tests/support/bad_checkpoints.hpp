#pragma once

// Broken sharded checkpoints (DESIGN.md section 4b, "Checkpoints"), each a copy of a good
// folder with one thing wrong, and the words the one-line error must contain: a missing or
// truncated shard, an index naming a key in no shard or a file that does not exist, a key in
// two shards, an index that is not JSON, an unsupported dtype.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "sse/io/safetensors.hpp"

#include <nlohmann/json.hpp>

namespace sse::test {

struct BadCheckpoint {
  std::string what, folder, expected;
};

/// Writes the broken copies of the sharded folder `good` (config.json, an index, at least two
/// shards) under `root`.
inline std::vector<BadCheckpoint> write_bad_checkpoints(const std::string& good,
                                                        const std::string& root) {
  namespace fs = std::filesystem;
  const std::string index_name = "model.safetensors.index.json";
  std::ifstream index_file(good + "/" + index_name);
  const nlohmann::json index = nlohmann::json::parse(index_file);
  const nlohmann::json& map = index["weight_map"];
  const std::string first_key = map.begin().key();
  const std::string first_shard = map.begin().value().get<std::string>();
  std::vector<BadCheckpoint> cases;
  auto copy = [&](const std::string& what, const std::string& expected) {
    const std::string dir = root + "/" + std::to_string(cases.size());
    fs::remove_all(dir);
    fs::create_directories(dir);
    for (const fs::directory_entry& entry : fs::directory_iterator(good)) {
      fs::copy_file(entry.path(), fs::path(dir) / entry.path().filename());
    }
    cases.push_back({what, dir, expected});
    return dir;
  };
  auto write_index = [&](const std::string& dir, const nlohmann::json& changed) {
    std::ofstream(dir + "/" + index_name, std::ios::trunc) << changed.dump(2);
  };

  std::string dir = copy("missing shard", first_shard + ": cannot open file (a shard");
  fs::remove(dir + "/" + first_shard);

  dir = copy("truncated shard", first_shard + ": tensor '");
  fs::resize_file(dir + "/" + first_shard, fs::file_size(dir + "/" + first_shard) / 2);

  nlohmann::json changed = index;
  changed["weight_map"]["model.extra.weight"] = first_shard;
  write_index(copy("key in no shard", ": model.extra.weight: not in "), changed);

  changed = index;
  changed["weight_map"]["model.extra.weight"] = "model-09999-of-09999.safetensors";
  write_index(copy("shard that does not exist", "model-09999-of-09999.safetensors: cannot open"),
              changed);

  // One more shard holding a copy of first_key (which the index maps to the first shard) and a
  // key of its own.
  dir = copy("key in two shards",
             "model-extra.safetensors: " + first_key + ": the index maps it to " + first_shard);
  {
    io::SafetensorsReader reader(good + "/" + first_shard);
    const io::SafetensorsEntry& entry = reader.tensors().at(first_key);
    std::vector<float> duplicate(entry.count(), 0.5f);
    const std::vector<float> ones(4, 1.0f);
    io::SafetensorsWriter extra(dir + "/model-extra.safetensors",
                                {{first_key, entry.shape, io::TensorDType::kF32},
                                 {"model.extra.weight", {4}, io::TensorDType::kF32}});
    extra.write(duplicate.data(), duplicate.size());
    extra.write(ones.data(), ones.size());
    extra.finish();
    changed = index;
    changed["weight_map"]["model.extra.weight"] = "model-extra.safetensors";
    write_index(dir, changed);
  }

  dir = copy("index not JSON", index_name + ": not valid JSON: parse error at line 1");
  std::ofstream(dir + "/" + index_name, std::ios::trunc) << "{\"weight_map\": {\"a\": ";

  // One more shard with an I8 tensor.
  dir = copy("unsupported dtype",
             "model-i8.safetensors: tensor 'model.extra.weight': dtype I8 is not supported");
  {
    const std::size_t count = 4;
    std::string header =
        nlohmann::json{{"model.extra.weight",
                        {{"dtype", "I8"}, {"shape", {count}}, {"data_offsets", {0, count}}}}}
            .dump();
    std::ofstream file(dir + "/model-i8.safetensors", std::ios::binary);
    std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i, n >>= 8) file.put(static_cast<char>(n & 0xFF));
    file << header << std::string(count, '\1');
    changed = index;
    changed["weight_map"]["model.extra.weight"] = "model-i8.safetensors";
    write_index(dir, changed);
  }
  return cases;
}

}  // namespace sse::test
