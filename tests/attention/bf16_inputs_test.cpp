// sse::sse_attention with bfloat16 inputs (q, k, v, g, beta): rows are widened to float as they
// are gathered, so a bf16 call equals the float call on the same (rounded) values, and differs
// from the float call on the unrounded inputs by about the bf16 rounding of the inputs.

#include "sse/attention/bf16_inputs.hpp"

#include <cmath>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/sse_attention.hpp"
#include "sse/core/bfloat16.hpp"
#include "sse/core/parallel.hpp"
#include "sse/reference/naive_sse.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/configs.hpp"
#include "support/sse_case.hpp"

namespace sse::test {
namespace {

template <class C>
class Bf16InputsTest : public ::testing::Test {};
using FloatConfigs = ::testing::Types<Config<GlaRule, float>, Config<GdnRule, float>>;
TYPED_TEST_SUITE(Bf16InputsTest, FloatConfigs, ConfigNames);

/// Rounds a float case's q, k, v, g and beta to bfloat16 values in place (exact in float), so
/// that the float and the bf16 calls see the same numbers; returns the bf16 copy.
template <class Rule>
std::unique_ptr<Bf16SseInputs<Rule>> round_to_bf16(SseCase<Rule, float>& c) {
  for (auto* x : {&c.q1, &c.k1, &c.q2, &c.k2, &c.v, &c.g1, &c.g2, &c.beta1, &c.beta2}) {
    for (float& e : *x) e = bfloat16::from_float(e).to_float();
  }
  return std::make_unique<Bf16SseInputs<Rule>>(c.inputs());
}

// Both paths, both forms, packed sequences with an empty one, k = 2 of N = 5, odd K and V:
// the bf16 call equals the float call on the rounded values and the float64 oracle on them.
TYPED_TEST(Bf16InputsTest, EqualsFloatOnTheRoundedValues) {
  using Rule = typename TypeParam::Rule;
  const std::vector<SseShape> shapes = {SseShape{2, 150, 2, 19, 13, 5, {}},
                                        SseShape{1, 140, 3, 16, 24, 5, {0, 70, 70, 71, 140}},
                                        SseShape{1, 1, 2, 32, 32, 5, {}}};
  std::uint64_t seed = 900;
  for (const SseShape& shape : shapes) {
    SseCase<Rule, float> c(shape, ++seed, 2, 2);
    const auto bf = round_to_bf16(c);
    const reference::SseResult ref = reference::sse_attention<Rule>(c.inputs(), c.options());
    for (const Path path : {Path::kSparse, Path::kMasked}) {
      for (const Mode mode : {Mode::kRecurrent, Mode::kChunk}) {
        AttentionOptions opt = c.options();
        opt.path = path;
        opt.mode = mode;
        const std::string what = ::testing::PrintToString(shape) + " path " +
                                 std::to_string(int(path)) + " mode " + std::to_string(int(mode));
        c.poison();
        sse_attention<Rule>(c.inputs(), c.outputs(), opt);
        const std::vector<float> float_o = c.o, float_ht = c.ht;
        c.poison();
        sse_attention<Rule>(bf->inputs(), c.outputs(), opt);
        EXPECT_LT(rel_error(c.o, float_o), 1e-6) << what;
        EXPECT_LT(rel_error(c.ht, float_ht), 1e-6) << what;
        EXPECT_LT(rel_error(c.o, ref.o), 1e-5) << what;
        EXPECT_LT(rel_error(c.ht, ref.ht), 1e-5) << what;
      }
    }
  }
}

// Against the float call on the unrounded inputs, the bf16 call is off by about the inputs'
// rounding (2^-9 relative per element), never more than a few times that.
TYPED_TEST(Bf16InputsTest, WithinInputRoundingOfFloat) {
  using Rule = typename TypeParam::Rule;
  SseCase<Rule, float> c(SseShape{1, 200, 2, 32, 32, 4, {}}, 931, 1, 1);
  sse_attention<Rule>(c.inputs(), c.outputs(), c.options());
  const std::vector<float> exact_o = c.o;
  const auto bf = round_to_bf16(c);
  c.poison();
  sse_attention<Rule>(bf->inputs(), c.outputs(), c.options());
  const double error = rel_error(c.o, exact_o);
  EXPECT_GT(error, 1e-4) << "the inputs were not rounded";
  EXPECT_LT(error, 2e-2);
}

// Workspace, threads and key_rows (GLA) work as with float inputs: same bits with 1 and 2
// threads, and no partition outside the routed ones is touched on decode.
TYPED_TEST(Bf16InputsTest, ThreadsDoNotChangeBits) {
  using Rule = typename TypeParam::Rule;
  SseCase<Rule, float> c(SseShape{1, 130, 2, 16, 16, 4, {}}, 941, 1, 1);
  const auto bf = round_to_bf16(c);
  AttentionOptions opt = c.options();
  if constexpr (Rule::kRowSparseKeys) opt.key_rows = 4;
  ThreadPool pool(2);
  std::vector<std::byte> workspace(
      sse_attention_workspace_size<Rule>(bf->inputs(), c.outputs(), opt, pool));
  sse_attention<Rule>(bf->inputs(), c.outputs(), opt, pool,
                      Workspace(workspace.data(), workspace.size()));
  const std::vector<float> two_o = c.o, two_ht = c.ht;
  c.poison();
  sse_attention<Rule>(bf->inputs(), c.outputs(), opt);
  EXPECT_TRUE(same_bits(c.o, two_o));
  EXPECT_TRUE(same_bits(c.ht, two_ht));
  c.poison();
  sse_attention<Rule>(c.inputs(), c.outputs(), opt);  // float on the rounded values
  EXPECT_LT(rel_error(c.o, two_o), 1e-6);
}

// Bad bf16 values are reported like float ones, with nothing written.
TYPED_TEST(Bf16InputsTest, BadValuesAreReported) {
  using Rule = typename TypeParam::Rule;
  SseCase<Rule, float> c(SseShape{1, 8, 1, 8, 8, 2, {}}, 951, 1, 1);
  c.g2[3] = 0.5f;
  const auto positive_decay = round_to_bf16(c);
  const Status status = validate_sse_attention(positive_decay->inputs(), c.outputs(), c.options());
  ASSERT_FALSE(status);
  EXPECT_NE(status.message().find("g2: element"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("= 0.5 is positive"), std::string::npos) << status.message();
  c.poison();
  const std::vector<float> o_before = c.o, ht_before = c.ht;
  EXPECT_THROW(sse_attention<Rule>(positive_decay->inputs(), c.outputs(), c.options()),
               invalid_argument);
  EXPECT_TRUE(same_bits(c.o, o_before));
  EXPECT_TRUE(same_bits(c.ht, ht_before));
  if constexpr (Rule::kHasBeta) {
    c.g2[3] = -0.5f;
    c.beta1[0] = std::nanf("");
    const Status beta =
        validate_sse_attention(round_to_bf16(c)->inputs(), c.outputs(), c.options());
    ASSERT_FALSE(beta);
    EXPECT_NE(beta.message().find("beta1: element"), std::string::npos) << beta.message();
  }
}

}  // namespace
}  // namespace sse::test
