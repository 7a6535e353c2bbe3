// The SSE-H model (layers/hybrid_model.hpp) and its config.json (layers/hybrid_config.hpp):
// prefill then decode == one prefill for a whole model, tied embeddings, weight and config
// errors naming the key.

#include "sse/layers/hybrid_model.hpp"

#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/compare.hpp"
#include "support/layer_weights.hpp"
#include "support/stepping.hpp"

namespace sse::test {
namespace {

TEST(HybridModel, PrefillThenDecodeEqualsOnePrefill) {
  for (const char* type : {"gla", "gdn"}) {
    for (bool tied : {false, true}) {
      const HybridConfig c = small_model_config(type, tied);
      const HybridModel model(c, random_model_weights(c, 40, 5));
      const index_t B = 2, T = 30, P = 21, vocab = c.vocab_size;
      std::vector<std::int64_t> tokens(std::size_t(B * T));
      for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = std::int64_t((i * 7 + 3) % 50);
      std::vector<float> full = poisoned<float>(std::size_t(B * T * vocab));
      model.forward({tokens.data(), {B, T}}, {full.data(), {B, T, vocab}});

      auto cache = model.make_cache(B);
      const std::vector<float> stepped = prefill_then_decode(
          tokens, B, T, 1, vocab, P,
          [&](const std::vector<std::int64_t>& part, index_t count, std::vector<float>& logits) {
            model.forward({part.data(), {B, count}}, {logits.data(), {B, count, vocab}}, &cache);
          });
      EXPECT_LT(rel_error(stepped, full), 1e-5) << type << " tied=" << tied;
    }
  }
}

TEST(HybridModel, WeightErrorsNameTheKey) {
  const HybridConfig c = small_model_config("gla", false);
  Weights w = random_model_weights(c, 40, 6);
  w.add("model.layers.9.attn.q_proj.weight", {1}, {0.0f});
  try {
    HybridModel model(c, w);
    ADD_FAILURE() << "no error";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "model.layers.9.attn.q_proj.weight: unexpected key (not a parameter of this model)");
  }
  Weights missing = random_model_weights(c, 40, 6);
  static_cast<void>(missing.take("model.layers.1.attn.k_proj.weight"));
  try {
    HybridModel model(c, missing);
    ADD_FAILURE() << "no error";
  } catch (const sse::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "k_proj.weight: missing in 'model.layers.1.attn.' (expected float32 [8,16])");
  }
  const HybridModel model(c, random_model_weights(c, 40, 7));
  std::vector<std::int64_t> bad = {3, 50};
  std::vector<float> logits(2 * 50);
  EXPECT_THROW(model.forward({bad.data(), {1, 2}}, {logits.data(), {1, 2, 50}}),
               sse::invalid_argument);
}

TEST(HybridConfig, ParsesUpstreamKeysWithDefaultsNullsAndUnknownKeys) {
  HybridConfig c;
  const std::string text = R"({
    "hidden_size": 64, "num_hidden_layers": 6, "num_heads": 4, "vocab_size": 100,
    "expand_v": 2, "num_sparse_partition": 8, "num_writer": 2, "num_reader": 2,
    "linear_attn_type": "gdn", "use_short_conv": true, "intermediate_size": null,
    "hidden_ratio": 4, "norm_eps": 1e-6, "tie_word_embeddings": true, "model_type": "sse",
    "attn": {"layers": [5], "num_heads": 4, "num_kv_heads": 2, "window_size": null,
             "rope_theta": 500000.0}})";
  ASSERT_TRUE(parse_hybrid_config(text, c).ok()) << parse_hybrid_config(text, c).message();
  EXPECT_EQ(c.head_dim, 16);
  EXPECT_EQ(c.num_v_heads, 4);
  EXPECT_EQ(c.sse_layer().value_dim, 32);
  EXPECT_FALSE(c.intermediate_size.has_value());
  EXPECT_TRUE(c.is_attention_layer(5));
  EXPECT_FALSE(c.is_attention_layer(4));
  EXPECT_EQ(c.attention_layer().window, 0);
  EXPECT_EQ(c.attn_rope_theta, 500000.0);

  EXPECT_EQ(
      parse_hybrid_config(R"({"hidden_size": 8, "num_heads": 2, "vocab_size": 5})", c).message(),
      "num_hidden_layers: missing");
  EXPECT_EQ(parse_hybrid_config(
                R"({"hidden_size": 8, "num_hidden_layers": 1, "num_heads": 2, "vocab_size": 5,
                    "use_short_conv": "yes"})",
                c)
                .message(),
            "use_short_conv: expected true or false");
  EXPECT_EQ(parse_hybrid_config(
                R"({"hidden_size": 8, "num_hidden_layers": 1, "num_heads": 2, "vocab_size": 5,
                    "attn": {"layers": [3], "num_heads": 2}})",
                c)
                .message(),
            "attn.layers: expected layer indices in [0, num_hidden_layers)");
  EXPECT_FALSE(parse_hybrid_config("{oops", c).ok());
}

}  // namespace
}  // namespace sse::test
