// sse-run generate: the model's own greedy decoding, upstream's checkpoint as upstream saved it,
// and bad model folders (exit status 2, one line naming the file and the key).

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sse/io/npy.hpp"
#include "sse/io/safetensors.hpp"
#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/random_checkpoint.hpp"

#include "sse_run_fixture.hpp"
#include "support/bad_checkpoints.hpp"
#include "support/compare.hpp"
#include "support/layer_weights.hpp"

namespace sse::test {
namespace {

namespace fs = std::filesystem;

/// Writes an SSE-H model folder: config.json and model.safetensors.
void write_model(const std::string& dir, const HybridConfig& c, const Weights& weights) {
  fs::create_directories(dir);
  std::ofstream(dir + "/config.json")
      << "{\"hidden_size\": " << c.hidden_size << ", \"num_hidden_layers\": " << c.num_hidden_layers
      << ", \"num_heads\": " << c.num_heads << ", \"vocab_size\": " << c.vocab_size
      << ", \"head_dim\": " << c.head_dim
      << ", \"num_sparse_partition\": " << c.num_sparse_partition << ", \"linear_attn_type\": \""
      << c.linear_attn_type << "\", \"use_short_conv\": " << (c.use_short_conv ? "true" : "false")
      << ", \"tie_word_embeddings\": " << (c.tie_word_embeddings ? "true" : "false")
      << ", \"intermediate_size\": null, "
      << "\"norm_eps\": 1e-6, \"model_type\": \"sse\", \"attn\": {\"layers\": [1], "
      << "\"num_heads\": " << c.attn_num_heads << ", \"num_kv_heads\": " << c.attn_num_kv_heads
      << ", \"window_size\": null}}";
  std::vector<io::NamedTensor> tensors;
  for (const std::string& key : weights.keys()) {
    tensors.push_back({key, weights.at(key).shape, weights.at(key).data.data()});
  }
  io::write_safetensors(dir + "/model.safetensors", tensors);
}

// sse-run generate == the model's own greedy decoding; --logits holds the prompt's logits.
TEST_F(SseRunTest, GenerateMatchesTheModelsGreedyDecoding) {
  for (const char* type : {"gla", "gdn"}) {
    const HybridConfig c = small_model_config(type, std::string(type) == "gdn");
    const Weights weights = random_model_weights(c, 40, 21);
    const std::string dir = (root_ / "model").string();
    fs::remove_all(dir);
    write_model(dir, c, weights);
    const std::string logits_path = (root_ / "logits.npy").string();
    const RunOutput r = run_sse_run_capturing(
        "generate --model " + dir + " --tokens 3,14,15,9,26 --max-new 6 --logits " + logits_path);
    ASSERT_EQ(r.status, 0) << r.err;

    const HybridModel model(c, weights);
    const std::vector<std::int64_t> prompt = {3, 14, 15, 9, 26};
    std::vector<float> logits(5 * 50);
    auto cache = model.make_cache(1);
    model.forward({prompt.data(), {1, 5}}, {logits.data(), {1, 5, 50}}, &cache);
    EXPECT_LT(rel_error(io::read_npy(logits_path).to_vector<float>(), logits), 1e-6) << type;
    std::string expected;
    std::vector<float> step(50);
    const float* last = logits.data() + 4 * 50;
    for (int n = 0; n < 6; ++n) {
      const std::int64_t id = argmax_token(last, 50);
      expected += (n ? "," : "") + std::to_string(id);
      model.forward({&id, {1, 1}}, {step.data(), {1, 1, 50}}, &cache);
      last = step.data();
    }
    EXPECT_EQ(r.out, expected + "\n") << type;
    EXPECT_NE(r.err.find("per token"), std::string::npos) << r.err;
  }
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// fla's own checkpoint (tests/data/README.md), config.json as transformers wrote it
// ("expand_v": 1.0): upstream's greedy ids exactly, its prompt logits to 1e-4.
TEST_F(SseRunTest, GenerateReproducesUpstreamsCheckpoint) {
  const std::string dir = std::string(SSE_TEST_DATA_DIR) + "/upstream/sseh_public";
  const std::string logits_path = (root_ / "logits.npy").string();
  const std::string expected = read_text(dir + "/generated.txt");
  const auto count = std::count(expected.begin(), expected.end(), ',') + 1;
  for (const char* threads : {"1", "2"}) {
    const RunOutput r = run_sse_run_capturing(
        "generate --model " + dir + " --tokens " + read_text(dir + "/prompt.txt") + " --max-new " +
        std::to_string(count) + " --threads " + threads + " --logits " + logits_path);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, expected + "\n");
    // DESIGN.md section 6 fixes the last stderr line to the letter.
    const std::regex timing_line(
        "prefill 40 tokens: [0-9]+\\.[0-9]+ ms; decode [0-9]+ tokens: [0-9]+\\.[0-9]+ ms per "
        "token\n$");
    EXPECT_TRUE(std::regex_search(r.err, timing_line)) << r.err;
    EXPECT_LT(rel_error(io::read_npy(logits_path).to_vector<float>(),
                        io::read_npy(dir + "/logits.npy").to_vector<float>()),
              1e-4);
  }
}

// SpikingBrain2.0's sample as its reference code saved it, F32 and bf16 shards: upstream's
// greedy ids exactly, its prompt logits to 1e-4.
TEST_F(SseRunTest, GenerateReproducesSpikingBrainCheckpoints) {
  const std::string spb2 = std::string(SSE_TEST_DATA_DIR) + "/upstream/spb2_public";
  const std::string logits_path = (root_ / "logits.npy").string();
  for (const std::string& dir : {spb2, spb2 + "/bf16"}) {
    const std::string expected = read_text(dir + "/generated.txt");
    const auto count = std::count(expected.begin(), expected.end(), ',') + 1;
    const RunOutput r = run_sse_run_capturing("generate --model " + dir + " --tokens " +
                                              read_text(spb2 + "/prompt.txt") + " --max-new " +
                                              std::to_string(count) + " --logits " + logits_path);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, expected + "\n") << dir;
    EXPECT_LT(rel_error(io::read_npy(logits_path).to_vector<float>(),
                        io::read_npy(dir + "/logits.npy").to_vector<float>()),
              1e-4);
  }
}

// Speculative decoding on upstream's own checkpoints: exactly upstream's greedy ids, whatever
// the draft (the model's first layers, the bf16 copy of the F32 model) and T_s, with the
// `speculative:` line before the timing line.
TEST_F(SseRunTest, GenerateSpeculativeReproducesUpstreamsGreedyIds) {
  const std::string sseh = std::string(SSE_TEST_DATA_DIR) + "/upstream/sseh_public";
  const std::string spb2 = std::string(SSE_TEST_DATA_DIR) + "/upstream/spb2_public";
  const std::regex speculative_line(
      "speculative: drafted [0-9]+ accepted [0-9]+ \\([0-9]+\\.[0-9]%\\), [0-9]+\\.[0-9]+ "
      "tokens/s\nprefill [0-9]+ tokens: [0-9.]+ ms; decode [0-9]+ tokens: [0-9.]+ ms per "
      "token\n$");
  struct Run {
    std::string model, draft;
  };
  for (const Run& run : std::vector<Run>{{sseh, "--draft-layers 1 --draft-tokens 3"},
                                         {sseh, "--draft-layers 2"},
                                         {spb2, "--draft-layers 2 --draft-tokens 5"},
                                         {spb2, "--draft " + spb2 + "/bf16 --draft-tokens 2"}}) {
    const std::string expected = read_text(run.model + "/generated.txt");
    const auto count = std::count(expected.begin(), expected.end(), ',') + 1;
    const RunOutput r = run_sse_run_capturing("generate --model " + run.model + " --tokens " +
                                              read_text(run.model + "/prompt.txt") + " --max-new " +
                                              std::to_string(count) + " --threads 2 " + run.draft);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, expected + "\n") << run.draft;
    EXPECT_TRUE(std::regex_search(r.err, speculative_line)) << r.err;
  }
  // --logits with a draft: the prompt's logits, as without one.
  const std::string logits_path = (root_ / "logits.npy").string();
  const RunOutput r = run_sse_run_capturing(
      "generate --model " + sseh + " --tokens " + read_text(sseh + "/prompt.txt") +
      " --max-new 2 --draft-layers 1 --logits " + logits_path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_LT(rel_error(io::read_npy(logits_path).to_vector<float>(),
                      io::read_npy(sseh + "/logits.npy").to_vector<float>()),
            1e-4);
}

TEST_F(SseRunTest, GenerateBadDraftsExitTwo) {
  const std::string sseh = std::string(SSE_TEST_DATA_DIR) + "/upstream/sseh_public";
  const std::string spb2 = std::string(SSE_TEST_DATA_DIR) + "/upstream/spb2_public";
  const std::string base = "generate --model " + sseh + " --tokens 1,2 --max-new 3 ";
  for (const auto& [args, expected] : std::vector<std::pair<std::string, std::string>>{
           {"--draft-tokens 3", "--draft-tokens needs --draft DIR or --draft-layers L"},
           {"--draft-layers 1 --draft-tokens 0", "--draft-tokens: expected an integer in [1,"},
           {"--draft-layers 0", "--draft-layers: expected an integer in [1,"},
           {"--draft-layers 3", "--draft-layers: expected 1 to 2 (fewer than the model's 3"},
           {"--draft " + spb2, "--draft: vocab_size 320 differs from the model's 256"},
           {"--draft " + sseh + " --draft-layers 1", "--draft and --draft-layers exclude"}}) {
    const RunOutput r = run_sse_run_capturing(base + args);
    EXPECT_EQ(r.status, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

// Broken sharded checkpoints (support/bad_checkpoints.hpp): exit 2, one line naming the file
// and the key, no --logits file.
TEST_F(SseRunTest, GenerateBrokenShardedCheckpointsExitTwo) {
  const std::string config_path = (root_ / "config_source.json").string();
  std::ofstream(config_path)
      << R"({"model_type": "sse_swa_moba", "hidden_size": 16, "num_hidden_layers": 2,
             "num_heads": 2, "head_dim": 8, "vocab_size": 20, "num_writer": 1, "num_reader": 1,
             "linear_attn_type": "gdn", "intermediate_size": 24, "tie_word_embeddings": true,
             "attn": {"layers": [1], "full_layers": [1], "num_heads": 2, "qk_norm": true,
                      "rope_theta": 10000.0, "window_size": 4}})";
  RandomCheckpointOptions options;
  options.shard_bytes = 1000;
  const std::string good = (root_ / "good").string();
  write_random_checkpoint(config_path, good, options);
  const std::string logits_path = (root_ / "broken_logits.npy").string();
  ASSERT_EQ(run_sse_run_capturing("generate --model " + good + " --tokens 1,2 --max-new 2").status,
            0);
  for (const BadCheckpoint& bad : write_bad_checkpoints(good, (root_ / "bad").string())) {
    const RunOutput r = run_sse_run_capturing("generate --model " + bad.folder +
                                              " --tokens 1,2 --max-new 2 --logits " + logits_path);
    EXPECT_EQ(r.status, 2) << bad.what << ": " << r.err;
    EXPECT_NE(r.err.find(bad.expected), std::string::npos) << bad.what << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(logits_path)) << bad.what;
  }
}

TEST_F(SseRunTest, GenerateBadInputsExitTwo) {
  const HybridConfig c = small_model_config("gla", false);
  const std::string dir = (root_ / "model").string();
  write_model(dir, c, random_model_weights(c, 40, 22));
  struct Case {
    std::string args, expected;
  };
  const std::vector<Case> cases = {
      {"--model " + dir + " --tokens 1,50 --max-new 2", "--tokens: id 50 is not in [0, 50)"},
      {"--model " + dir + " --tokens 1,,2 --max-new 2", "--tokens: expected comma-separated"},
      {"--model " + dir + " --tokens 1", "--max-new is required"},
      {"--model " + (root_ / "nowhere").string() + " --tokens 1 --max-new 1",
       "config.json: cannot open file"},
  };
  for (const Case& bad : cases) {
    const RunOutput r = run_sse_run_capturing("generate " + bad.args);
    EXPECT_EQ(r.status, 2) << bad.args << ": " << r.err;
    EXPECT_NE(r.err.find(bad.expected), std::string::npos) << bad.args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  // A malformed config.json: the file, then what is wrong and where.
  const std::string config = dir + "/config.json";
  const std::string good = read_text(config);
  const std::vector<std::pair<std::string, std::string>> configs = {
      {"{\"hidden_size\": 16,\n oops}", "config.json: not valid JSON: parse error at line 2"},
      {"", "config.json: not valid JSON: parse error at line 1, column 1"},
      {"[" + good + "]", "config.json: expected a JSON object"},
      {good.substr(0, good.size() - 1) + ", \"head_dim\": \"8\"}",
       "config.json: head_dim: expected an integer"},
      {good.substr(0, good.size() - 1) + ", \"expand_v\": 0.3}",
       "config.json: expand_v: head_dim * expand_v"},
      {good.substr(0, good.size() - 1) + ", \"use_short_conv\": null, \"norm_eps\": [1]}",
       "config.json: norm_eps: expected a number"},
  };
  for (const auto& [text, message] : configs) {
    std::ofstream(config, std::ios::trunc) << text;
    const RunOutput r =
        run_sse_run_capturing("generate --model " + dir + " --tokens 1 --max-new 1");
    EXPECT_EQ(r.status, 2) << text << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << text << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
  std::ofstream(config, std::ios::trunc) << good;

  fs::remove(dir + "/model.safetensors");
  const RunOutput r = run_sse_run_capturing("generate --model " + dir + " --tokens 1 --max-new 1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("model.safetensors: cannot open file"), std::string::npos) << r.err;
}

// One usage text per command: `sse-run <command> --help` prints it (exit 0), and
// `sse-run --help` prints all of them; every flag a command accepts is in its text.
TEST_F(SseRunTest, EachCommandPrintsItsUsage) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> commands = {
      {"attention",
       {"--writers", "--readers", "--no-emulq", "--no-emulk", "--scale", "--path", "--mode",
        "--key-rows", "--bf16", "--threads", "--repeat"}},
      {"scan", {"--scale", "--qk-l2norm", "--allow-neg-eigval", "--mode", "--key-rows"}},
      {"layer", {"--weights", "--heads", "--v-heads", "--norm-eps", "--short-conv", "--path"}},
      {"generate", {"--model", "--tokens", "--max-new", "--logits", "--threads", "--repeat"}},
  };
  const RunOutput all = run_sse_run_capturing("--help");
  EXPECT_EQ(all.status, 0);
  for (const auto& [command, flags] : commands) {
    const RunOutput r = run_sse_run_capturing(command + " --help");
    EXPECT_EQ(r.status, 0) << command << ": " << r.err;
    EXPECT_EQ(r.out.rfind("usage: sse-run " + command + " ", 0), 0u) << r.out;
    EXPECT_NE(all.out.find("sse-run " + command + " "), std::string::npos) << all.out;
    for (const std::string& flag : flags) {
      EXPECT_NE(r.out.find(flag), std::string::npos) << command << " lacks " << flag;
    }
  }
}

}  // namespace
}  // namespace sse::test
