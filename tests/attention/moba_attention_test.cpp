// MoBA block-sparse attention (attention/moba_attention.hpp) against the float64 oracle
// (reference/naive_attention.hpp): sequences below and above topk x C, partial last blocks,
// chunk sizes that do and do not divide the 32-query tiles, grouped-query heads, T = 1; the
// same bits on 1 and 2 threads; bad input named. Test data keeps the gap between the last
// chosen and the first unchosen block gate well above float32 noise (DESIGN.md section 4b).

#include "sse/attention/moba_attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/core/parallel.hpp"
#include "sse/reference/naive_attention.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

struct MobaShape {
  index_t B, T, HQ, HKV, D, chunk, topk;
};

struct MobaCase {
  MobaShape s;
  std::vector<float> q, k, v, o;

  MobaCase(MobaShape shape, std::uint64_t seed)
      : s(shape),
        q(randn<float>(std::size_t(s.B * s.T * s.HQ * s.D), seed)),
        k(randn<float>(std::size_t(s.B * s.T * s.HKV * s.D), seed + 1)),
        v(randn<float>(std::size_t(s.B * s.T * s.HKV * s.D), seed + 2)),
        o(poisoned<float>(std::size_t(s.B * s.T * s.HQ * s.D))) {
    // Blocks of distinct mean keys: a per-block offset makes the gates differ by O(1).
    for (index_t b = 0; b < s.B; ++b) {
      for (index_t t = 0; t < s.T; ++t) {
        for (index_t h = 0; h < s.HKV; ++h) {
          for (index_t c = 0; c < s.D; ++c) {
            k[std::size_t(((b * s.T + t) * s.HKV + h) * s.D + c)] +=
                float(std::sin(1.7 * double(t / s.chunk) + 0.9 * double(c) + double(h)));
          }
        }
      }
    }
  }
  SoftmaxAttentionInputs<float> inputs() const {
    SoftmaxAttentionInputs<float> in;
    in.q = {q.data(), {s.B, s.T, s.HQ, s.D}};
    in.k = {k.data(), {s.B, s.T, s.HKV, s.D}};
    in.v = {v.data(), {s.B, s.T, s.HKV, s.D}};
    return in;
  }
  TensorView<float, 4> output() { return {o.data(), {s.B, s.T, s.HQ, s.D}}; }
  MobaOptions options() const {
    MobaOptions options;
    options.chunk_size = s.chunk, options.topk = s.topk;
    return options;
  }

  /// The smallest gap, over every query that must choose, between the last block it chooses
  /// and the first it does not (in double).
  double smallest_gate_gap() const {
    double smallest = 1e300;
    if (s.topk == 1) return smallest;  // only the own block: nothing to choose
    for (index_t b = 0; b < s.B; ++b) {
      for (index_t h = 0; h < s.HQ; ++h) {
        const index_t kv = h / (s.HQ / s.HKV);
        for (index_t t = 0; t < s.T; ++t) {
          const index_t own = t / s.chunk;
          if (own <= s.topk - 1) continue;  // every earlier block: no choice
          std::vector<double> gates;
          for (index_t j = 0; j < own; ++j) {
            double gate = 0;
            const index_t last = std::min(s.T, (j + 1) * s.chunk);
            for (index_t u = j * s.chunk; u < last; ++u) {
              for (index_t c = 0; c < s.D; ++c) {
                gate += double(q[std::size_t(((b * s.T + t) * s.HQ + h) * s.D + c)]) *
                        double(k[std::size_t(((b * s.T + u) * s.HKV + kv) * s.D + c)]);
              }
            }
            gates.push_back(gate / double(last - j * s.chunk));
          }
          std::sort(gates.rbegin(), gates.rend());
          const auto chosen = std::size_t(s.topk - 1);
          smallest = std::min(smallest, gates[chosen - 1] - gates[chosen]);
        }
      }
    }
    return smallest;
  }
};

/// A case whose gates are well separated: the first seed from `seed` on that gives one.
MobaCase separated_case(const MobaShape& shape, std::uint64_t seed) {
  for (;; seed += 11) {
    MobaCase c(shape, seed);
    if (c.smallest_gate_gap() > 1e-3) return c;
  }
}

