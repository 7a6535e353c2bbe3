// Causal softmax attention (attention/softmax_attention.hpp) and the rotary embedding
// (attention/rope.hpp) against float64 references: grouped-query heads, windows, positions
// continuing from a KV cache, one token at a time == all at once.

#include "sse/attention/softmax_attention.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/attention/rope.hpp"
#include "sse/reference/naive_attention.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

struct AttentionShape {
  index_t B, T, HQ, D, L, HKV, DV;
};

/// Random q, k, v of one call, NaN-poisoned o; offsets put the new tokens at the cache's end.
template <class T>
struct AttentionCase {
  AttentionShape s;
  std::vector<T> q, k, v, o;
  std::vector<std::int64_t> offsets;

  AttentionCase(AttentionShape shape, std::uint64_t seed, bool with_offsets)
      : s(shape),
        q(randn<T>(std::size_t(s.B * s.T * s.HQ * s.D), seed)),
        k(randn<T>(std::size_t(s.B * s.L * s.HKV * s.D), seed + 1)),
        v(randn<T>(std::size_t(s.B * s.L * s.HKV * s.DV), seed + 2)),
        o(poisoned<T>(std::size_t(s.B * s.T * s.HQ * s.DV))) {
    if (with_offsets) {
      for (index_t b = 0; b < s.B; ++b) offsets.push_back(s.L - s.T - b % 2);
    }
  }
  SoftmaxAttentionInputs<T> inputs() const {
    SoftmaxAttentionInputs<T> in;
    in.q = {q.data(), {s.B, s.T, s.HQ, s.D}};
    in.k = {k.data(), {s.B, s.L, s.HKV, s.D}};
    in.v = {v.data(), {s.B, s.L, s.HKV, s.DV}};
    if (!offsets.empty()) in.offsets = {offsets.data(), {s.B}};
    return in;
  }
  TensorView<T, 4> output() { return {o.data(), {s.B, s.T, s.HQ, s.DV}}; }
};

template <class T>
class SoftmaxAttentionTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(SoftmaxAttentionTest, Types);

// Grouped-query heads (HQ/HKV = 1, 2, 4), windows (none, 1, 5, wider than the sequence), query
// blocks and key blocks not dividing T, new tokens at the start or the end of a cache.
TYPED_TEST(SoftmaxAttentionTest, MatchesReference) {
  using T = TypeParam;
  const std::vector<AttentionShape> shapes = {
      {1, 1, 1, 8, 1, 1, 8},   {2, 17, 4, 16, 17, 2, 12},   {1, 100, 4, 32, 100, 1, 32},
      {2, 33, 2, 7, 70, 2, 9}, {1, 130, 2, 64, 130, 2, 64}, {3, 1, 4, 16, 90, 4, 16},
  };
  std::uint64_t seed = 1;
  for (const AttentionShape& shape : shapes) {
    for (index_t window : {index_t(0), index_t(1), index_t(5), index_t(1000)}) {
      const bool cached = shape.L > shape.T || shape.B > 1;
      AttentionCase<T> c(shape, seed += 3, cached);
      if (cached && shape.L == shape.T) c.offsets.assign(std::size_t(shape.B), 0);
      SoftmaxAttentionOptions options;
      options.window = window;
      const auto ref = reference::softmax_attention(c.inputs(), options);
      softmax_attention(c.inputs(), c.output(), options);
      EXPECT_LT(rel_error(c.o, ref), tolerance<T>())
          << "B=" << shape.B << " T=" << shape.T << " HQ=" << shape.HQ << " HKV=" << shape.HKV
          << " L=" << shape.L << " window=" << window;
    }
  }
}

// Decoding one token at a time over a growing cache == one call over all the tokens; 1, 2 and
// 3 threads give the same bits.
TEST(SoftmaxAttention, DecodeEqualsPrefillAndThreadsDoNotChangeBits) {
  const AttentionShape shape{2, 70, 4, 16, 70, 2, 16};
  AttentionCase<float> full(shape, 40, false);
  SoftmaxAttentionOptions options;
  options.window = 24;
  softmax_attention(full.inputs(), full.output(), options);
  for (std::size_t threads : {2u, 3u}) {
    ThreadPool pool(threads);
    std::vector<float> o(full.o.size());
    softmax_attention(full.inputs(), TensorView<float, 4>{o.data(), {2, 70, 4, 16}}, options, pool);
    EXPECT_TRUE(same_bits(o, full.o)) << threads << " threads";
  }
  std::vector<float> decoded(full.o.size());
  for (index_t t = 0; t < shape.T; ++t) {
    const std::vector<std::int64_t> offsets = {t, t};
    std::vector<float> q(std::size_t(2 * 4 * 16)), o(q.size());
    for (index_t b = 0; b < 2; ++b) {
      std::copy_n(full.q.data() + (b * shape.T + t) * 64, 64, q.data() + b * 64);
    }
    SoftmaxAttentionInputs<float> in = full.inputs();
    in.q = {q.data(), {2, 1, 4, 16}};
    in.offsets = {offsets.data(), {2}};
    softmax_attention(in, TensorView<float, 4>{o.data(), {2, 1, 4, 16}}, options);
    for (index_t b = 0; b < 2; ++b) {
      std::copy_n(o.data() + b * 64, 64, decoded.data() + (b * shape.T + t) * 64);
    }
  }
  EXPECT_LT(rel_error(decoded, full.o), 1e-6);
}

