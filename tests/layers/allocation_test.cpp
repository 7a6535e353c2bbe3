// A decode step allocates nothing when the caller supplies a workspace: an SSE layer (both
// rules, grouped value heads, short convolution, output gate), a softmax attention layer whose
// cache has room, a whole SSE-H model and a SpikingBrain2.0 model in bf16, each on one thread and
// on a pool of two, for a batch of 1 and of kLinearDotRows sequences. The step with a workspace
// also equals the step without, bit for bit. Counted by replacing this test executable's global
// operator new.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/random_checkpoint.hpp"
#include "sse/layers/softmax_attention_layer.hpp"
#include "sse/layers/sse_layer.hpp"

#include "support/allocation_counter.hpp"
#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/random.hpp"
#include <unistd.h>

namespace sse::test {
namespace {

SseLayerConfig decode_layer_config() {
  SseLayerConfig c;
  c.hidden = 24, c.heads = 2, c.v_heads = 4, c.head_dim = 8, c.value_dim = 6, c.partitions = 4;
  c.writers = c.readers = 2;
  c.use_short_conv = true, c.conv_size = 4;
  return c;
}

// Prefills 5 tokens, then runs one decode step with and without a workspace from the same
// cache: returns the allocations of the step with the workspace, and checks both steps agree.
template <class Layer, class Cache>
long decode_step_allocations(const Layer& layer, Cache cache, index_t B, index_t D,
                             Executor& executor) {
  const std::vector<float> prompt = randn<float>(std::size_t(B * 5 * D), 17);
  std::vector<float> y(prompt.size());
  layer.forward({prompt.data(), {B, 5, D}}, {y.data(), {B, 5, D}}, &cache, executor);

  const std::vector<float> x = randn<float>(std::size_t(B * D), 18);
  Cache plain_cache = cache;
  std::vector<float> plain = poisoned<float>(x.size());
  layer.forward({x.data(), {B, 1, D}}, {plain.data(), {B, 1, D}}, &plain_cache, executor);

  std::vector<std::byte> memory(layer.workspace_size(B, 1, executor));
  std::vector<float> step = poisoned<float>(x.size());
  long allocations = 0;
  {
    const CountAllocations counter;
    layer.forward({x.data(), {B, 1, D}}, {step.data(), {B, 1, D}}, &cache, executor,
                  Workspace(memory.data(), memory.size()));
    allocations = counter.count();
  }
  EXPECT_TRUE(same_bits(step, plain)) << "B=" << B;
  return allocations;
}

template <class Rule>
void sse_layer_decode_allocates_nothing() {
  const SseLayerConfig c = decode_layer_config();
  const SseLayer<Rule> layer(c, weights_for<Rule>(c, 31));
  SerialExecutor serial;
  ThreadPool pool(2);
  for (Executor* executor : {static_cast<Executor*>(&serial), static_cast<Executor*>(&pool)}) {
    for (index_t B : {index_t(1), kLinearDotRows}) {
      EXPECT_EQ(decode_step_allocations(layer, layer.make_cache(B), B, c.hidden, *executor), 0)
          << Rule::kName << " B=" << B << " threads " << executor->concurrency();
    }
  }
}

TEST(LayerAllocation, SseGlaDecodeStepAllocatesNothing) {
  sse_layer_decode_allocates_nothing<GlaRule>();
}

TEST(LayerAllocation, SseGdnDecodeStepAllocatesNothing) {
  sse_layer_decode_allocates_nothing<GdnRule>();
}

TEST(LayerAllocation, SoftmaxAttentionDecodeStepAllocatesNothing) {
  SoftmaxAttentionConfig c;
  c.hidden = 32, c.heads = 4, c.kv_heads = 2;
  std::uint64_t seed = 41;
  Weights w;
  add_random(w, SoftmaxAttentionLayer::parameters(c), "", seed);
  const SoftmaxAttentionLayer layer(c, std::move(w));
  SerialExecutor serial;
  ThreadPool pool(2);
  for (Executor* executor : {static_cast<Executor*>(&serial), static_cast<Executor*>(&pool)}) {
    for (index_t B : {index_t(1), kLinearDotRows}) {
      EXPECT_EQ(decode_step_allocations(layer, layer.make_cache(B, 8), B, c.hidden, *executor), 0)
          << "B=" << B << " threads " << executor->concurrency();
    }
  }
}

TEST(LayerAllocation, ModelDecodeStepAllocatesNothing) {
  for (const char* type : {"gla", "gdn"}) {
    const HybridConfig c = small_model_config(type, false);
    const HybridModel model(c, random_model_weights(c, 24, 51));
    SerialExecutor serial;
    ThreadPool pool(2);
    for (Executor* executor : {static_cast<Executor*>(&serial), static_cast<Executor*>(&pool)}) {
      for (index_t B : {index_t(1), kLinearDotRows}) {
        HybridModel::Cache cache = model.make_cache(B, 16);
        std::vector<std::int64_t> prompt(std::size_t(B * 5));
        for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = std::int64_t(i * 7 % 50);
        std::vector<float> logits(std::size_t(B * 5 * c.vocab_size));
        model.forward({prompt.data(), {B, 5}}, {logits.data(), {B, 5, c.vocab_size}}, &cache,
                      *executor);
        const std::vector<std::int64_t> next(std::size_t(B), 3);
        std::vector<std::byte> memory(model.workspace_size(B, 1, *executor));
        std::vector<float> step = poisoned<float>(std::size_t(B * c.vocab_size));
        long allocations = 0;
        {
          const CountAllocations counter;
          model.forward({next.data(), {B, 1}}, {step.data(), {B, 1, c.vocab_size}}, &cache,
                        *executor, Workspace(memory.data(), memory.size()));
          allocations = counter.count();
        }
        EXPECT_EQ(allocations, 0) << type << " B=" << B << " threads " << executor->concurrency();
        EXPECT_TRUE(
            std::all_of(step.begin(), step.end(), [](float x) { return std::isfinite(x); }));
      }
    }
  }
}

// The same for a SpikingBrain2.0 model loaded from a bf16 checkpoint (its matrices in bf16):
// SSE-SWA layers with a full window, a MoBA layer after its prefill, full attention.
TEST(LayerAllocation, SpikingBrainDecodeStepAllocatesNothing) {
  namespace fs = std::filesystem;
  const fs::path dir =
      fs::path(::testing::TempDir()) / ("spb2_alloc_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream((dir / "source.json").string()) << small_spikingbrain_config_text("gdn");
  RandomCheckpointOptions options;
  options.shard_bytes = 20000;
  write_random_checkpoint((dir / "source.json").string(), (dir / "model").string(), options);
  const HybridModel model = load_hybrid_model((dir / "model").string());
  const index_t V = model.config().vocab_size, P = 12;  // a prompt past the window of 6
  SerialExecutor serial;
  ThreadPool pool(2);
  for (Executor* executor : {static_cast<Executor*>(&serial), static_cast<Executor*>(&pool)}) {
    for (index_t B : {index_t(1), kLinearDotRows}) {
      HybridModel::Cache cache = model.make_cache(B, 16);
      std::vector<std::int64_t> prompt(std::size_t(B * P));
      for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = std::int64_t(i * 7 % V);
      std::vector<float> logits(std::size_t(B * P * V));
      model.forward({prompt.data(), {B, P}}, {logits.data(), {B, P, V}}, &cache, *executor);
      std::vector<std::byte> memory(model.workspace_size(B, 1, *executor));
      for (int step = 0; step < 2; ++step) {
        const std::vector<std::int64_t> next(std::size_t(B), 3 + step);
        std::vector<float> out = poisoned<float>(std::size_t(B * V));
        long allocations = 0;
        {
          const CountAllocations counter;
          model.forward({next.data(), {B, 1}}, {out.data(), {B, 1, V}}, &cache, *executor,
                        Workspace(memory.data(), memory.size()));
          allocations = counter.count();
        }
        EXPECT_EQ(allocations, 0) << "B=" << B << " threads " << executor->concurrency();
        EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float x) { return std::isfinite(x); }));
      }
    }
  }
  fs::remove_all(dir);
}

