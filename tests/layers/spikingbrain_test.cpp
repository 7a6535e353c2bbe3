// SpikingBrain2.0 models (DESIGN.md section 4b): the SSE-SWA layer, the MoBA and qk-norm
// attention layers and whole sse_swa_moba models against their float64 oracles
// (reference/naive_layers.hpp, reference/naive_model.hpp), prefill then decode, 16-bit
// checkpoints kept in 16 bits, sharded == single file, and the config's checks.

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/parallel.hpp"
#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/random_checkpoint.hpp"
#include "sse/layers/sse_swa_layer.hpp"
#include "sse/reference/naive_layers.hpp"
#include "sse/reference/naive_model.hpp"

#include "support/bad_checkpoints.hpp"
#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/random.hpp"
#include "support/stepping.hpp"
#include <unistd.h>

namespace sse::test {
namespace {

std::string spb2_config_text(const std::string& base, bool tied = true) {
  return small_spikingbrain_config_text(base, tied);
}

HybridConfig spb2_config(const std::string& base, bool tied = true) {
  HybridConfig c;
  throw_if_error(parse_hybrid_config(spb2_config_text(base, tied), c));
  return c;
}

SseSwaLayerConfig swa_config(index_t window, bool qk_norm, bool relu, bool bias, bool conv,
                             bool gate) {
  SseSwaLayerConfig c;
  c.sse.hidden = 24, c.sse.heads = 3, c.sse.head_dim = 8, c.sse.value_dim = 8;
  c.sse.partitions = 4, c.sse.writers = 2, c.sse.readers = 2;
  c.sse.use_short_conv = conv, c.sse.use_output_gate = gate;
  c.sse.qk_relu = relu, c.sse.qkv_bias = bias, c.sse.norm_eps = 1e-6;
  c.window.hidden = 24, c.window.heads = 3, c.window.kv_heads = 1, c.window.head = 8;
  c.window.qk_norm = qk_norm, c.window.qkv_bias = bias, c.window.window = window;
  c.window.rope_theta = 5e6, c.window.norm_eps = 1e-6;
  return c;
}

template <class Rule>
Weights swa_weights(const SseSwaLayerConfig& c, std::uint64_t seed) {
  Weights w;
  add_random(w, SseSwaLayer<Rule>::parameters(c), "", seed);
  return w;
}

template <class Rule>
class SseSwaLayerTest : public ::testing::Test {};
using Rules = ::testing::Types<GlaRule, GdnRule>;
TYPED_TEST_SUITE(SseSwaLayerTest, Rules);

// Windows (none: plain causal; 5), q/k norm, relu, qkv biases (GLA only, as upstream), short
// convolution, output gate, over T = 1, 9, 37.
TYPED_TEST(SseSwaLayerTest, MatchesFloat64Layer) {
  using Rule = TypeParam;
  const index_t B = 2;
  std::uint64_t seed = 300;
  const bool gla = Rule::kPerKeyDecay;
  for (index_t window : {index_t(0), index_t(5)}) {
    for (bool variant : {false, true}) {
      const SseSwaLayerConfig c =
          swa_config(window, variant, variant, gla && variant, !variant, variant);
      const Weights w = swa_weights<Rule>(c, seed += 100);
      const SseSwaLayer<Rule> layer(c, w);
      for (index_t T : {index_t(1), index_t(9), index_t(37)}) {
        const std::vector<float> x = randn<float>(std::size_t(B * T * 24), seed + T);
        std::vector<float> y = poisoned<float>(x.size());
        layer.forward({x.data(), {B, T, 24}}, {y.data(), {B, T, 24}});
        const auto ref =
            reference::sse_swa_layer<Rule>(c, w, std::vector<double>(x.begin(), x.end()), B, T);
        EXPECT_LT(rel_error(y, ref), 1e-5)
            << "window=" << window << " variant=" << variant << " T=" << T;
      }
    }
  }
}

// Prefill then decode == one prefill; the window's cache holds the last W tokens only.
TYPED_TEST(SseSwaLayerTest, PrefillThenDecodeEqualsOnePrefill) {
  using Rule = TypeParam;
  const SseSwaLayerConfig c = swa_config(5, true, false, false, true, true);
  const SseSwaLayer<Rule> layer(c, swa_weights<Rule>(c, 77));
  const index_t B = 2, T = 30, P = 17, D = 24;
  const std::vector<float> x = randn<float>(std::size_t(B * T * D), 78);
  std::vector<float> full(x.size());
  layer.forward({x.data(), {B, T, D}}, {full.data(), {B, T, D}});
  auto cache = layer.make_cache(B);
  const std::vector<float> stepped = prefill_then_decode(
      x, B, T, D, D, P, [&](const std::vector<float>& xs, index_t count, std::vector<float>& ys) {
        layer.forward({xs.data(), {B, count, D}}, {ys.data(), {B, count, D}}, &cache);
      });
  EXPECT_LT(rel_error(stepped, full), 1e-5);
  EXPECT_EQ(cache.window.length[0], T);
  EXPECT_EQ(cache.window.kept[0], 5);
  EXPECT_LE(cache.window.capacity, 5 + kLinearDotRows);  // bounded by W, not by T
}

// The bad configurations and weights name their problem; the SSE-SWA layer's names are
// upstream's (sse_ prefixed, LoRA and gate parameters not).
TEST(SseSwaLayer, KeysAreUpstreamsAndProblemsNamed) {
  const SseSwaLayerConfig c = swa_config(5, true, false, false, true, false);
  const std::vector<ParameterSpec> specs = SseSwaLayer<GdnRule>::parameters(c);
  auto has = [&](const std::string& key) {
    for (const ParameterSpec& s : specs) {
      if (s.key == key) return true;
    }
    return false;
  };
  for (const char* key :
       {"sse_q_proj.weight", "sse_a_proj.weight", "A_log", "dt_bias", "lora_q_proj.0.weight",
        "q_conv1d_shared.weight", "sse_o_norm.weight", "swa_q_proj.weight", "swa_q_norm.weight",
        "swa_o_proj.weight", "sse_merge_norm.weight", "swa_merge_norm.weight"}) {
    EXPECT_TRUE(has(key)) << key;
  }
  Weights w = swa_weights<GdnRule>(c, 5);
  w.take("swa_k_norm.weight");
  try {
    SseSwaLayer<GdnRule> layer(c, w);
    ADD_FAILURE() << "no error";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "swa_k_norm.weight: missing (expected float32 [8])");
  }
}

SoftmaxAttentionConfig moba_config() {
  SoftmaxAttentionConfig c;
  c.hidden = 32, c.heads = 4, c.kv_heads = 2, c.head = 16;  // 4 x 16 = 64 != hidden
  c.qk_norm = true, c.norm_eps = 1e-6, c.rope_theta = 5e6;
  c.moba_chunk_size = 8, c.moba_topk = 2;
  return c;
}

Weights moba_weights(std::uint64_t seed) {
  Weights w;
  add_random(w, SoftmaxAttentionLayer::parameters(moba_config()), "", seed);
  return w;
}

// MoBA with qk-norm and a decoupled head size: T = 1, below topk x C, a partial last block.
TEST(MobaLayer, MatchesFloat64Layer) {
  const SoftmaxAttentionConfig c = moba_config();
  const Weights w = moba_weights(500);
  const SoftmaxAttentionLayer layer(c, w);
  const index_t B = 2, D = 32;
  for (index_t T : {index_t(1), index_t(12), index_t(16), index_t(41)}) {
    const std::vector<float> x = randn<float>(std::size_t(B * T * D), 600 + T);
    std::vector<float> y = poisoned<float>(x.size());
    layer.forward({x.data(), {B, T, D}}, {y.data(), {B, T, D}});
    const auto ref =
        reference::softmax_attention_layer(c, w, std::vector<double>(x.begin(), x.end()), B, T);
    EXPECT_LT(rel_error(y, ref), 1e-5) << "T=" << T;
  }
}

// A MoBA prefill, then decode steps: dense attention over the cache after the prompt (so not
// one long MoBA prefill), as the oracle's prompt length says.
TEST(MobaLayer, PrefillThenDecodeIsMobaThenDense) {
  const SoftmaxAttentionConfig c = moba_config();
  const Weights w = moba_weights(700);
  const SoftmaxAttentionLayer layer(c, w);
  const index_t B = 2, T = 40, P = 27, D = 32;
  const std::vector<float> x = randn<float>(std::size_t(B * T * D), 701);
  auto cache = layer.make_cache(B);
  const std::vector<float> stepped = prefill_then_decode(
      x, B, T, D, D, P, [&](const std::vector<float>& xs, index_t count, std::vector<float>& ys) {
        layer.forward({xs.data(), {B, count, D}}, {ys.data(), {B, count, D}}, &cache);
      });
  const std::vector<double> xd(x.begin(), x.end());
  EXPECT_LT(rel_error(stepped, reference::softmax_attention_layer(c, w, xd, B, T, P)), 1e-5);
  // ... which is not what one long prefill gives (the test can fail).
  EXPECT_GT(rel_error(stepped, reference::softmax_attention_layer(c, w, xd, B, T)), 1e-3);
  EXPECT_EQ(cache.length[0], T);
}

/// logits [B,T,vocab] of `model` for `tokens`, through `cache` when given.
std::vector<float> logits_of(const HybridModel& model, const std::vector<std::int64_t>& tokens,
                             index_t B, index_t T, Executor& executor) {
  const index_t V = model.config().vocab_size;
  std::vector<float> logits = poisoned<float>(std::size_t(B * T * V));
  model.forward({tokens.data(), {B, T}}, {logits.data(), {B, T, V}}, nullptr, executor);
  return logits;
}

std::vector<std::int64_t> random_tokens(std::size_t n, index_t vocab, std::uint64_t seed) {
  std::vector<std::int64_t> tokens;
  for (float u : uniform<float>(n, seed, 0.0, double(vocab))) {
    tokens.push_back(std::min<std::int64_t>(vocab - 1, std::int64_t(u)));
  }
  return tokens;
}

// Whole models (GDN as released, GLA, tied and untied) against the float64 model: T = 1,
// below topk x C, a partial last block; the same bits on 1 and 2 threads.
TEST(SpikingBrainModel, MatchesFloat64Model) {
  SerialExecutor serial;
  ThreadPool pool(2);
  std::uint64_t seed = 900;
  for (const char* base : {"gdn", "gla"}) {
    for (bool tied : {true, false}) {
      const HybridConfig c = spb2_config(base, tied);
      const Weights w = random_model_weights(c, 48, seed += 10);
      const HybridModel model(c, w);
      const index_t B = 2;
      for (index_t T : {index_t(1), index_t(12), index_t(30)}) {
        const std::vector<std::int64_t> tokens = random_tokens(std::size_t(B * T), 60, seed + T);
        const std::vector<float> one = logits_of(model, tokens, B, T, serial);
        EXPECT_LT(rel_error(one, reference::model_logits(c, w, tokens, B, T)), 1e-5)
            << base << " tied=" << tied << " T=" << T;
        EXPECT_TRUE(same_bits(one, logits_of(model, tokens, B, T, pool))) << base << " T=" << T;
      }
    }
  }
}

// logits [B,1,vocab]: each sequence's last position only, equal to the last rows of the full
// logits up to summation order (the head takes its dot form for B rows), the caches left the
// same bit for bit; any other middle extent is an error that changes nothing.
TEST(SpikingBrainModel, LastPositionLogitsOnly) {
  ThreadPool pool(2);
  const HybridConfig c = spb2_config("gdn", false);
  const Weights w = random_model_weights(c, 48, 1200);
  const HybridModel model(c, w);
  const index_t B = 2, T = 13, V = 60;
  const std::vector<std::int64_t> tokens = random_tokens(std::size_t(B * T), V, 1201);
  auto full_cache = model.make_cache(B), last_cache = model.make_cache(B);
  std::vector<float> full = poisoned<float>(std::size_t(B * T * V));
  std::vector<float> last = poisoned<float>(std::size_t(B * V));
  model.forward({tokens.data(), {B, T}}, {full.data(), {B, T, V}}, &full_cache, pool);
  model.forward({tokens.data(), {B, T}}, {last.data(), {B, 1, V}}, &last_cache, pool);
  std::vector<float> expected;
  for (index_t b = 0; b < B; ++b) {
    const float* row = full.data() + (b * T + T - 1) * V;
    expected.insert(expected.end(), row, row + V);
  }
  EXPECT_LT(rel_error(last, std::vector<double>(expected.begin(), expected.end())), 1e-6);
  // The next step from either cache gives the same bits.
  const std::vector<std::int64_t> next = {3, 7};
  std::vector<float> a(std::size_t(B * V)), b(std::size_t(B * V));
  model.forward({next.data(), {B, 1}}, {a.data(), {B, 1, V}}, &full_cache, pool);
  model.forward({next.data(), {B, 1}}, {b.data(), {B, 1, V}}, &last_cache, pool);
  EXPECT_TRUE(same_bits(a, b));
  std::vector<float> wrong = poisoned<float>(std::size_t(B * 2 * V));
  try {
    model.forward({tokens.data(), {B, T}}, {wrong.data(), {B, 2, V}}, &last_cache, pool);
    ADD_FAILURE() << "logits [B,2,vocab] for T = 13 accepted";
  } catch (const invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("logits: expected a contiguous [B,T,vocab]"),
              std::string::npos)
        << e.what();
  }
  for (float x : wrong) ASSERT_TRUE(std::isnan(x));
  model.forward({next.data(), {B, 1}}, {a.data(), {B, 1, V}}, &last_cache, pool);
  model.forward({next.data(), {B, 1}}, {b.data(), {B, 1, V}}, &full_cache, pool);
  EXPECT_TRUE(same_bits(a, b)) << "the failed call changed the cache";
}

