// The rules' chunked forms called directly (GlaRule::chunk, GdnRule::chunk): one chunk of L
// tokens from a random state, o and S_L against the float64 recurrence token by token, for L
// around the 16-token sub-block and the chunk size, both element types, and GLA decays on both
// sides of the factorable-block threshold. Outputs and the scratch are poisoned with NaN.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "sse/config.hpp"
#include "sse/core/workspace.hpp"
#include "sse/reference/naive_rules.hpp"
#include "sse/rules/gdn.hpp"
#include "sse/rules/gla.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

template <class Rule_, class T_>
struct Config {
  using Rule = Rule_;
  using T = T_;
};

template <class C>
class ChunkFormTest : public ::testing::Test {};
using Configs = ::testing::Types<Config<GlaRule, float>, Config<GlaRule, double>,
                                 Config<GdnRule, float>, Config<GdnRule, double>>;
TYPED_TEST_SUITE(ChunkFormTest, Configs);

constexpr index_t kChunk = 64;

/// One chunk of L tokens through Rule::chunk<kChunk> against reference::step, token by token.
template <class Rule, class T>
void check_chunk(index_t L, index_t K, index_t V, double decay_scale, std::uint64_t seed) {
  SCOPED_TRACE("L=" + std::to_string(L) + " K=" + std::to_string(K) + " V=" + std::to_string(V) +
               " decay scale " + std::to_string(decay_scale));
  const index_t G = Rule::kPerKeyDecay ? K : 1;
  const auto q = randn<T>(std::size_t(L * K), seed);
  auto k = randn<T>(std::size_t(L * K), seed + 1, 0.3);
  if (Rule::kHasBeta) clamp_row_norms(k, std::size_t(K), 1.0);  // the delta rule needs |k| <= 1
  const auto v = randn<T>(std::size_t(L * V), seed + 2);
  const auto g = uniform<T>(std::size_t(L * G), seed + 3, -decay_scale, 0.0);
  const auto beta = uniform<T>(std::size_t(L), seed + 4, 0.0, 1.0);
  const auto S0 = randn<T>(std::size_t(K * V), seed + 5);

  // float64: o_t = q_t S_t, token by token.
  reference::State ref{K, V, std::vector<double>(S0.begin(), S0.end())};
  const auto Ks = static_cast<std::size_t>(K), Vs = static_cast<std::size_t>(V);
  std::vector<double> o_ref(static_cast<std::size_t>(L) * Vs), qt(Ks), kt(Ks), vt(Vs), ot(Vs);
  std::vector<double> gt(static_cast<std::size_t>(G));
  for (index_t t = 0; t < L; ++t) {
    for (index_t i = 0; i < K; ++i) qt[i] = q[t * K + i], kt[i] = k[t * K + i];
    for (index_t j = 0; j < V; ++j) vt[j] = v[t * V + j];
    for (index_t i = 0; i < G; ++i) gt[i] = g[t * G + i];
    reference::step(Rule{}, ref, qt, kt, vt, gt, double(beta[t]), ot);
    for (index_t j = 0; j < V; ++j) o_ref[t * V + j] = ot[j];
  }

  using Scratch = typename Rule::template ChunkScratch<T>;
  std::vector<std::byte> buffer(measure_scratch<Scratch>(kChunk, K, V));
  for (std::size_t i = 0; i + sizeof(T) <= buffer.size(); i += sizeof(T)) {
    const T nan = std::numeric_limits<T>::quiet_NaN();
    std::memcpy(buffer.data() + i, &nan, sizeof(T));
  }
  ScratchArena arena(buffer.data(), buffer.size());
  Scratch scratch(arena, kChunk, K, V);
  auto S = S0;
  auto o = poisoned<T>(std::size_t(L * V));
  const ChunkInputs<T> x{L,
                         q.data(),
                         k.data(),
                         {v.data(), V},
                         {g.data(), G},
                         {Rule::kHasBeta ? beta.data() : nullptr, 1},
                         {o.data(), V}};
  Rule::template chunk<kChunk>(default_arch{}, x, StateView<T>{S.data(), K, V}, scratch);
  EXPECT_LT(rel_error(o, o_ref), tolerance<T>() * 10);
  EXPECT_LT(rel_error(S, ref.s), tolerance<T>() * 10);
}

TYPED_TEST(ChunkFormTest, OneChunkMatchesTheFloat64Recurrence) {
  using Rule = typename TypeParam::Rule;
  using T = typename TypeParam::T;
  std::uint64_t seed = 100;
  for (index_t L : {1, 2, 15, 16, 17, 31, 33, 48, 63, 64}) {
    for (const auto& [K, V] :
         {std::pair{index_t(8), index_t(12)}, std::pair{index_t(32), index_t(20)},
          std::pair{index_t(64), index_t(64)}}) {
      // GLA: slow decays keep 16-token blocks factorable (sum of g > -2 per channel), fast
      // ones make every block take exact per-entry exponents; at 8 per token a block's sum
      // passes -88, where exp overflows float if a block is factored anyway.
      for (double decay_scale : {0.05, 1.5, 8.0}) {
        check_chunk<Rule, T>(L, K, V, decay_scale, seed += 10);
      }
    }
  }
}

}  // namespace
}  // namespace sse::test
