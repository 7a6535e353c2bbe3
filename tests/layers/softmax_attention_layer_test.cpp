// SoftmaxAttentionLayer (layers/softmax_attention_layer.hpp) against the float64 plain-loop
// layer, and prefill followed by decode through the KV cache == one prefill.

#include "sse/layers/softmax_attention_layer.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/reference/naive_layers.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"
#include "support/stepping.hpp"

namespace sse::test {
namespace {

Weights attention_weights(const SoftmaxAttentionConfig& config, std::uint64_t seed) {
  Weights w;
  for (const ParameterSpec& spec : SoftmaxAttentionLayer::parameters(config)) {
    std::size_t n = 1;
    for (index_t d : spec.shape) n *= std::size_t(d);
    const double fan_in = spec.shape.size() > 1 ? double(spec.shape[1]) : 4.0;
    w.add(spec.key, spec.shape, randn<float>(n, seed++, 1.0 / std::sqrt(fan_in)));
  }
  return w;
}

TEST(SoftmaxAttentionLayer, MatchesFloat64Layer) {
  const index_t B = 2, T = 45;
  std::uint64_t seed = 1;
  for (index_t kv_heads : {index_t(4), index_t(2), index_t(1)}) {
    for (index_t window : {index_t(0), index_t(7)}) {
      for (bool bias : {false, true}) {
        SoftmaxAttentionConfig c;
        c.hidden = 32, c.heads = 4, c.kv_heads = kv_heads, c.window = window, c.qkv_bias = bias;
        c.rope_theta = 500.0;
        const Weights w = attention_weights(c, seed += 10);
        const SoftmaxAttentionLayer layer(c, w);
        const std::vector<float> x = randn<float>(std::size_t(B * T * 32), seed + 5);
        std::vector<float> y = poisoned<float>(x.size());
        layer.forward({x.data(), {B, T, 32}}, {y.data(), {B, T, 32}});
        const auto ref =
            reference::softmax_attention_layer(c, w, std::vector<double>(x.begin(), x.end()), B, T);
        EXPECT_LT(rel_error(y, ref), 1e-5)
            << "kv_heads=" << kv_heads << " window=" << window << " bias=" << bias;
      }
    }
  }
}

TEST(SoftmaxAttentionLayer, PrefillThenDecodeEqualsOnePrefill) {
  SoftmaxAttentionConfig c;
  c.hidden = 32, c.heads = 4, c.kv_heads = 2, c.window = 12;
  const SoftmaxAttentionLayer layer(c, attention_weights(c, 70));
  const index_t B = 2, T = 40, P = 25, D = 32;
  const std::vector<float> x = randn<float>(std::size_t(B * T * D), 71);
  std::vector<float> full(x.size());
  layer.forward({x.data(), {B, T, D}}, {full.data(), {B, T, D}});
  auto cache = layer.make_cache(B, 4);  // small: the cache must grow on the way
  const std::vector<float> stepped = prefill_then_decode(
      x, B, T, D, D, P, [&](const std::vector<float>& xs, index_t count, std::vector<float>& ys) {
        layer.forward({xs.data(), {B, count, D}}, {ys.data(), {B, count, D}}, &cache);
      });
  EXPECT_EQ(cache.length[0], T);
  EXPECT_LT(rel_error(stepped, full), 1e-5);
}

TEST(SoftmaxAttentionLayer, BadConfigurationsAndWeightsAreErrors) {
  SoftmaxAttentionConfig c;
  c.hidden = 32, c.heads = 4, c.kv_heads = 3;
  EXPECT_THROW(SoftmaxAttentionLayer(c, Weights{}), sse::invalid_argument);
  c.kv_heads = 2;
  Weights w = attention_weights(c, 80);
  w.add("q_proj.bias", {32}, std::vector<float>(32));
  try {
    SoftmaxAttentionLayer layer(c, w);
    ADD_FAILURE() << "no error";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "q_proj.bias: unexpected key (not a parameter)");
  }
}

}  // namespace
}  // namespace sse::test
