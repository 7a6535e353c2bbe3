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

// Python's json module writes a float-typed field as 1.0 (fla saves "expand_v": 1.0), and a
// value an integer key holds may come out as 4.0: integral numbers are integers.
TEST(HybridConfig, IntegralFloatsAreIntegersAndExpandVIsReal) {
  const std::string base =
      R"({"hidden_size": 64.0, "num_hidden_layers": 3.0, "num_heads": 2.0, "vocab_size": 100,
          "head_dim": 32.0, "num_writer": 2.0, "num_reader": 2, "conv_size": 4.0,
          "num_sparse_partition": 4.0, "intermediate_size": 128.0, "norm_eps": 1,
          "attn": {"layers": [1.0], "num_heads": 4.0, "num_kv_heads": 2.0, "window_size": 8.0,
                   "rope_theta": 10000}, "expand_v": )";
  struct Case {
    const char* expand_v;
    index_t value_dim;
  };
  for (const Case& ok : {Case{"1.0", 32}, Case{"1", 32}, Case{"0.5", 16}, Case{"2.0", 64},
                         Case{"0.25", 8}, Case{"1.5", 48}, Case{"null", 32}}) {
    HybridConfig c;
    const Status s = parse_hybrid_config(base + ok.expand_v + "}", c);
    ASSERT_TRUE(s.ok()) << ok.expand_v << ": " << s.message();
    EXPECT_EQ(c.sse_layer().value_dim, ok.value_dim) << ok.expand_v;
    EXPECT_EQ(c.sse_layer().head_dim, 32);
    EXPECT_EQ(c.hidden_size, 64);
    EXPECT_EQ(c.sse_layer().writers, 2);
    EXPECT_EQ(c.intermediate_size.value_or(0), 128);
    EXPECT_TRUE(c.is_attention_layer(1));
    EXPECT_EQ(c.attention_layer().window, 8);
    EXPECT_EQ(c.attention_layer().kv_heads, 2);
    EXPECT_EQ(c.norm_eps, 1.0);
  }
  // head_dim * expand_v must be within 1e-5 of a positive integer (upstream raises otherwise).
  for (const char* bad : {"0.3", "1.01", "0.01", "0", "-1.0", "true", "\"1\"", "1e300"}) {
    HybridConfig c;
    const std::string message = parse_hybrid_config(base + bad + "}", c).message();
    EXPECT_EQ(message.rfind("expand_v: ", 0), 0u) << bad << ": " << message;
  }
  HybridConfig c;
  EXPECT_EQ(parse_hybrid_config(base + "1.0000001}", c).message(), "");
  EXPECT_EQ(c.sse_layer().value_dim, 32);
}

// Malformed config.json text and wrong value types: one line naming the key (or the place in
// the text), never a partly filled config that looks valid.
TEST(HybridConfig, MalformedTextAndWrongTypesNameTheProblem) {
  const std::string ok =
      R"("hidden_size": 8, "num_hidden_layers": 2, "num_heads": 2, "vocab_size": 5)";
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> cases = {
      {"", "not valid JSON: parse error at line 1, column 1"},
      {"{oops", "not valid JSON: parse error at line 1, column 2"},
      {"{" + ok + ",\n \"head_dim\": }", "not valid JSON: parse error at line 2, column 14"},
      {"{" + ok + "} trailing", "not valid JSON: parse error at line 1, column"},
      {"{" + ok + ", \"x\": \"\x01\n\"}", "not valid JSON: "},
      {"[1, 2]", "expected a JSON object"},
      {"null", "expected a JSON object"},
      {"\"config\"", "expected a JSON object"},
      {R"({"hidden_size": 8, "num_heads": 2, "vocab_size": 5})", "num_hidden_layers: missing"},
      {R"({"hidden_size": null, "num_hidden_layers": 2, "num_heads": 2, "vocab_size": 5})",
       "hidden_size: missing"},
      {"{" + ok + ", \"head_dim\": 4.5}", "head_dim: expected an integer"},
      {"{" + ok + ", \"head_dim\": \"4\"}", "head_dim: expected an integer"},
      {"{" + ok + ", \"head_dim\": true}", "head_dim: expected an integer"},
      {"{" + ok + ", \"head_dim\": [4]}", "head_dim: expected an integer"},
      {"{" + ok + ", \"head_dim\": -4}", "head_dim: must be >= 1"},
      {"{" + ok + ", \"num_writer\": 1e300}", "num_writer: expected an integer"},
      {"{" + ok + ", \"num_reader\": 18446744073709551615}", "num_reader: integer out of range"},
      {R"({"hidden_size": 8, "num_hidden_layers": 0, "num_heads": 2, "vocab_size": 5})",
       "hidden_size, num_hidden_layers, num_heads, vocab_size: must be >= 1"},
      {"{" + ok + ", \"norm_eps\": \"1e-6\"}", "norm_eps: expected a number"},
      {"{" + ok + ", \"use_output_gate\": 1}", "use_output_gate: expected true or false"},
      {"{" + ok + ", \"linear_attn_type\": 3}", "linear_attn_type: expected a string"},
      {"{" + ok + ", \"linear_attn_type\": \"mamba\\n\"}",
       "linear_attn_type: expected \"gla\" or \"gdn\", got \"mamba\\x0a\""},
      {"{" + ok + ", \"attn\": [1]}", "attn: expected an object"},
      {"{" + ok + ", \"attn\": {\"layers\": 1}}", "attn.layers: expected an array"},
      {"{" + ok + ", \"attn\": {\"layers\": [\"1\"], \"num_heads\": 2}}",
       "attn.layers: expected layer indices in [0, num_hidden_layers)"},
      {"{" + ok + ", \"attn\": {\"layers\": [0.5], \"num_heads\": 2}}",
       "attn.layers: expected layer indices in [0, num_hidden_layers)"},
      {"{" + ok + ", \"attn\": {\"layers\": [-1], \"num_heads\": 2}}",
       "attn.layers: expected layer indices in [0, num_hidden_layers)"},
      {"{" + ok + ", \"attn\": {\"layers\": [1]}}",
       "attn.num_heads: missing or < 1 while attn.layers is not empty"},
      {"{" + ok + ", \"attn\": {\"layers\": [1], \"num_heads\": 2, \"rope_theta\": \"big\"}}",
       "attn.rope_theta: expected a number"},
      {"{" + ok + ", \"attn\": {\"layers\": [1], \"num_heads\": 2, \"window_size\": 2.5}}",
       "attn.window_size: expected an integer"},
  };
  for (const Case& bad : cases) {
    HybridConfig c;
    const std::string message = parse_hybrid_config(bad.text, c).message();
    EXPECT_EQ(message.rfind(bad.expected, 0), 0u) << bad.text << "\n -> " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

}  // namespace
}  // namespace sse::test