// A speculative round (verify of F tokens, then commit) allocates nothing once the cache has
// grown to its first verify and with a workspace for F tokens.
TEST(LayerAllocation, SpikingBrainVerifyAndCommitAllocateNothing) {
  for (const char* base : {"gla", "gdn"}) {
    HybridConfig c;
    throw_if_error(parse_hybrid_config(small_spikingbrain_config_text(base), c));
    const HybridModel model(c, random_model_weights(c, 48, 31));
    const index_t V = c.vocab_size, P = 12, F = 5;
    ThreadPool pool(2);
    for (index_t B : {index_t(1), index_t(2)}) {
      HybridModel::Cache cache = model.make_cache(B, 64, F);
      std::vector<std::int64_t> prompt(std::size_t(B * P));
      for (std::size_t i = 0; i < prompt.size(); ++i) prompt[i] = std::int64_t(i * 7 % V);
      std::vector<float> logits(std::size_t(B * F * V));
      model.forward({prompt.data(), {B, P}}, {logits.data(), {B, 1, V}}, &cache, pool);
      std::vector<std::byte> memory(model.workspace_size(B, F, pool));
      const std::vector<std::int64_t> drafts(std::size_t(B * F), 4);
      for (int round = 0; round < 3; ++round) {
        const std::vector<index_t> kept(std::size_t(B), 1 + round % F);
        long allocations = 0;
        {
          const CountAllocations counter;
          model.verify({drafts.data(), {B, F}}, {logits.data(), {B, F, V}}, cache, pool,
                       Workspace(memory.data(), memory.size()));
          model.commit({kept.data(), {B}}, cache, pool);
          allocations = counter.count();
        }
        if (round > 0) {
          EXPECT_EQ(allocations, 0) << base << " B=" << B << " round " << round;
        }
      }
    }
  }
}

// The counter sees allocations: without a workspace, a layer's step allocates its scratch.
TEST(LayerAllocation, CounterSeesTheStepWithoutAWorkspace) {
  const SseLayerConfig c = decode_layer_config();
  const SseLayer<GlaRule> layer(c, weights_for<GlaRule>(c, 31));
  SseLayer<GlaRule>::Cache cache = layer.make_cache(1);
  const std::vector<float> x = randn<float>(std::size_t(c.hidden), 19);
  std::vector<float> y(x.size());
  SerialExecutor serial;
  const CountAllocations counter;
  layer.forward({x.data(), {1, 1, c.hidden}}, {y.data(), {1, 1, c.hidden}}, &cache, serial);
  EXPECT_GE(counter.count(), 1);
}

}  // namespace
}  // namespace sse::test
