// The router (router/softmax.hpp, router/top_k.hpp, router/router.hpp) against a plain float64
// softmax and a full sort in the spec's order, on random logits with ties and -inf.

#include "sse/router/router.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "support/compare.hpp"
#include "support/random.hpp"

namespace sse::test {
namespace {

const float kNegInf = -std::numeric_limits<float>::infinity();

struct Routed {
  std::vector<float> p;
  std::vector<std::int32_t> writers, readers;
};

Routed run_route(const std::vector<float>& eta, index_t B, index_t T, index_t N, index_t kw,
                 index_t kr) {
  Routed r{poisoned<float>(std::size_t(B * T * N)), std::vector<std::int32_t>(B * T * kw, -7),
           std::vector<std::int32_t>(B * T * kr, -7)};
  route({eta.data(), {B, T, N}}, kw, kr,
        {{r.p.data(), {B, T, N}}, {r.writers.data(), {B, T, kw}}, {r.readers.data(), {B, T, kr}}});
  return r;
}

TEST(Router, SoftmaxMatchesFloat64) {
  for (index_t N : {1, 2, 3, 4, 8, 17}) {
    auto eta = randn<float>(std::size_t(5 * N), 10 + N, 3.0);
    eta[0] = kNegInf;  // probability 0
    if (N == 1) eta[0] = 0.5f;
    std::vector<float> p(eta.size());
    std::vector<double> ref(eta.size());
    for (index_t t = 0; t < 5; ++t) {
      softmax_row(eta.data() + t * N, p.data() + t * N, std::size_t(N));
      double max = -INFINITY, sum = 0;
      for (index_t n = 0; n < N; ++n) max = std::max(max, double(eta[t * N + n]));
      for (index_t n = 0; n < N; ++n) sum += std::exp(double(eta[t * N + n]) - max);
      for (index_t n = 0; n < N; ++n) ref[t * N + n] = std::exp(double(eta[t * N + n]) - max) / sum;
    }
    EXPECT_LT(rel_error(p, ref), 1e-6) << "N=" << N;
    if (N > 1) {
      EXPECT_EQ(p[0], 0.0f);
    }
  }
}

// top_k_row equals the first k of a full sort by (value desc, index asc), with many ties.
TEST(Router, TopKMatchesSortInTheSpecOrder) {
  for (std::size_t n : {1u, 2u, 3u, 5u, 8u, 13u}) {
    for (std::uint64_t seed = 0; seed < 40; ++seed) {
      auto values = uniform<float>(n, seed * 31 + n, 0.0, 1.0);
      for (float& v : values) v = std::round(v * 3) / 3;  // few distinct values: ties
      std::vector<std::int32_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](std::int32_t a, std::int32_t b) { return values[a] > values[b]; });
      for (std::size_t k = 1; k <= n; ++k) {
        std::vector<std::int32_t> out(k, -1);
        top_k_row(values.data(), n, k, out.data());
        EXPECT_EQ(out, std::vector<std::int32_t>(order.begin(), order.begin() + k))
            << "n=" << n << " k=" << k << " seed=" << seed;
      }
    }
  }
}

TEST(Router, RoutesEveryTokenWithTiesToTheLowerIndex) {
  const index_t B = 2, T = 3, N = 4;
  std::vector<float> eta = {0,       0,       0,       0,   // all tied: 0, 1, 2, 3
                            1,       3,       3,       -1,  // tie between 1 and 2
                            kNegInf, 2,       kNegInf, 2,   // -inf ranks last; tie 1, 3
                            5,       4,       3,       2,   //
                            -1,      -1,      7,       -1,  //
                            kNegInf, kNegInf, kNegInf, 0};  // one finite logit
  const Routed r = run_route(eta, B, T, N, 2, 3);
  EXPECT_EQ(r.writers, (std::vector<std::int32_t>{0, 1, 1, 2, 1, 3, 0, 1, 2, 0, 3, 0}));
  EXPECT_EQ(r.readers,
            (std::vector<std::int32_t>{0, 1, 2, 1, 2, 0, 1, 3, 0, 0, 1, 2, 2, 0, 1, 3, 0, 1}));
  EXPECT_FLOAT_EQ(r.p[0], 0.25f);
  EXPECT_EQ(r.p[8], 0.0f);
  EXPECT_FLOAT_EQ(r.p[9], 0.5f);
  EXPECT_EQ(r.p[23], 1.0f);
  for (float x : r.p) EXPECT_TRUE(std::isfinite(x));
}

TEST(Router, KEqualToNIsTheDenseLimit) {
  const auto eta = randn<float>(3 * 5, 3);
  const Routed r = run_route(eta, 1, 3, 5, 5, 5);
  for (index_t t = 0; t < 3; ++t) {
    std::vector<std::int32_t> w(r.writers.begin() + t * 5, r.writers.begin() + t * 5 + 5);
    std::sort(w.begin(), w.end());
    EXPECT_EQ(w, (std::vector<std::int32_t>{0, 1, 2, 3, 4}));
  }
}

TEST(Router, RejectsBadInputAndWritesNothing) {
  struct Bad {
    std::vector<float> eta;
    index_t kw, kr;
    const char* expected;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const Bad cases[] = {
      {{0, 1, 2, nan, 0, 0}, 1, 1, "eta: element [0,1,0] = nan is not a router logit"},
      {{0, 1, 2, 0, inf, 0}, 1, 1, "eta: element [0,1,1] = inf is not a router logit"},
      {{0, 1, 2, kNegInf, kNegInf, kNegInf}, 1, 1, "eta: token [0,1] has every logit -inf"},
      {{0, 1, 2, 0, 1, 2}, 0, 1, "writers: expected 1 <= k <= N = 3, got 0"},
      {{0, 1, 2, 0, 1, 2}, 1, 4, "readers: expected 1 <= k <= N = 3, got 4"},
  };
  for (const Bad& bad : cases) {
    std::vector<float> p = poisoned<float>(6);
    std::vector<std::int32_t> w(2 * std::max<index_t>(bad.kw, 1), -7),
        r(2 * std::max<index_t>(bad.kr, 1), -7);
    const RoutingView out{
        {p.data(), {1, 2, 3}}, {w.data(), {1, 2, bad.kw}}, {r.data(), {1, 2, bad.kr}}};
    const Status s = validate_route({bad.eta.data(), {1, 2, 3}}, bad.kw, bad.kr, out);
    ASSERT_FALSE(s.ok()) << bad.expected;
    EXPECT_NE(s.message().find(bad.expected), std::string::npos) << s.message();
    EXPECT_THROW(route({bad.eta.data(), {1, 2, 3}}, bad.kw, bad.kr, out), sse::invalid_argument);
    EXPECT_TRUE(same_bits(p, poisoned<float>(6))) << bad.expected;
    for (auto x : w) EXPECT_EQ(x, -7);
    for (auto x : r) EXPECT_EQ(x, -7);
  }
  // Output shapes are checked too.
  std::vector<float> eta(6, 0.0f), p(6);
  std::vector<std::int32_t> w(4), r(2);
  const Status s =
      validate_route({eta.data(), {1, 2, 3}}, 2, 1,
                     {{p.data(), {1, 2, 3}}, {w.data(), {1, 2, 1}}, {r.data(), {1, 2, 1}}});
  EXPECT_EQ(s.message(), "writer_ids: expected shape [B,T,KW] = [1,2,2], got [1,2,1]");
}

}  // namespace
}  // namespace sse::test
