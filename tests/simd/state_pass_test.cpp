// One-pass state updates (simd/state_pass.hpp) against float64 loops, for V straddling the
// strip width, one batch and the scalar tail, and K around the 16-row block; outputs poisoned.

#include "sse/simd/state_pass.hpp"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sse/config.hpp"

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

template <class T>
class StatePassTest : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(StatePassTest, Types);

constexpr index_t kRows[] = {1, 5, 16, 17, 40};
constexpr index_t kColumns[] = {1, 3, 4, 8, 9, 31, 32, 33, 64, 70, 129};

TYPED_TEST(StatePassTest, MatchFloat64Loops) {
  using T = TypeParam;
  const default_arch arch{};
  const double tol = sizeof(T) == 4 ? 1e-5 : 1e-13;
  std::uint64_t seed = 1;
  for (index_t K : kRows) {
    for (index_t V : kColumns) {
      SCOPED_TRACE("K=" + std::to_string(K) + " V=" + std::to_string(V));
      const auto S0 = randn<T>(std::size_t(K * V), ++seed);
      const auto k = randn<T>(std::size_t(K), ++seed), q = randn<T>(std::size_t(K), ++seed);
      const auto u = randn<T>(std::size_t(V), ++seed);
      const auto decay = uniform<T>(std::size_t(K), ++seed, 0.5, 1.0);
      const T beta = T(0.7), scalar_decay = T(0.9);

      // GLA: S[d] <- decay_d S[d] + k_d u, o = q S.
      std::vector<double> S_ref(S0.begin(), S0.end()), o_ref(std::size_t(V), 0.0);
      for (index_t d = 0; d < K; ++d) {
        for (index_t j = 0; j < V; ++j) {
          double& s = S_ref[std::size_t(d * V + j)];
          s = double(decay[std::size_t(d)]) * s + double(k[std::size_t(d)]) * u[std::size_t(j)];
          o_ref[std::size_t(j)] += double(q[std::size_t(d)]) * s;
        }
      }
      auto S = S0;
      auto o = poisoned<T>(std::size_t(V));
      simd::update_read(arch, decay.data(), 1, k.data(), u.data(), q.data(),
                        StateView<T>{S.data(), K, V}, o.data());
      EXPECT_LT(rel_error(S, S_ref), tol);
      EXPECT_LT(rel_error(o, o_ref), tol);

      // out = k S.
      std::vector<double> ks_ref(std::size_t(V), 0.0);
      for (index_t d = 0; d < K; ++d) {
        for (index_t j = 0; j < V; ++j) {
          ks_ref[std::size_t(j)] += double(k[std::size_t(d)]) * S0[std::size_t(d * V + j)];
        }
      }
      auto ks = poisoned<T>(std::size_t(V));
      simd::vector_matrix(arch, k.data(), S0.data(), K, V, ks.data());
      EXPECT_LT(rel_error(ks, ks_ref), tol);

      // Delta rule: u' = beta (v - decay k S), S <- decay S + k^T u', o = q S.
      std::vector<double> D_ref(S0.begin(), S0.end()), od_ref(std::size_t(V), 0.0);
      for (index_t j = 0; j < V; ++j) {
        const double delta =
            beta * (double(u[std::size_t(j)]) - scalar_decay * ks_ref[std::size_t(j)]);
        for (index_t d = 0; d < K; ++d) {
          double& s = D_ref[std::size_t(d * V + j)];
          s = scalar_decay * s + double(k[std::size_t(d)]) * delta;
          od_ref[std::size_t(j)] += double(q[std::size_t(d)]) * s;
        }
      }
      S = S0;
      o = poisoned<T>(std::size_t(V));
      simd::delta_update_read(arch, scalar_decay, beta, k.data(), u.data(), q.data(),
                              StateView<T>{S.data(), K, V}, o.data());
      EXPECT_LT(rel_error(S, D_ref), tol);
      EXPECT_LT(rel_error(o, od_ref), tol);
    }
  }
}

// Several tokens in one pass give the bits of one pass per token (the speculative verify and
// the recurrent kernel rely on it), for GLA's per-row decay and the delta rule.
TYPED_TEST(StatePassTest, TokensInOnePassEqualOnePassEach) {
  using T = TypeParam;
  const default_arch arch{};
  std::uint64_t seed = 50;
  constexpr std::size_t kTokens = 5;
  for (index_t K : kRows) {
    for (index_t V : kColumns) {
      SCOPED_TRACE("K=" + std::to_string(K) + " V=" + std::to_string(V));
      const auto S0 = randn<T>(std::size_t(K * V), ++seed);
      const auto k = randn<T>(kTokens * std::size_t(K), ++seed);
      const auto q = randn<T>(kTokens * std::size_t(K), ++seed);
      const auto u = randn<T>(kTokens * std::size_t(V), ++seed);
      const auto decay = uniform<T>(kTokens * std::size_t(K), ++seed, 0.5, 1.0);
      const auto beta = uniform<T>(kTokens, ++seed, 0.0, 1.0);
      for (bool delta : {false, true}) {
        auto S_one = S0, S_all = S0;
        auto o_one = poisoned<T>(kTokens * std::size_t(V)), o_all = o_one;
        simd::PassToken<T> tokens[kTokens];
        for (std::size_t i = 0; i < kTokens; ++i) {
          const simd::PassToken<T> x{
              decay.data() + i * std::size_t(K), beta[i],
              k.data() + i * std::size_t(K),     u.data() + i * std::size_t(V),
              q.data() + i * std::size_t(K),     o_one.data() + i * std::size_t(V)};
          tokens[i] = x;
          tokens[i].o = o_all.data() + i * std::size_t(V);
          if (delta) {
            simd::delta_update_read(arch, &x, 1, StateView<T>{S_one.data(), K, V});
          } else {
            simd::update_read(arch, &x, 1, 1, StateView<T>{S_one.data(), K, V});
          }
        }
        if (delta) {
          simd::delta_update_read(arch, tokens, kTokens, StateView<T>{S_all.data(), K, V});
        } else {
          simd::update_read(arch, tokens, kTokens, 1, StateView<T>{S_all.data(), K, V});
        }
        EXPECT_TRUE(same_bits(S_all, S_one)) << (delta ? "delta" : "gla");
        EXPECT_TRUE(same_bits(o_all, o_one)) << (delta ? "delta" : "gla");
        EXPECT_LT(rel_error(o_all, std::vector<double>(o_all.size(), 0.0)), 1e300);  // all written
      }
    }
  }
}

}  // namespace
}  // namespace sse::test
