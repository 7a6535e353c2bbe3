// SseLayer<GlaRule> and SseLayer<GdnRule> (layers/sse_layer.hpp) against the float64 plain-loop
// layer (reference/naive_layers.hpp), and prefill followed by decode steps == one prefill.

#include "sse/layers/sse_layer.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/reference/naive_layers.hpp"

#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/random.hpp"
#include "support/stepping.hpp"

namespace sse::test {
namespace {

SseLayerConfig small_config(bool grouped, bool conv, bool gate) {
  SseLayerConfig c;
  c.hidden = 24, c.heads = 2, c.v_heads = grouped ? 4 : 2, c.head_dim = 8, c.value_dim = 12;
  c.partitions = 4, c.writers = c.readers = 1;
  c.use_short_conv = conv, c.use_output_gate = gate;
  return c;
}

template <class Rule>
class SseLayerTest : public ::testing::Test {};
using Rules = ::testing::Types<GlaRule, GdnRule>;
TYPED_TEST_SUITE(SseLayerTest, Rules);

TYPED_TEST(SseLayerTest, MatchesFloat64Layer) {
  using Rule = TypeParam;
  const index_t B = 2, T = 37;
  std::uint64_t seed = 100;
  for (bool grouped : {false, true}) {
    for (bool conv : {false, true}) {
      for (bool gate : {true, false}) {
        const SseLayerConfig config = small_config(grouped, conv, gate);
        const Weights weights = weights_for<Rule>(config, seed += 50);
        const SseLayer<Rule> layer(config, weights);
        const std::vector<float> x = randn<float>(std::size_t(B * T * config.hidden), seed + 1);
        std::vector<float> y = poisoned<float>(x.size());
        layer.forward({x.data(), {B, T, config.hidden}}, {y.data(), {B, T, config.hidden}});
        const std::vector<double> xd(x.begin(), x.end());
        const auto ref = reference::sse_layer<Rule>(config, weights, xd, B, T);
        EXPECT_LT(rel_error(y, ref), 1e-5)
            << "grouped=" << grouped << " conv=" << conv << " gate=" << gate;
      }
    }
  }
}

// Prefill of 30 tokens, then 8 decode steps through the cache == one call over 38 tokens; and
// the cache equals the float64 layer's carried state.
TYPED_TEST(SseLayerTest, PrefillThenDecodeEqualsOnePrefill) {
  using Rule = TypeParam;
  const index_t B = 2, T = 38, P = 30;
  const SseLayerConfig config = small_config(true, true, true);
  const SseLayer<Rule> layer(config, weights_for<Rule>(config, 7));
  const index_t D = config.hidden;
  const std::vector<float> x = randn<float>(std::size_t(B * T * D), 8);
  std::vector<float> full(x.size());
  auto full_cache = layer.make_cache(B);
  layer.forward({x.data(), {B, T, D}}, {full.data(), {B, T, D}}, &full_cache);

  auto cache = layer.make_cache(B);
  const std::vector<float> stepped = prefill_then_decode(
      x, B, T, D, D, P, [&](const std::vector<float>& xs, index_t count, std::vector<float>& ys) {
        layer.forward({xs.data(), {B, count, D}}, {ys.data(), {B, count, D}}, &cache);
      });
  EXPECT_LT(rel_error(stepped, full), 1e-5);
  EXPECT_LT(rel_error(cache.state, full_cache.state), 1e-5);
  // The history holds projections: a decode step's (one dot product per output) and the
  // prefill's (Eigen's matrix product) agree to float32 rounding.
  EXPECT_LT(rel_error(cache.q_conv, full_cache.q_conv), 1e-6);
  EXPECT_LT(rel_error(cache.k_conv, full_cache.k_conv), 1e-6);
}

TEST(SseLayer, WeightAndShapeErrorsNameTheKey) {
  const SseLayerConfig config = small_config(false, false, true);
  Weights weights = weights_for<GlaRule>(config, 3);
  Weights missing;
  for (const std::string& key : weights.keys()) {
    if (key != "gk_proj.1.1.bias") missing.add(key, weights.at(key).shape, weights.at(key).data);
  }
  try {
    SseLayer<GlaRule> layer(config, missing);
    ADD_FAILURE() << "no error";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "gk_proj.1.1.bias: missing (expected float32 [16])");
  }
  weights.add("extra.weight", {1}, {0.0f});
  EXPECT_THROW(SseLayer<GlaRule>(config, weights), sse::invalid_argument);

  const SseLayer<GlaRule> layer(config, weights_for<GlaRule>(config, 4));
  std::vector<float> x(2 * 3 * 23), y(x.size());
  EXPECT_THROW(layer.forward({x.data(), {2, 3, 23}}, {y.data(), {2, 3, 23}}),
               sse::invalid_argument);
}

}  // namespace
}  // namespace sse::test
