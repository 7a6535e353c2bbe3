// A checkpoint saved by upstream's own code (tests/data/README.md): the model loads from the
// folder as upstream wrote it and reproduces upstream's prompt logits, its greedy ids and the
// logits of every decode step.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/parallel.hpp"
#include "sse/io/npy.hpp"
#include "sse/io/safetensors.hpp"
#include "sse/layers/hybrid_model.hpp"

#include "support/compare.hpp"
#include <nlohmann/json.hpp>
#include <unistd.h>

namespace sse::test {
namespace {

const std::string kSseH = std::string(SSE_TEST_DATA_DIR) + "/upstream/sseh_public";
const std::string kSpb2 = std::string(SSE_TEST_DATA_DIR) + "/upstream/spb2_public";

std::vector<std::int64_t> read_ids(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::int64_t> ids;
  std::string item;
  while (std::getline(file, item, ',')) ids.push_back(std::stoll(item));
  return ids;
}

/// Rows [first, first + count) of a [rows, width] array.
std::vector<float> rows_of(const std::vector<float>& all, index_t width, index_t first,
                           index_t count) {
  return {all.begin() + first * width, all.begin() + (first + count) * width};
}

/// The model of `dir` reproduces the prompt logits, greedy ids and step logits upstream saved
/// beside it (for the prompt in `prompt_path`, by default beside them too): one forward without
/// a cache, then a cached prefill and greedy decode, on 1 and 2 threads.
constexpr double kTol = 1e-4;  // measured: 4e-7 to 1.3e-6 (float32 products on a GPU)
void expect_reproduces_upstream(const std::string& dir, std::string prompt_path = "") {
  SCOPED_TRACE(dir);
  const HybridModel model = load_hybrid_model(dir);
  const HybridConfig& c = model.config();
  if (prompt_path.empty()) prompt_path = dir + "/prompt.txt";
  const std::vector<std::int64_t> prompt = read_ids(prompt_path);
  const std::vector<std::int64_t> expected_ids = read_ids(dir + "/generated.txt");
  const io::NpyArray prompt_logits = io::read_npy(dir + "/logits.npy");
  const io::NpyArray step_logits = io::read_npy(dir + "/gen_logits.npy");
  const auto T = static_cast<index_t>(prompt.size()), V = c.vocab_size;
  const auto N = static_cast<index_t>(expected_ids.size());
  ASSERT_EQ(prompt_logits.shape, (std::vector<index_t>{T, V}));
  ASSERT_EQ(step_logits.shape, (std::vector<index_t>{N, V}));
  const std::vector<float> upstream_prompt = prompt_logits.to_vector<float>();
  const std::vector<float> upstream_steps = step_logits.to_vector<float>();

  for (const std::size_t threads : {std::size_t(1), std::size_t(2)}) {
    ThreadPool pool(threads);
    // One forward without a cache, as upstream computed logits.npy.
    std::vector<float> logits = poisoned<float>(std::size_t(T * V));
    model.forward({prompt.data(), {1, T}}, {logits.data(), {1, T, V}}, nullptr, pool);
    EXPECT_LT(rel_error(logits, upstream_prompt), kTol) << threads << " threads";

    // Prefill through the cache, then greedy decode one token per step.
    auto cache = model.make_cache(1);
    logits = poisoned<float>(std::size_t(T * V));
    model.forward({prompt.data(), {1, T}}, {logits.data(), {1, T, V}}, &cache, pool);
    EXPECT_LT(rel_error(logits, upstream_prompt), kTol) << threads << " threads";
    std::vector<float> last = rows_of(logits, V, T - 1, 1);
    std::vector<std::int64_t> ids;
    for (index_t n = 0; n < N; ++n) {
      EXPECT_LT(rel_error(last, rows_of(upstream_steps, V, n, 1)), kTol)
          << "step " << n << ", " << threads << " threads";
      ids.push_back(argmax_token(last.data(), V));
      last = poisoned<float>(std::size_t(V));
      model.forward({&ids.back(), {1, 1}}, {last.data(), {1, 1, V}}, &cache, pool);
    }
    EXPECT_EQ(ids, expected_ids) << threads << " threads";
  }
}

TEST(UpstreamCheckpoint, FlaSseHReproducesPromptLogitsAndGreedyDecoding) {
  const HybridConfig c = read_hybrid_config(kSseH + "/config.json");
  ASSERT_EQ(c.expand_v, 1.0);  // written as 1.0 by upstream
  ASSERT_EQ(c.sse_layer().value_dim, 32);
  expect_reproduces_upstream(kSseH);
}

// SpikingBrain2.0's architecture as its reference code saved and ran it (tests/data/README.md):
// SSE-SWA (GDN, N = 4, k = 2, window 8, qk_norm) at layers 0 and 2, MoBA (C = 16, top-2, so
// block-sparse over the 120-token prompt) at 1, full attention at 3. The float32 file, and
// the same model rounded to bf16 in two shards (kept in bf16 in memory) with its own logits.
TEST(UpstreamCheckpoint, SpikingBrainReproducesPromptLogitsAndGreedyDecoding) {
  const HybridConfig c = read_hybrid_config(kSpb2 + "/config.json");
  ASSERT_TRUE(c.is_spikingbrain());
  ASSERT_EQ(c.mixer_kind(0), MixerKind::kSseSwa);
  ASSERT_EQ(c.mixer_kind(1), MixerKind::kMoba);
  ASSERT_EQ(c.mixer_kind(3), MixerKind::kAttention);
  expect_reproduces_upstream(kSpb2);
  expect_reproduces_upstream(kSpb2 + "/bf16", kSpb2 + "/prompt.txt");  // the same prompt
}

// SpikingBrain2.0's bf16 checkpoint as transformers shards it (tests/data/README.md): the
// index's weight_map names two shards; every key loads from its shard, as stored (bf16 widened
// exactly), and the bf16 bytes add up to the index's metadata.total_size.
TEST(UpstreamCheckpoint, ShardedIndexAsTransformersWritesIt) {
  const std::string dir = kSpb2 + "/bf16";
  const std::string index_path = dir + "/model.safetensors.index.json";
  const Weights weights = Weights::from_safetensors_index(index_path);
  std::ifstream file(index_path);
  const nlohmann::json index = nlohmann::json::parse(file);
  ASSERT_EQ(weights.size(), index["weight_map"].size());
  std::size_t bytes = 0;
  for (const auto& [key, shard] : index["weight_map"].items()) {
    const io::SafetensorsFile tensors = io::read_safetensors(dir + "/" + shard.get<std::string>());
    const Parameter& p = weights.at(key);
    EXPECT_EQ(p.shape, tensors.tensors.at(key).shape) << key;
    EXPECT_TRUE(same_bits(p.to_float32(), tensors.to_float32(key))) << key;
    // Matrices stay bf16 in memory; the rest is widened when loaded.
    EXPECT_EQ(p.dtype, p.shape.size() == 2 ? io::TensorDType::kBF16 : io::TensorDType::kF32) << key;
    EXPECT_EQ(tensors.tensors.at(key).dtype, io::TensorDType::kBF16) << key;
    bytes += tensors.tensors.at(key).end - tensors.tensors.at(key).begin;
  }
  EXPECT_EQ(bytes, index["metadata"]["total_size"].get<std::size_t>());
}

// fla's checkpoint split into two shards with an index: the same model, bit for bit; a bad
// index names itself and the key.
TEST(UpstreamCheckpoint, ShardedFolderLoadsTheSameModel) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("sharded_sseh_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(kSseH + "/config.json", dir / "config.json");
  const io::SafetensorsFile single = io::read_safetensors(kSseH + "/model.safetensors");
  std::vector<std::vector<float>> storage;
  std::vector<io::NamedTensor> shards[2];
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  int n = 0;
  for (const auto& [key, entry] : single.tensors) {
    storage.push_back(single.to_float32(key));
    shards[n % 2].push_back({key, entry.shape, storage.back().data()});
    index["weight_map"][key] = "model-0000" + std::to_string(n % 2 + 1) + "-of-00002.safetensors";
    ++n;
  }
  for (int i = 0; i < 2; ++i) {
    io::write_safetensors(
        (dir / ("model-0000" + std::to_string(i + 1) + "-of-00002.safetensors")).string(),
        shards[i]);
  }
  std::ofstream(dir / "model.safetensors.index.json") << index.dump(2);

  const std::vector<std::int64_t> prompt = read_ids(kSseH + "/prompt.txt");
  const auto T = static_cast<index_t>(prompt.size());
  auto logits_of = [&](const HybridModel& model) {
    const index_t V = model.config().vocab_size;
    std::vector<float> logits = poisoned<float>(std::size_t(T * V));
    model.forward({prompt.data(), {1, T}}, {logits.data(), {1, T, V}});
    return logits;
  };
  EXPECT_TRUE(
      same_bits(logits_of(load_hybrid_model(dir.string())), logits_of(load_hybrid_model(kSseH))));

  // A key the index maps to a shard that lacks it; an index without a weight_map; not JSON.
  const std::string index_path = (dir / "model.safetensors.index.json").string();
  auto expect_error = [&](const std::string& text, const std::string& expected) {
    std::ofstream(index_path, std::ios::trunc) << text;
    try {
      load_hybrid_model(dir.string());
      ADD_FAILURE() << "no error for " << text.substr(0, 80);
    } catch (const sse::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  };
  nlohmann::json wrong = index;  // the first key was written to shard 1
  wrong["weight_map"][single.tensors.begin()->first] = "model-00002-of-00002.safetensors";
  expect_error(wrong.dump(), "the index maps it to");
  expect_error(R"({"metadata": {"total_size": 1}})",
               "expected an object with a \"weight_map\" object");
  expect_error("{\"weight_map\": ", "model.safetensors.index.json: not valid JSON: parse error");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace sse::test
