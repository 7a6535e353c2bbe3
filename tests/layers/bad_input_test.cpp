// Bad input to a layer or a model: one line naming the tensor, and nothing written: the output
// keeps its poison bits and the cache (states, convolution history, KV cache) is unchanged.

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/layers/hybrid_model.hpp"
#include "sse/layers/softmax_attention_layer.hpp"
#include "sse/layers/sse_layer.hpp"

#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

// Calls `call()`, which must throw sse::invalid_argument with one line containing `expected`.
template <class Call>
void expect_one_line_error(Call call, const std::string& expected) {
  try {
    call();
    ADD_FAILURE() << "no exception; expected \"" << expected << "\"";
  } catch (const sse::invalid_argument& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(expected), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

TEST(LayerBadInput, SseLayerWritesNothing) {
  SseLayerConfig c;
  c.hidden = 20, c.heads = 2, c.head_dim = 8, c.value_dim = 6, c.partitions = 3;
  c.use_short_conv = true;
  const SseLayer<GdnRule> layer(c, weights_for<GdnRule>(c, 3));
  SseLayer<GdnRule>::Cache cache = layer.make_cache(2);
  const std::vector<float> prompt = randn<float>(2 * 4 * 20, 4);
  std::vector<float> y(prompt.size());
  layer.forward({prompt.data(), {2, 4, 20}}, {y.data(), {2, 4, 20}}, &cache);  // a used cache
  const SseLayer<GdnRule>::Cache before = cache;

  const std::vector<float> x = randn<float>(2 * 3 * 21, 5);
  std::vector<float> out = poisoned<float>(x.size());
  const std::vector<float> poison = out;
  expect_one_line_error(
      [&] {
        layer.forward({x.data(), {2, 3, 19}}, {out.data(), {2, 3, 19}}, &cache);
      },
      "x: expected a contiguous [B,T,D] with D = 20, got [2,3,19]");
  expect_one_line_error(
      [&] {
        layer.forward({x.data(), {2, 3, 20}}, {out.data(), {2, 2, 20}}, &cache);
      },
      "y: expected a contiguous [2,3,20], got [2,2,20]");
  expect_one_line_error(
      [&] {
        layer.forward({x.data(), {1, 3, 20}}, {out.data(), {1, 3, 20}}, &cache);
      },
      "cache: made for 2 sequences, the input has B = 1");
  EXPECT_TRUE(same_bits(out, poison));
  EXPECT_TRUE(same_bits(cache.state, before.state));
  EXPECT_TRUE(same_bits(cache.q_conv, before.q_conv));
  EXPECT_TRUE(same_bits(cache.k_conv, before.k_conv));
}

TEST(LayerBadInput, SoftmaxAttentionLayerWritesNothing) {
  SoftmaxAttentionConfig c;
  c.hidden = 16, c.heads = 2;
  std::uint64_t seed = 8;
  Weights w;
  add_random(w, SoftmaxAttentionLayer::parameters(c), "", seed);
  const SoftmaxAttentionLayer layer(c, std::move(w));
  SoftmaxAttentionLayer::Cache cache = layer.make_cache(1, 4);
  const std::vector<float> x = randn<float>(2 * 3 * 16, 9);
  std::vector<float> out = poisoned<float>(x.size());
  const std::vector<float> poison = out;
  expect_one_line_error(
      [&] {
        layer.forward({x.data(), {1, 3, 15}}, {out.data(), {1, 3, 15}}, &cache);
      },
      "x: expected a contiguous [B,T,D] with D = 16");
  expect_one_line_error(
      [&] {
        layer.forward({x.data(), {2, 3, 16}}, {out.data(), {2, 3, 16}}, &cache);
      },
      "cache: made for 1 sequences, the input has B = 2");
  EXPECT_TRUE(same_bits(out, poison));
  EXPECT_EQ(cache.length[0], 0);
  EXPECT_EQ(cache.capacity, 4);
}

TEST(LayerBadInput, ModelWritesNothing) {
  const HybridConfig c = small_model_config("gla", true);
  const HybridModel model(c, random_model_weights(c, 24, 10));
  HybridModel::Cache cache = model.make_cache(1, 8);
  const std::vector<std::int64_t> prompt = {1, 2, 3};
  std::vector<float> logits(std::size_t(3 * c.vocab_size));
  model.forward({prompt.data(), {1, 3}}, {logits.data(), {1, 3, c.vocab_size}}, &cache);
  const auto& attention_before = std::get<SoftmaxAttentionLayer::Cache>(cache.mixers[1]);
  const std::vector<float> keys_before = attention_before.keys;
  const std::vector<float> state_before = std::get<SseLayer<GlaRule>::Cache>(cache.mixers[0]).state;

  const std::vector<std::int64_t> bad = {4, c.vocab_size};
  std::vector<float> out = poisoned<float>(std::size_t(2 * c.vocab_size));
  const std::vector<float> poison = out;
  expect_one_line_error(
      [&] {
        model.forward({bad.data(), {1, 2}}, {out.data(), {1, 2, c.vocab_size}}, &cache);
      },
      "tokens: element [0,1] = 50 is not a token id in [0, 50)");
  expect_one_line_error(
      [&] {
        model.forward({prompt.data(), {1, 2}}, {out.data(), {1, 2, c.vocab_size - 1}}, &cache);
      },
      "logits: expected a contiguous [B,T,vocab] = [1,2,50] or [B,1,vocab] = [1,1,50], got "
      "[1,2,49]");
  expect_one_line_error(
      [&] {
        model.forward({prompt.data(), {2, 1}}, {out.data(), {2, 1, c.vocab_size}}, &cache);
      },
      "cache: made for 1 sequences, the input has B = 2");
  EXPECT_TRUE(same_bits(out, poison));
  const auto& attention = std::get<SoftmaxAttentionLayer::Cache>(cache.mixers[1]);
  EXPECT_EQ(attention.length[0], 3);
  EXPECT_TRUE(same_bits(attention.keys, keys_before));
  EXPECT_TRUE(same_bits(std::get<SseLayer<GlaRule>::Cache>(cache.mixers[0]).state, state_before));
}

}  // namespace
}  // namespace sse::test