TEST(MobaAttention, MatchesReference) {
  const std::vector<MobaShape> shapes = {
      {1, 1, 2, 1, 8, 16, 2},     // T = 1
      {2, 30, 2, 2, 8, 16, 2},    // <= topk blocks: dense causal
      {1, 120, 4, 2, 16, 16, 2},  // the upstream sample's MoBA: 8 blocks, last partial
      {2, 150, 4, 1, 16, 40, 3},  // C not a multiple of the tile, partial last block
      {1, 200, 2, 2, 32, 70, 1},  // only the own block
      {1, 260, 4, 4, 8, 32, 4},   // C = the tile
      {1, 333, 2, 1, 16, 100, 2},
      {1, 1300, 2, 1, 8, 600, 2},  // blocks of two tiles of queries, the last one partial
  };
  std::uint64_t seed = 10;
  for (const MobaShape& shape : shapes) {
    MobaCase c = separated_case(shape, seed += 5);
    moba_attention(c.inputs(), c.output(), c.options());
    const std::vector<double> ref = reference::moba_attention(c.inputs(), shape.chunk, shape.topk);
    EXPECT_LT(rel_error(c.o, ref), 1e-5) << "T=" << shape.T << " C=" << shape.chunk;
  }
}

// MoBA is not dense attention once a query has more earlier blocks than topk - 1 (the test
// would pass for a kernel that ignored the choice otherwise).
TEST(MobaAttention, DiffersFromDenseWhenSparse) {
  MobaCase c = separated_case({1, 120, 2, 2, 16, 16, 2}, 3);
  moba_attention(c.inputs(), c.output(), c.options());
  const std::vector<double> dense = reference::softmax_attention(c.inputs());
  EXPECT_GT(rel_error(c.o, dense), 1e-2);
  // The first topk blocks are dense causal exactly.
  const std::size_t head_rows = std::size_t(32 * 2 * 16);
  EXPECT_LT(rel_error(std::vector<float>(c.o.begin(), c.o.begin() + head_rows),
                      std::vector<double>(dense.begin(), dense.begin() + head_rows)),
            1e-5);
}

TEST(MobaAttention, ThreadsDoNotChangeBits) {
  MobaCase one = separated_case({2, 150, 4, 2, 16, 40, 3}, 21);
  MobaCase two = one;
  SerialExecutor serial;
  ThreadPool pool(2);
  moba_attention(one.inputs(), one.output(), one.options(), serial);
  moba_attention(two.inputs(), two.output(), two.options(), pool);
  EXPECT_TRUE(same_bits(one.o, two.o));
}

TEST(MobaAttention, BadInputIsNamedAndNothingWritten) {
  MobaCase c({1, 40, 2, 1, 8, 16, 2}, 5);
  auto expect_error = [&](const SoftmaxAttentionInputs<float>& in, const MobaOptions& options,
                          const std::string& expected) {
    std::vector<float> before = c.o;
    try {
      moba_attention(in, c.output(), options);
      ADD_FAILURE() << "no error, expected " << expected;
    } catch (const sse::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    EXPECT_TRUE(same_bits(before, c.o));
  };
  MobaOptions bad = c.options();
  bad.chunk_size = 0;
  expect_error(c.inputs(), bad, "chunk_size: must be >= 1");
  bad = c.options();
  bad.topk = 0;
  expect_error(c.inputs(), bad, "topk: must be >= 1");
  SoftmaxAttentionInputs<float> in = c.inputs();
  const std::vector<float> longer(std::size_t(50 * 8));
  in.k = {longer.data(), {1, 50, 1, 8}};
  in.v = {longer.data(), {1, 50, 1, 8}};
  expect_error(in, c.options(), "k: expected the T = 40 positions of the queries, got L = 50");
  const std::vector<std::int64_t> offsets = {0};
  in = c.inputs();
  in.offsets = {offsets.data(), {1}};
  expect_error(in, c.options(), "offsets: MoBA attends a prefill from position 0");
}

}  // namespace
}  // namespace sse::test