TEST(SoftmaxAttention, BadInputsAreRejectedWithoutWriting) {
  AttentionCase<float> c({1, 10, 4, 8, 12, 2, 8}, 50, true);
  auto o = c.output();
  const auto before = c.o;
  auto expect_error = [&](const SoftmaxAttentionInputs<float>& in,
                          const SoftmaxAttentionOptions& options, const std::string& expected) {
    const Status status = validate_softmax_attention(in, o, options);
    EXPECT_NE(status.message().find(expected), std::string::npos) << status.message();
    EXPECT_THROW(softmax_attention(in, o, options), sse::invalid_argument);
    EXPECT_TRUE(same_bits(c.o, before)) << expected;
  };
  auto in = c.inputs();
  in.k = {c.k.data(), {1, 12, 3, 8}};
  expect_error(in, {}, "k: expected HKV >= 1 key/value heads dividing HQ = 4");
  in = c.inputs();
  in.v = {c.v.data(), {1, 11, 2, 8}};
  expect_error(in, {}, "v: expected shape [B,L,HKV,DV] = [1,12,2,8], got [1,11,2,8]");
  in = c.inputs();
  c.offsets[0] = 3;
  expect_error(in, {}, "offsets: element [0] = 3 puts the 10 new tokens outside");
  c.offsets[0] = 2;
  SoftmaxAttentionOptions bad_window;
  bad_window.window = -1;
  expect_error(c.inputs(), bad_window, "window: expected 0 (unlimited)");
  in = c.inputs();
  in.q = {};
  expect_error(in, {}, "q: missing");
}

// The rotary embedding against its definition (DESIGN.md section 4b: float32 inverse
// frequencies and a float32 angle, as upstream's fla RotaryEmbedding forms them), with
// positions continuing from an offset; at a million positions the float32 angle visibly
// differs from the exact one, and the rotation follows the float32 one. A head size that is
// odd is rejected.
TEST(Rope, MatchesDefinitionWithOffsets) {
  const index_t B = 2, T = 5, H = 3, D = 8;
  std::vector<float> x = randn<float>(std::size_t(B * T * H * D), 60);
  const std::vector<float> original = x;
  const std::vector<std::int64_t> offsets = {0, 1000000};
  apply_rope(TensorView<float, 4>{x.data(), {B, T, H, D}}, {offsets.data(), {B}}, 10000.0);
  double largest_rounding = 0;
  for (index_t b = 0; b < B; ++b) {
    for (index_t t = 0; t < T; ++t) {
      for (index_t h = 0; h < H; ++h) {
        const std::size_t row = std::size_t(((b * T + t) * H + h) * D);
        for (index_t i = 0; i < D / 2; ++i) {
          const float inv_freq = 1.0f / float(std::pow(10000.0, double(float(2 * i) / float(D))));
          const float position = float(offsets[std::size_t(b)] + t);
          const double angle = double(position * inv_freq);
          const double exact =
              double(offsets[std::size_t(b)] + t) * std::pow(10000.0, -2.0 * i / D);
          largest_rounding = std::max(largest_rounding, std::abs(angle - exact));
          const double x1 = original[row + i], x2 = original[row + i + D / 2];
          EXPECT_NEAR(x[row + i], x1 * std::cos(angle) - x2 * std::sin(angle), 1e-6);
          EXPECT_NEAR(x[row + i + D / 2], x2 * std::cos(angle) + x1 * std::sin(angle), 1e-6);
        }
      }
    }
  }
  EXPECT_GT(largest_rounding, 1e-3);  // upstream's float32 angle, not the exact one
  std::vector<float> odd(std::size_t(B * T * H * 7));
  EXPECT_THROW(apply_rope(TensorView<float, 4>{odd.data(), {B, T, H, 7}}, {}, 10000.0),
               sse::invalid_argument);
}

}  // namespace
}  // namespace sse::test