// A prompt of P tokens, then decode steps: the oracle with MoBA over the prompt only.
TEST(SpikingBrainModel, PrefillThenDecodeMatchesFloat64Model) {
  const HybridConfig c = spb2_config("gdn");
  const Weights w = random_model_weights(c, 48, 1000);
  const HybridModel model(c, w);
  const index_t B = 2, T = 30, P = 21, V = 60;
  const std::vector<std::int64_t> tokens = random_tokens(std::size_t(B * T), V, 1001);
  auto cache = model.make_cache(B);
  const std::vector<float> stepped = prefill_then_decode(
      tokens, B, T, 1, V, P,
      [&](const std::vector<std::int64_t>& ts, index_t count, std::vector<float>& ys) {
        model.forward({ts.data(), {B, count}}, {ys.data(), {B, count, V}}, &cache);
      });
  EXPECT_LT(rel_error(stepped, reference::model_logits(c, w, tokens, B, T, P)), 1e-5);
}

std::string temp_folder(const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(::testing::TempDir()) / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

// Random checkpoints written as upstream saves them (BF16, F16; sharded and single), loaded
// with their matrices kept in 16 bits: the logits equal the float32 model of the same stored
// values to summation order; sharded == single file, bit for bit.
TEST(SpikingBrainModel, SixteenBitCheckpointsStayInSixteenBits) {
  namespace fs = std::filesystem;
  const std::string dir = temp_folder("spb2_random");
  const std::string config_path = dir + "/source_config.json";
  std::ofstream(config_path) << spb2_config_text("gdn");
  SerialExecutor serial;
  const index_t B = 1, T = 30;
  const std::vector<std::int64_t> tokens = random_tokens(std::size_t(B * T), 60, 5);
  for (io::TensorDType dtype : {io::TensorDType::kBF16, io::TensorDType::kF16}) {
    RandomCheckpointOptions options;
    options.dtype = dtype, options.seed = 42, options.shard_bytes = 6000;
    const std::string sharded = dir + "/sharded", single = dir + "/single";
    write_random_checkpoint(config_path, sharded, options);
    options.shard_bytes = 0;
    write_random_checkpoint(config_path, single, options);
    ASSERT_TRUE(fs::exists(sharded + "/model.safetensors.index.json"));
    ASSERT_TRUE(fs::exists(single + "/model.safetensors"));

    const HybridConfig c = read_hybrid_config(sharded + "/config.json");
    const Weights stored =
        Weights::from_safetensors_index(sharded + "/model.safetensors.index.json");
    const Weights widened = stored.to_float32();
    EXPECT_LT(stored.bytes() * 10, widened.bytes() * 6);  // the matrices take 2 bytes a value
    const std::vector<float> sixteen = logits_of(HybridModel(c, stored), tokens, B, T, serial);
    const std::vector<float> thirty_two = logits_of(HybridModel(c, widened), tokens, B, T, serial);
    EXPECT_LT(rel_error(sixteen, thirty_two), 1e-6);
    EXPECT_TRUE(same_bits(sixteen, logits_of(load_hybrid_model(single), tokens, B, T, serial)));
    EXPECT_TRUE(same_bits(sixteen, logits_of(load_hybrid_model(sharded), tokens, B, T, serial)));
    // random_weights makes in memory what the folder holds.
    const HybridModel in_memory(c, random_weights(c, 48, options));
    EXPECT_EQ(in_memory.weight_bytes(), HybridModel(c, stored).weight_bytes());
    EXPECT_TRUE(same_bits(sixteen, logits_of(in_memory, tokens, B, T, serial)));
    fs::remove_all(sharded);
    fs::remove_all(single);
  }
  fs::remove_all(dir);
}

// A missing or truncated shard, an index naming a key in no shard or a file that does not
// exist, a key in two shards, an index that is not JSON, an unsupported dtype: each one line
// naming the file and the key.
TEST(SpikingBrainModel, BrokenShardedCheckpointsAreOneLineErrors) {
  namespace fs = std::filesystem;
  const std::string dir = temp_folder("spb2_broken");
  const std::string config_path = dir + "/source_config.json";
  std::ofstream(config_path) << spb2_config_text("gdn");
  RandomCheckpointOptions options;
  options.shard_bytes = 6000;
  write_random_checkpoint(config_path, dir + "/good", options);
  ASSERT_NO_THROW(load_hybrid_model(dir + "/good"));
  for (const BadCheckpoint& bad : write_bad_checkpoints(dir + "/good", dir + "/bad")) {
    try {
      load_hybrid_model(bad.folder);
      ADD_FAILURE() << bad.what << ": no error";
    } catch (const sse::invalid_argument& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(bad.expected), std::string::npos) << bad.what << ": " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
  fs::remove_all(dir);
}

// The released config (spb2/configs/sft_config.json keys) and the upstream sample's parse as
// section 4b says; every bad value is an error naming the key.
TEST(SpikingBrainConfig, ParsesAndNamesEveryProblem) {
  const HybridConfig c = spb2_config("gdn");
  EXPECT_TRUE(c.is_spikingbrain());
  EXPECT_EQ(c.mixer_kind(0), MixerKind::kSseSwa);
  EXPECT_EQ(c.mixer_kind(1), MixerKind::kMoba);
  EXPECT_EQ(c.mixer_kind(2), MixerKind::kSseSwa);
  EXPECT_EQ(c.mixer_kind(3), MixerKind::kAttention);
  EXPECT_EQ(c.window_layer().window, 6);
  EXPECT_EQ(c.window_layer().heads, 4);
  EXPECT_EQ(c.attention_layer(true).moba_chunk_size, 8);
  EXPECT_EQ(c.attention_layer().window, 0);  // the window is the SSE-SWA branch's only
  EXPECT_EQ(c.attention_layer().head_dim(), 8);
  EXPECT_TRUE(c.attention_layer().qk_norm);

  // Defaults: num_kv_heads = num_heads, window null (plain causal), C = 1024, top-4.
  HybridConfig d;
  ASSERT_TRUE(parse_hybrid_config(
      R"({"model_type": "sse_swa_moba", "hidden_size": 32, "num_hidden_layers": 2,
          "num_heads": 4, "vocab_size": 10, "num_writer": 1,
          "attn": {"layers": [1], "full_layers": [], "num_heads": 4, "qk_norm": false,
                   "rope_theta": 10000, "window_size": null}})",
      d));
  EXPECT_EQ(d.attn_num_kv_heads, 4);
  EXPECT_EQ(d.attn_window, 0);
  EXPECT_EQ(d.moba_chunk_size, 1024);
  EXPECT_EQ(d.moba_topk, 4);
  EXPECT_EQ(d.mixer_kind(1), MixerKind::kMoba);

  const std::string ok = spb2_config_text("gdn");
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = ok;
    const std::size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return text.replace(at, from.size(), to);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {with("\"sse_swa_moba\"", "\"mamba\""), "model_type: expected \"sse\""},
      {with("\"full_layers\": [3]", "\"full_layers\": [2]"), "attn.full_layers: layer 2 is not"},
      {with("\"full_layers\": [3], ", ""), "attn.full_layers: missing"},
      {with("\"qk_norm\": true, ", ""), "attn.qk_norm: missing"},
      {with("\"rope_theta\": 5000000.0, ", ""), "attn.rope_theta: missing"},
      {with("\"moba_chunk_size\": 8", "\"moba_chunk_size\": 0"), "attn.moba_chunk_size: must be"},
      {with("\"moba_topk\": 2", "\"moba_topk\": 0"), "attn.moba_topk: must be >= 1"},
      {with("\"window_size\": 6", "\"window_size\": 0"), "attn.window_size: must be >= 1"},
      {with("\"num_kv_heads\": 2", "\"num_kv_heads\": 3"), "attn.num_kv_heads: 3 must divide"},
      {with("\"num_reader\": 2", "\"num_reader\": 4"), "num_reader: 4 must be >= 1 and less"},
      {with("\"num_writer\": 2", "\"num_writer\": 5"), "num_writer: 5 must be >= 1 and less"},
      {with("\"expand_v\": 1.0", "\"expand_v\": 2.0"), "expand_v: must be 1 in SSE-SWA layers"},
      {with("\"head_dim\": 8", "\"head_dim\": 7"), "head_dim: must be even"},
      {with("\"qk_norm\": true", "\"qk_norm\": 1"), "attn.qk_norm: expected true or false"},
  };
  for (const auto& [text, expected] : cases) {
    HybridConfig bad;
    const Status s = parse_hybrid_config(text, bad);
    ASSERT_FALSE(s) << expected;
    EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
    EXPECT_EQ(s.message().find('\n'), std::string::npos) << s.message();
  }
  HybridConfig no_attn;
  const Status s = parse_hybrid_config(
      R"({"model_type": "sse_swa_moba", "hidden_size": 8, "num_hidden_layers": 1,
          "num_heads": 2, "vocab_size": 4})",
      no_attn);
  EXPECT_EQ(s.message(), "attn: missing (sse_swa_moba models need it)");
}

}  // namespace
}  // namespace sse::test
